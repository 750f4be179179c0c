"""Training end to end on demo data: bundle contents, parity, determinism, slice isolation."""

import random
import shutil
from pathlib import Path

import onnx
import pytest
from onnx import numpy_helper

from data.schema import LabeledListing, Listing
from models.bundle import ModelCard, read_card, write_card
from models.errors import BundleError
from models.scorer import BundleScorer
from models.text_features import FeatureHasher
from training.baseline import HashedLinearModel
from training.config import load_config
from training.errors import ParityError
from training.onnx_export import build_onnx_model, check_parity, save_bound_onnx
from training.pipeline import train_bundle


def save_graph(graph: onnx.ModelProto, card: ModelCard, bundle: Path) -> None:
    """Replace a bundle's graph the way an export does: bound to the card, hash recorded."""
    sha256 = save_bound_onnx(graph, card, bundle / "model.onnx")
    write_card(bundle, card.model_copy(update={"model_sha256": sha256}))


def _train(rows: list[LabeledListing], path: Path, validation: list[LabeledListing]) -> Path:
    train_bundle(
        rows,
        config=load_config(),
        data_fingerprint="x",
        bundle_dir=path,
        validation_rows=validation,
    )
    return path


def test_bundle_card_records_what_serving_and_audit_need(demo_bundle: Path) -> None:
    card = read_card(demo_bundle)
    assert card.labels == ["fraud", "counterfeit", "regulated"]
    assert len(card.regulated_categories) >= 3
    assert card.parity is not None
    assert card.parity.max_abs_probability_diff <= 1e-5
    assert card.parity.rows_checked == 500
    assert card.threshold_set_id.startswith("ts-")
    for label in card.labels:
        edges = card.thresholds[label]
        assert edges.estimate is not None
        assert edges.enforce is None or edges.enforce >= edges.allow
        assert card.metrics["validation"][label]["average_precision"] is not None


def test_onnx_scores_match_the_in_memory_model(demo_bundle: Path, demo_rows: list) -> None:
    scorer = BundleScorer(demo_bundle)
    probabilities = [
        score.probabilities for score in scorer.score([r.listing for r in demo_rows[:50]])
    ]
    assert all(0.0 <= p <= 1.0 for item in probabilities for p in item.values())


def test_perturbed_onnx_initializer_fails_the_parity_check(
    tmp_path: Path, demo_bundle: Path, demo_rows: list, demo_validation_rows: list
) -> None:
    bundle = tmp_path / "bundle"
    shutil.copytree(demo_bundle, bundle)
    card = read_card(bundle)
    model = HashedLinearModel(card.feature_spec).fit(demo_rows)
    assert model.categories_ == card.regulated_categories
    graph = build_onnx_model(model)
    save_graph(graph, card, bundle)
    rows = demo_validation_rows[:200]

    def check() -> None:
        # Read as the training run reads its bundle before checking it: the card copied from
        # demo_bundle carries reference scores of another graph, which apply to checked loads.
        scorer = BundleScorer(bundle, require_checked=False)
        check_parity(model, card.calibration, scorer, rows, split="validation")

    check()
    weights = next(init for init in graph.graph.initializer if init.name == "weights")
    array = numpy_helper.to_array(weights).copy()
    array[array != 0] *= 1.01
    weights.CopyFrom(numpy_helper.from_array(array, "weights"))
    save_graph(graph, card, bundle)
    with pytest.raises(ParityError, match="differs from the scikit-learn model"):
        check()


def test_same_data_and_seed_give_the_same_metrics(
    tmp_path: Path, demo_bundle: Path, demo_rows: list, demo_validation_rows: list
) -> None:
    again = _train(demo_rows, tmp_path / "again", demo_validation_rows)
    first, second = read_card(demo_bundle), read_card(again)
    assert first.metrics == second.metrics
    assert first.thresholds == second.thresholds
    assert (demo_bundle / "model.onnx").read_bytes() == (again / "model.onnx").read_bytes()


def test_permuting_slice_only_columns_leaves_scores_unchanged(
    tmp_path: Path, demo_bundle: Path, demo_rows: list, demo_validation_rows: list
) -> None:
    values = [dict(row.slices) for row in demo_rows]
    assert any(values), "demo rows carry slice-only columns"
    random.Random(7).shuffle(values)
    permuted = [
        LabeledListing(listing=row.listing, labels=row.labels, slices=slices)
        for row, slices in zip(demo_rows, values, strict=True)
    ]
    other = _train(permuted, tmp_path / "permuted", demo_validation_rows)
    listings = [row.listing for row in demo_validation_rows[:100]]
    expected = BundleScorer(demo_bundle).score(listings)
    actual = BundleScorer(other).score(listings)
    for a, b in zip(expected, actual, strict=True):
        assert a.probabilities == b.probabilities


def test_removing_the_top_phrase_lowers_that_labels_score(demo_bundle: Path) -> None:
    scorer = BundleScorer(demo_bundle)
    listing = Listing(listing_id="r-1", title="replica rolex submariner watch aaa quality")
    score = scorer.score([listing])[0]
    top = score.reasons["counterfeit"][0].phrase
    without = listing.model_copy(update={"title": listing.title.replace(top, " ").strip()})
    assert (
        scorer.score([without])[0].probabilities["counterfeit"] < score.probabilities["counterfeit"]
    )


def test_term_groups_only_feed_the_labels_they_name(demo_bundle: Path) -> None:
    card = read_card(demo_bundle)
    assert card.feature_spec.term_groups["counterfeit_terms"].labels == ("counterfeit",)
    graph = onnx.load(str(demo_bundle / "model.onnx"))
    weights = numpy_helper.to_array(
        next(init for init in graph.graph.initializer if init.name == "weights")
    )
    row = weights[FeatureHasher(card.feature_spec).term_group_column("counterfeit_terms")]
    by_label = dict(zip(card.labels, row[: len(card.labels)].tolist(), strict=True))
    assert by_label["fraud"] == 0.0 and by_label["regulated"] == 0.0
    assert by_label["counterfeit"] > 0.0


def test_a_failed_parity_check_leaves_no_loadable_bundle(
    tmp_path: Path, demo_rows: list, demo_validation_rows: list
) -> None:
    # float32 ONNX against float64 scikit-learn differs by ~1e-7: a 1e-12 tolerance must fail.
    config = load_config().model_copy(update={"parity_tolerance": 1e-12})
    bundle = tmp_path / "bundle"
    with pytest.raises(ParityError):
        train_bundle(
            demo_rows[:800],
            config=config,
            data_fingerprint="x",
            bundle_dir=bundle,
            validation_rows=demo_validation_rows[:100],
        )
    assert (bundle / "model.onnx").is_file()
    with pytest.raises(BundleError, match=r"missing card\.json"):
        read_card(bundle)
