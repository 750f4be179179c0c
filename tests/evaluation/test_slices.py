"""Slices: the flagging rules, standard dimensions and hand-computed slice figures."""

import numpy as np
import pytest

from data.schema import Listing
from evaluation.bootstrap import Interval
from evaluation.metrics import average_precision
from evaluation.slices import (
    FEW_POSITIVES,
    FLAGGED,
    MISSING_VALUE,
    NOT_APPLICABLE,
    OK,
    WHOLE,
    SliceSpec,
    evaluate_slices,
    natural_order,
    negatives_at_or_above,
    price_band,
    slice_status,
    standard_slices,
    text_length_band,
)
from models.thresholds import LabelThresholds
from tests.evaluation.factories import fraud_rows, labeled_row, scored


def interval(estimate: float, low: float, high: float) -> Interval:
    return Interval(estimate, low, high, 100, 0, 0.95)


@pytest.mark.parametrize(
    ("positives", "upper", "whole", "status"),
    [
        (0, 0.2, 0.9, NOT_APPLICABLE),
        (9, 0.2, 0.9, FEW_POSITIVES),  # would be flagged, but too few positives to say
        (10, 0.2, 0.9, FLAGGED),
        (10, 0.9, 0.9, OK),  # upper bound equal to the whole: not below it
        (50, 0.95, 0.9, OK),
    ],
)
def test_flagging_rule(positives: int, upper: float, whole: float, status: str) -> None:
    assert slice_status(positives, interval(upper / 2, 0.0, upper), whole) == status


def test_no_interval_is_not_applicable() -> None:
    assert slice_status(0, None, 0.9) == NOT_APPLICABLE


def slice_of(name: str, n: int, start: int, stop: int) -> SliceSpec:
    mask = np.zeros(n, dtype=bool)
    mask[start:stop] = True
    return SliceSpec("part", name, mask)


def test_slices_flag_a_bad_slice_and_only_show_a_small_one() -> None:
    # 40 rows ranked perfectly, 20 rows ranked upside down, 4 tiny rows; one seller per row.
    truth = [1] * 15 + [0] * 25 + [1] * 10 + [0] * 10 + [1, 1, 0, 0]
    bad_positives = [round(0.01 * k, 2) for k in range(1, 11)]
    bad_negatives = [round(0.8 + 0.01 * k, 2) for k in range(10)]
    scores = [0.9] * 15 + [0.1] * 25 + bad_positives + bad_negatives + [0.05, 0.06, 0.95, 0.96]
    data = scored(fraud_rows(truth), scores, labels=["fraud"])
    parts = [slice_of("good", 64, 0, 40), slice_of("bad", 64, 40, 60), slice_of("tiny", 64, 60, 64)]
    results = evaluate_slices(data, parts, n_resamples=200, seed=1)
    assert [result.value for result in results] == [WHOLE, "good", "bad", "tiny"]
    fraud = {result.value: result.labels["fraud"] for result in results}
    # Ten positives ranked below ten negatives: precision k / (10 + k) at the k-th positive.
    expected_bad = sum(k / (10 + k) for k in range(1, 11)) / 10
    assert fraud["bad"].average_precision is not None
    assert fraud["bad"].average_precision.estimate == pytest.approx(expected_bad)
    assert fraud["bad"].status == FLAGGED
    assert fraud["good"].average_precision is not None
    assert fraud["good"].average_precision.estimate == pytest.approx(1.0)
    assert fraud["good"].status == OK
    assert (fraud["tiny"].positives, fraud["tiny"].status) == (2, FEW_POSITIVES)
    assert fraud[WHOLE].average_precision is not None
    assert fraud[WHOLE].average_precision.estimate == pytest.approx(
        average_precision(truth, scores)
    )


def test_a_slice_without_positives_shows_not_applicable() -> None:
    rows = fraud_rows([1] * 12 + [0] * 8)
    data = scored(rows, np.linspace(0.9, 0.1, 20), labels=["fraud"])
    clean = SliceSpec("part", "clean", np.arange(20) >= 12)
    result = evaluate_slices(data, [clean], n_resamples=20)[1].labels["fraud"]
    assert (result.positives, result.status, result.average_precision) == (0, NOT_APPLICABLE, None)


def test_clean_listing_shares_use_the_band_edges() -> None:
    rows = fraud_rows([1, 0, 0, 0, 0])
    data = scored(rows, [0.9, 0.7, 0.4, 0.2, 0.1], labels=["fraud"])
    edges = {"fraud": LabelThresholds(allow=0.3, enforce=0.6)}
    whole = evaluate_slices(data, [], thresholds=edges, n_resamples=20)[0].labels["fraud"]
    assert whole.negatives_not_allowed is not None and whole.negatives_enforced is not None
    assert whole.negatives_not_allowed.estimate == pytest.approx(2 / 4)
    assert whole.negatives_enforced.estimate == pytest.approx(1 / 4)


def test_negatives_at_or_above_honours_weights_and_needs_negatives() -> None:
    statistic = negatives_at_or_above(0.5)
    y_true, scores = np.array([0, 0, 0, 1]), np.array([0.6, 0.5, 0.1, 0.9])
    assert statistic(y_true, scores) == pytest.approx(2 / 3)
    weights = np.array([3.0, 0.0, 1.0, 5.0])
    assert statistic(y_true, scores, sample_weight=weights) == pytest.approx(3 / 4)
    assert np.isnan(statistic(np.array([1, 1]), np.array([0.2, 0.9])))


def test_unknown_labels_are_skipped_not_counted_as_zero() -> None:
    rows = [labeled_row(0, fraud=1), labeled_row(1, fraud=0), labeled_row(2)]
    data = scored(rows, [[0.9, 0.5, 0.5], [0.1, 0.5, 0.5], [0.8, 0.5, 0.5]])
    whole = evaluate_slices(data, [], n_resamples=10)[0]
    assert list(whole.labels) == ["fraud"]
    assert (whole.labels["fraud"].n, whole.labels["fraud"].positives) == (2, 1)
    only_unlabelled = SliceSpec("part", "third", np.array([False, False, True]))
    assert evaluate_slices(data, [only_unlabelled], n_resamples=10)[1].labels == {}


def test_slices_report_action_shares_and_sellers() -> None:
    rows = fraud_rows([1, 0, 0, 1], sellers=["a", "a", "b", "c"])
    data = scored(rows, [0.9, 0.2, 0.6, 0.8], labels=["fraud"])
    part = SliceSpec("part", "first three", np.array([True, True, True, False]))
    result = evaluate_slices(
        data, [part], actions=["block", "allow", "review", "block"], n_resamples=10
    )[1]
    assert result.actions == pytest.approx({"allow": 1 / 3, "review": 1 / 3, "block": 1 / 3})
    assert (result.n_rows, result.n_sellers) == (3, 2)


@pytest.mark.parametrize(
    ("price", "currency", "band"),
    [(None, "USD", "no price"), (0, "USD", "USD 0-9"), (9.99, "EUR", "EUR 0-9"),
     (10, "USD", "USD 10-99"), (999, "GBP", "GBP 100-999"), (1000, "INR", "INR 1000+")],
)  # fmt: skip
def test_price_band(price: float | None, currency: str, band: str) -> None:
    listing = Listing(listing_id="x", title="t", price=price, currency=currency)
    assert price_band(listing) == band


@pytest.mark.parametrize(
    ("title", "description", "band"),
    [("a" * 29, "", "0-29 chars"), ("a" * 20, "b" * 10, "30-59 chars"),
     ("a" * 119, "", "60-119 chars"), ("a", "b" * 500, "120+ chars")],
)  # fmt: skip
def test_text_length_band(title: str, description: str, band: str) -> None:
    assert text_length_band(Listing(listing_id="x", title=title, description=description)) == band


def test_standard_slices_cover_dimensions_and_slice_columns() -> None:
    rows = [
        labeled_row(0, fraud=1, market="US", slices={"source": "a"}, price=5, category="Toys"),
        labeled_row(1, fraud=0, market="GB", slices={"source": "b"}, price=50),
        labeled_row(2, fraud=0, market="GB", price=50),
    ]
    found = standard_slices(rows)
    names = {(spec.dimension, spec.value): spec.mask.tolist() for spec in found.slices}
    assert names[("market", "GB")] == [False, True, True]
    assert names[("category", "Toys")] == [True, False, False]
    assert names[("category", MISSING_VALUE)] == [False, True, True]
    assert names[("source", MISSING_VALUE)] == [False, False, True]
    assert names[("price band", "USD 0-9")] == [True, False, False]
    # Every row falls in the same text-length band: a single value, so no slices.
    assert not any(dimension == "text length" for dimension, _ in names)


def test_standard_slices_keep_the_largest_values_and_count_the_rest() -> None:
    sizes = {"big": 5, "mid": 3, "small": 1, "tiny": 1}
    rows = [
        labeled_row(i, fraud=0, slices={"shop": name})
        for i, name in enumerate(name for name, size in sizes.items() for _ in range(size))
    ]
    found = standard_slices(rows, max_values=2)
    assert [spec.value for spec in found.slices if spec.dimension == "shop"] == ["big", "mid"]
    assert found.left_out == {"shop": 2}


def test_band_values_sort_by_their_numbers() -> None:
    values = ["USD 1000+", "120+ chars", "USD 10-99", "30-59 chars", "USD 0-9", "0-29 chars"]
    assert sorted(values, key=natural_order) == [
        "0-29 chars", "30-59 chars", "120+ chars", "USD 0-9", "USD 10-99", "USD 1000+",
    ]  # fmt: skip
