"""Ranking metrics on hand-computed cases, invariants, and a cross-check with scikit-learn."""

import math
from collections.abc import Callable

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from evaluation.metrics import (
    LABEL_STATISTICS,
    average_precision,
    label_metrics,
    precision_at_recall,
    precision_recall_curve,
    recall_at_precision,
    roc_auc,
)

# Thresholds of this case, highest first: (precision, recall) = (1, 1/2), (1/2, 1/2),
# (2/3, 1), (1/2, 1).
Y_MIXED = [1, 0, 1, 0]
S_MIXED = [0.9, 0.8, 0.7, 0.1]

# A positive and a negative tied at 0.5: (precision, recall) = (1, 1/3), (1/2, 2/3), (3/5, 1).
Y_TIED = [1, 1, 0, 0, 1]
S_TIED = [0.9, 0.5, 0.5, 0.5, 0.2]


@pytest.mark.parametrize(
    ("y_true", "scores", "expected"),
    [
        (Y_MIXED, S_MIXED, 0.5 * 1 + 0.5 * 2 / 3),
        (Y_TIED, S_TIED, (1 + 1 / 2 + 3 / 5) / 3),
        ([1, 0, 0, 0], [0.5, 0.5, 0.5, 0.5], 0.25),  # all tied: AP is the prevalence
        ([0, 1, 1], [0.1, 0.7, 0.9], 1.0),
        ([1, 1, 0], [0.1, 0.2, 0.9], (1 / 2) * (1 / 2) + (1 / 2) * (2 / 3)),
        ([1], [0.3], 1.0),
    ],
)
def test_average_precision_hand_computed(
    y_true: list[int], scores: list[float], expected: float
) -> None:
    assert average_precision(y_true, scores) == pytest.approx(expected, abs=1e-12)


@pytest.mark.parametrize(
    ("y_true", "scores", "expected"),
    [
        (Y_MIXED, S_MIXED, 3 / 4),
        # Positives 0.9 and 0.5 against negatives 0.5 and 0.1: 2 + (1/2 + 1) of 4 pairs.
        ([1, 1, 0, 0], [0.9, 0.5, 0.5, 0.1], 3.5 / 4),
        # 0.9 beats both negatives, 0.5 ties both, 0.2 loses both: 3 of 6 pairs.
        (Y_TIED, S_TIED, 3 / 6),
        ([1, 0, 1, 0], [0.4, 0.4, 0.4, 0.4], 0.5),
        ([1, 1, 0], [0.1, 0.2, 0.9], 0.0),
        ([0, 1], [0.0, 1.0], 1.0),
    ],
)
def test_roc_auc_hand_computed(y_true: list[int], scores: list[float], expected: float) -> None:
    assert roc_auc(y_true, scores) == pytest.approx(expected, abs=1e-12)


@pytest.mark.parametrize(("y_true", "scores"), [([0, 0, 0], [0.1, 0.5, 0.9]), ([], [])])
def test_metrics_needing_positives_are_nan_without_them(
    y_true: list[int], scores: list[float]
) -> None:
    assert math.isnan(average_precision(y_true, scores))
    assert math.isnan(roc_auc(y_true, scores))
    assert math.isnan(recall_at_precision(y_true, scores, precision=0.9))
    assert math.isnan(precision_at_recall(y_true, scores, recall=0.5))


def test_roc_auc_is_nan_with_only_positives() -> None:
    assert math.isnan(roc_auc([1, 1], [0.2, 0.8]))
    assert average_precision([1, 1], [0.2, 0.8]) == 1.0


@pytest.mark.parametrize(
    ("y_true", "scores", "precision", "expected"),
    [
        (Y_MIXED, S_MIXED, 0.9, 0.5),
        (Y_MIXED, S_MIXED, 0.6, 1.0),
        (Y_MIXED, S_MIXED, 1.0, 0.5),
        (Y_TIED, S_TIED, 0.55, 1.0),
        (Y_TIED, S_TIED, 0.7, 1 / 3),
        ([0, 1], [0.9, 0.1], 0.9, 0.0),  # no threshold is precise enough
        ([1, 0, 1, 0], [0.8, 0.8, 0.3, 0.3], 0.6, 0.0),  # a tie cannot be split
        ([1] * 9 + [0, 0], [0.9] * 10 + [0.1], 0.9, 1.0),  # exactly 9/10 counts
    ],
)
def test_recall_at_precision_hand_computed(
    y_true: list[int], scores: list[float], precision: float, expected: float
) -> None:
    assert recall_at_precision(y_true, scores, precision=precision) == pytest.approx(expected)


@pytest.mark.parametrize(
    ("y_true", "scores", "recall", "expected"),
    [
        (Y_MIXED, S_MIXED, 0.5, 1.0),
        (Y_MIXED, S_MIXED, 0.6, 2 / 3),
        (Y_MIXED, S_MIXED, 1.0, 2 / 3),
        (Y_MIXED, S_MIXED, 0.0, 1.0),
        (Y_TIED, S_TIED, 0.5, 3 / 5),
        ([1, 0, 0, 0], [0.5, 0.5, 0.5, 0.5], 0.1, 0.25),
    ],
)
def test_precision_at_recall_hand_computed(
    y_true: list[int], scores: list[float], recall: float, expected: float
) -> None:
    assert precision_at_recall(y_true, scores, recall=recall) == pytest.approx(expected)


def test_precision_recall_curve_lists_each_distinct_threshold_once() -> None:
    curve = precision_recall_curve(Y_TIED, S_TIED)
    np.testing.assert_array_equal(curve.thresholds, [0.9, 0.5, 0.2])
    np.testing.assert_allclose(curve.precision, [1.0, 0.5, 0.6])
    np.testing.assert_allclose(curve.recall, [1 / 3, 2 / 3, 1.0])


def test_precision_recall_curve_without_positives_has_nan_recall() -> None:
    curve = precision_recall_curve([0, 0], [0.3, 0.6])
    np.testing.assert_array_equal(curve.precision, [0.0, 0.0])
    assert np.isnan(curve.recall).all()


def test_sample_weight_counts_rows_by_hand() -> None:
    # Weight 2 on the top positive: (P, R) = (1, 2/3), (2/3, 2/3), (3/4, 1), (3/5, 1).
    weights = [2, 1, 1, 1]
    assert average_precision(Y_MIXED, S_MIXED, sample_weight=weights) == pytest.approx(
        2 / 3 + (1 / 3) * (3 / 4)
    )
    # Positive pairs won: 2 * (2 negatives) + 1 * (1 negative), over 3 * 2 pairs.
    assert roc_auc(Y_MIXED, S_MIXED, sample_weight=weights) == pytest.approx(5 / 6)


def test_zero_weight_removes_a_row() -> None:
    weights = [1, 0, 1, 1]
    reduced_y, reduced_s = [1, 1, 0], [0.9, 0.7, 0.1]
    assert average_precision(Y_MIXED, S_MIXED, sample_weight=weights) == 1.0
    assert (
        precision_recall_curve(Y_MIXED, S_MIXED, sample_weight=weights).thresholds.tolist()
        == precision_recall_curve(reduced_y, reduced_s).thresholds.tolist()
    )


def test_label_metrics_bundles_every_statistic() -> None:
    result = label_metrics(Y_MIXED, S_MIXED)
    assert list(result) == [*LABEL_STATISTICS, "n", "positives"]
    assert result["average_precision"] == pytest.approx(0.5 + 1 / 3)
    assert result["roc_auc"] == pytest.approx(0.75)
    assert result["recall@p0.90"] == 0.5
    assert result["precision@r0.8"] == pytest.approx(2 / 3)
    assert result["brier"] == pytest.approx((0.01 + 0.64 + 0.09 + 0.01) / 4)
    assert (result["n"], result["positives"]) == (4.0, 2.0)


def test_label_metrics_weighted_counts() -> None:
    result = label_metrics(Y_MIXED, S_MIXED, sample_weight=[2, 1, 0.5, 0])
    assert (result["n"], result["positives"]) == (3.5, 2.5)


@pytest.mark.parametrize(
    ("call", "message"),
    [
        (lambda: average_precision([1, 0], [0.5]), "scores has 1 values but y_true has 2"),
        (lambda: roc_auc([1, 2], [0.5, 0.5]), r"y_true must contain only 0 and 1; found 2"),
        (lambda: roc_auc([1, 0.5], [0.5, 0.5]), "y_true must contain only 0 and 1"),
        (lambda: roc_auc(["1", "0"], [0.5, 0.5]), "y_true must be numeric"),
        (lambda: roc_auc([1, 0], [0.5, 1.2]), r"scores must lie in \[0, 1\]; found 1.2 at 1"),
        (lambda: roc_auc([1, 0], [math.nan, 0.1]), r"scores must lie in \[0, 1\]; found nan"),
        (lambda: roc_auc([[1, 0]], [[0.1, 0.2]]), "y_true must be one-dimensional"),
        (
            lambda: average_precision([1, 0], [0.5, 0.5], sample_weight=[1, -1]),
            "sample_weight must be finite and >= 0",
        ),
        (
            lambda: average_precision([1, 0], [0.5, 0.5], sample_weight=[1]),
            "sample_weight has 1 values",
        ),
        (lambda: recall_at_precision([1], [0.5], precision=1.5), "precision must lie in"),
        (lambda: precision_at_recall([1], [0.5], recall=-0.1), "recall must lie in"),
    ],
)
def test_invalid_inputs_name_the_argument(call: Callable[[], object], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        call()


def test_boolean_labels_are_accepted() -> None:
    assert roc_auc(np.array([True, False]), [0.9, 0.1]) == 1.0


TIE_PRONE_SCORES = st.sampled_from([0.0, 0.1, 0.25, 0.5, 0.6, 0.75, 0.9, 1.0])


@st.composite
def weighted_samples(
    draw: st.DrawFn, score_values: st.SearchStrategy[float] = TIE_PRONE_SCORES | st.floats(0, 1)
) -> tuple[list[int], list[float], list[int]]:
    n = draw(st.integers(min_value=1, max_value=30))
    y_true = draw(st.lists(st.integers(0, 1), min_size=n, max_size=n))
    scores = draw(st.lists(score_values, min_size=n, max_size=n))
    weights = draw(st.lists(st.integers(0, 3), min_size=n, max_size=n))
    return y_true, scores, weights


@settings(deadline=None, max_examples=80)
@given(weighted_samples())
def test_integer_weights_equal_repeated_rows(
    sample: tuple[list[int], list[float], list[int]],
) -> None:
    y_true, scores, weights = sample
    repeated_y = np.repeat(y_true, weights)
    repeated_s = np.repeat(scores, weights)
    for name, statistic in LABEL_STATISTICS.items():
        weighted = statistic(np.array(y_true), np.array(scores), sample_weight=np.array(weights))
        expected = statistic(repeated_y, repeated_s)
        np.testing.assert_allclose(weighted, expected, rtol=1e-12, atol=1e-12, err_msg=name)


# Scores on a 0.001 grid keep their order under 1 - s; tiny floats would collapse into 1.0.
@settings(deadline=None, max_examples=80)
@given(weighted_samples(score_values=st.integers(0, 1000).map(lambda k: k / 1000)))
def test_ranking_metrics_are_probabilities_and_symmetric(
    sample: tuple[list[int], list[float], list[int]],
) -> None:
    y_true, scores, _ = sample
    y, s = np.array(y_true), np.array(scores)
    for value in (average_precision(y, s), roc_auc(y, s)):
        assert math.isnan(value) or 0.0 <= value <= 1.0
    auc = roc_auc(y, s)
    if not math.isnan(auc):
        assert roc_auc(y, 1.0 - s) == pytest.approx(1.0 - auc)
        assert roc_auc(1 - y, s) == pytest.approx(1.0 - auc)
    order = np.argsort(s)[::-1]
    np.testing.assert_allclose(average_precision(y[order], s[order]), average_precision(y, s))


@settings(deadline=None, max_examples=80)
@given(weighted_samples(), st.floats(0, 1), st.floats(0, 1))
def test_operating_points_are_monotone_in_their_target(
    sample: tuple[list[int], list[float], list[int]], first: float, second: float
) -> None:
    y_true, scores, _ = sample
    low, high = sorted((first, second))
    if sum(y_true) == 0:
        return
    assert recall_at_precision(y_true, scores, precision=low) >= recall_at_precision(
        y_true, scores, precision=high
    )
    assert precision_at_recall(y_true, scores, recall=low) >= precision_at_recall(
        y_true, scores, recall=high
    )


def test_agrees_with_scikit_learn() -> None:
    sklearn_metrics = pytest.importorskip("sklearn.metrics")
    rng = np.random.default_rng(7)
    y_true = (rng.random(500) < 0.2).astype(int)
    scores = np.round(np.clip(rng.normal(0.3 + 0.3 * y_true, 0.2), 0, 1), 2)  # many ties
    weights = rng.integers(0, 4, 500)
    for weight in (None, weights):
        assert average_precision(y_true, scores, sample_weight=weight) == pytest.approx(
            sklearn_metrics.average_precision_score(y_true, scores, sample_weight=weight)
        )
        assert roc_auc(y_true, scores, sample_weight=weight) == pytest.approx(
            sklearn_metrics.roc_auc_score(y_true, scores, sample_weight=weight)
        )
