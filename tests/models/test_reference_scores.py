"""Reference scores: recorded at export, scored again at every load, a drift refused in one line."""

import shutil
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import onnx
import pytest
from onnx import numpy_helper

from data.schema import Listing
from models.bundle import read_card
from models.bundle_binding import file_sha256
from models.errors import BundleError
from models.reference_scores import (
    REFERENCE_LISTINGS,
    REFERENCE_TOLERANCE,
    record_reference_scores,
)
from models.scorer import BundleScorer
from tests.models.bundle_edits import edit_card, refusal


@pytest.fixture
def bundle(demo_bundle: Path, tmp_path: Path) -> Path:
    copy = tmp_path / "bundle"
    shutil.copytree(demo_bundle, copy)
    return copy


def scale_weights(bundle: Path, factor: float) -> None:
    """The graph computing something else under the same card, as another machine's arithmetic
    would: the weights scaled, the card's model hash re-recorded (its fingerprint is kept)."""
    graph = onnx.load(str(bundle / "model.onnx"))
    weights = next(init for init in graph.graph.initializer if init.name == "weights")
    array = numpy_helper.to_array(weights).copy()
    weights.CopyFrom(numpy_helper.from_array(array * np.float32(factor), "weights"))
    onnx.save(graph, str(bundle / "model.onnx"))
    edit_card(bundle, lambda card: card.update(model_sha256=file_sha256(bundle / "model.onnx")))


def test_training_records_what_the_graph_scores_for_the_reference_listings(
    demo_bundle: Path,
) -> None:
    reference = read_card(demo_bundle).reference_scores
    assert reference is not None
    assert reference.listings == list(REFERENCE_LISTINGS)
    assert reference.tolerance == REFERENCE_TOLERANCE
    probabilities, categories = BundleScorer(demo_bundle).calibrated(reference.listings)
    assert np.abs(probabilities - np.asarray(reference.probabilities)).max() < 1e-6
    assert np.abs(categories - np.asarray(reference.categories)).max() < 1e-6
    # The listings span the risks: on every label some score far higher than others.
    assert (probabilities.max(axis=0) - probabilities.min(axis=0) > 0.3).all(), probabilities


def test_a_graph_that_scores_them_differently_here_is_refused_in_one_line(bundle: Path) -> None:
    scale_weights(bundle, 1.5)
    message = refusal(bundle)
    assert "reference listings" in message and f"tolerance {REFERENCE_TOLERANCE:g}" in message
    assert "export the model again on this hardware" in message


def test_a_drift_within_the_tolerance_loads_and_beyond_it_does_not(bundle: Path) -> None:
    def shift(by: float) -> None:
        edit_card(
            bundle,
            lambda card: card["reference_scores"].update(
                probabilities=[
                    [p + by for p in row] for row in card["reference_scores"]["probabilities"]
                ]
            ),
        )

    shift(REFERENCE_TOLERANCE / 2)
    BundleScorer(bundle)
    shift(REFERENCE_TOLERANCE)  # now 1.5x the tolerance away
    assert "reference listings up to 0.0015 away" in refusal(bundle)


def test_a_reference_of_another_shape_is_named(bundle: Path) -> None:
    def one_score_fewer_per_listing(card: dict[str, Any]) -> None:
        for row in card["reference_scores"]["categories"]:
            row.pop()

    edit_card(bundle, one_score_fewer_per_listing)
    assert "records category scores of shape" in refusal(bundle)


@pytest.mark.parametrize(
    ("edit", "problem"),
    [
        (lambda ref: ref["probabilities"][0].pop(), "one row per reference listing"),
        (lambda ref: ref["categories"].pop(), "one row per reference listing"),
        (lambda ref: ref["probabilities"][1].__setitem__(0, None), "valid number"),
        (lambda ref: ref["probabilities"][1].__setitem__(0, 1e400), "finite"),
        (lambda ref: ref.update(tolerance=-1.0), "greater than 0"),
        (lambda ref: ref.update(listings=[]), "at least 1 item"),
    ],
    ids=["ragged", "a-row-short", "null", "infinite", "negative-tolerance", "no-listings"],
)
def test_a_hand_edited_reference_is_an_invalid_card_in_one_line(
    bundle: Path, edit: Callable[[dict[str, Any]], object], problem: str
) -> None:
    edit_card(bundle, lambda card: edit(card["reference_scores"]))
    message = refusal(bundle)
    assert "invalid card: reference_scores" in message and problem in message, message


def test_a_graph_that_gives_nan_is_not_recorded() -> None:
    def nan_scores(listings: list[Listing]) -> tuple[np.ndarray, np.ndarray]:
        probabilities = np.full((len(listings), 3), 0.5)
        probabilities[2, 1] = np.nan
        return probabilities, np.zeros((len(listings), 2))

    with pytest.raises(BundleError, match="NaN or infinity"):
        record_reference_scores(nan_scores)


def test_a_graph_that_gives_nan_here_is_refused_as_such(bundle: Path) -> None:
    scale_weights(bundle, float("nan"))
    assert "as NaN or infinity here" in refusal(bundle)


def test_a_bundle_exported_before_reference_scores_loads(bundle: Path) -> None:
    edit_card(bundle, lambda card: card.pop("reference_scores"))
    assert BundleScorer(bundle).card.reference_scores is None


def test_the_training_run_reads_its_bundle_without_the_check(bundle: Path) -> None:
    scale_weights(bundle, 1.5)
    scorer = BundleScorer(bundle, require_checked=False)
    assert scorer.card.reference_scores is not None
