"""Joining the original cases with the service's verdicts, and the design weights of fitting."""

import numpy as np
import pytest

from data.schema import LabeledListing, Labels, Listing
from training.config import WeightSettings, load_config
from training.errors import TrainingError
from training.retrain import merge_feedback, weighted_config
from training.row_weights import row_weights


def _row(
    listing_id: str, title: str, labels: dict[str, int | None], **slices: str
) -> LabeledListing:
    return LabeledListing(
        listing=Listing(listing_id=listing_id, title=title, seller_id="s1"),
        labels=Labels(values=labels),
        slices=slices,
    )


def test_the_latest_verdict_wins_and_an_unjudged_label_keeps_the_original() -> None:
    original = [
        _row("a", "mug", {"fraud": 0, "counterfeit": 0}),
        _row("b", "watch", {"fraud": 0, "counterfeit": 1}),
    ]
    feedback = [
        _row("b", "watch v1", {"fraud": 1, "counterfeit": None}, source="review", weight="1.0"),
        _row("b", "watch v2", {"fraud": 0, "counterfeit": None}, source="appeal", weight="1.0"),
        _row("c", "pills", {"fraud": 0, "counterfeit": 0}, source="qa", weight="40.0"),
    ]
    merged, summary = merge_feedback(original, feedback, category_label="regulated")
    by_id = {row.listing.listing_id: row for row in merged}
    assert [row.listing.listing_id for row in merged] == ["a", "b", "c"]
    assert by_id["b"].listing.title == "watch v2", "the content as last judged"
    assert by_id["b"].labels.values == {"fraud": 0, "counterfeit": 1}
    assert by_id["a"].slices["weight"] == "1.0" and by_id["c"].slices["weight"] == "40.0"
    assert summary.labels_changed == 0 and summary.new_listings == 1
    assert summary.by_source == {"appeal": 1, "qa": 1} and summary.max_weight == 40.0


def test_fitting_caps_the_weights_and_calibration_takes_them_in_full() -> None:
    rows = [_row(str(i), "mug", {"fraud": 0}, weight=w) for i, w in enumerate(["1", "40", ""])]
    settings = WeightSettings(column="weight", max_fit_weight=10.0)
    fit = row_weights(rows, settings, capped=True)
    full = row_weights(rows, settings, capped=False)
    assert fit is not None and full is not None
    assert np.array_equal(fit, [1.0, 10.0, 1.0]) and np.array_equal(full, [1.0, 40.0, 1.0])
    assert row_weights(rows, WeightSettings(), capped=True) is None
    bad = [_row("x", "mug", {"fraud": 0}, weight="-2")]
    with pytest.raises(TrainingError, match="listing x: weight column 'weight' holds '-2'"):
        row_weights(bad, settings, capped=True)


def test_retrain_keeps_the_config_and_weights_its_rows() -> None:
    for family in ("hashed-linear", "transformer", "ensemble"):
        config = load_config().model_copy(update={"family": family})
        weighted = weighted_config(config)
        assert weighted.weights.column == "weight" and weighted.family == family
        assert weighted.model_copy(update={"weights": config.weights}) == config


def test_a_heavier_row_pulls_the_fitted_model_toward_its_label(
    demo_rows: list[LabeledListing],
) -> None:
    from training.baseline import HashedLinearModel

    rows = list(demo_rows[:600])
    clean = next(i for i, row in enumerate(rows) if row.labels.value("fraud") == 0)
    values = {**rows[clean].labels.values, "fraud": 1}
    rows[clean] = rows[clean].model_copy(update={"labels": Labels(values=values)})
    column = None
    logits = []
    for weight in (1.0, 10.0):
        weights = np.ones(len(rows))
        weights[clean] = weight
        model = HashedLinearModel(load_config().features).fit(rows, sample_weight=weights)
        column = model.labels_.index("fraud")
        logits.append(model.decision_function(model.matrix([rows[clean]]))[0, column])
    assert logits[1] > logits[0] + 0.5
