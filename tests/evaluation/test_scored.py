"""Scores aligned with labels: unknown labels masked, seller clusters, refused inputs."""

import numpy as np
import pytest

from data.schema import LabeledListing, Labels, Listing
from evaluation.errors import EvaluationError
from evaluation.scored import score_rows, scored_from_arrays
from tests.evaluation.factories import labeled_row


def test_unknown_labels_are_masked_and_sellers_are_the_clusters() -> None:
    rows = [
        labeled_row(0, fraud=1, seller="a"),
        LabeledListing(
            listing=Listing(listing_id="x", title="t"), labels=Labels(values={"fraud": 0})
        ),
    ]
    scored = scored_from_arrays(rows, ["fraud", "regulated"], np.full((2, 2), 0.5), [None, None])
    assert scored.known.tolist() == [[True, False], [True, False]]
    assert scored.y_true.tolist() == [[1, 0], [0, 0]]
    assert scored.evaluated_labels() == ("fraud",)
    assert scored.groups.tolist() == ["seller:a", "listing:x"]
    data = scored.label_data("fraud", np.array([False, True]))
    assert (data.y_true.tolist(), data.scores.tolist(), data.positives) == ([0], [0.5], 0)


def test_scores_of_the_wrong_shape_are_refused() -> None:
    with pytest.raises(EvaluationError, match="do not match"):
        scored_from_arrays([labeled_row(0, fraud=1)], ["fraud"], np.zeros((1, 2)), [None])


def test_no_rows_is_refused() -> None:
    with pytest.raises(EvaluationError, match="no rows"):
        score_rows(object(), [])  # type: ignore[arg-type]
