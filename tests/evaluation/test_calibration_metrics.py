"""Brier score, expected calibration error and reliability curves on hand-computed cases."""

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from evaluation.calibration_metrics import (
    brier_score,
    expected_calibration_error,
    reliability_curve,
)

# With 2 bins: [0, 0.5) holds 0.1 and 0.3 (mean 0.2, rate 1/2); [0.5, 1] holds 0.6, 0.9 and
# 1.0 (mean 5/6, rate 1).
Y_TRUE = [0, 1, 1, 1, 1]
SCORES = [0.1, 0.3, 0.6, 0.9, 1.0]


def test_brier_score_hand_computed() -> None:
    assert brier_score([1, 0, 1], [0.8, 0.3, 0.5]) == pytest.approx((0.04 + 0.09 + 0.25) / 3)
    assert brier_score([0, 0, 1], [0.0, 0.0, 1.0]) == 0.0
    assert brier_score([1, 0], [0.0, 1.0]) == 1.0


def test_reliability_curve_hand_computed() -> None:
    curve = reliability_curve(Y_TRUE, SCORES, n_bins=2)
    np.testing.assert_allclose(curve.bin_edges, [0.0, 0.5, 1.0])
    np.testing.assert_allclose(curve.mean_score, [0.2, 2.5 / 3])
    np.testing.assert_allclose(curve.observed_rate, [0.5, 1.0])
    np.testing.assert_array_equal(curve.count, [2, 3])


def test_expected_calibration_error_hand_computed() -> None:
    expected = (2 * abs(0.2 - 0.5) + 3 * abs(2.5 / 3 - 1.0)) / 5
    assert expected_calibration_error(Y_TRUE, SCORES, n_bins=2) == pytest.approx(expected)


def test_score_of_one_falls_in_the_last_bin_and_empty_bins_are_nan() -> None:
    curve = reliability_curve([0, 1, 1], [0.05, 0.95, 1.0], n_bins=10)
    np.testing.assert_array_equal(curve.count, [1, 0, 0, 0, 0, 0, 0, 0, 0, 2])
    assert np.isnan(curve.mean_score[1:9]).all()
    assert np.isnan(curve.observed_rate[1:9]).all()
    assert curve.mean_score[9] == pytest.approx(0.975)


def test_perfectly_calibrated_scores_have_zero_ece() -> None:
    assert expected_calibration_error([0, 1, 0, 1], [0.5, 0.5, 0.5, 0.5]) == 0.0
    assert expected_calibration_error([0, 0, 1], [0.0, 0.0, 1.0]) == 0.0


def test_ece_counts_weights() -> None:
    # Weight 3 on the negative at 0.1 shifts the low bin's mean score and rate toward it.
    weights = [3, 1, 1, 1, 1]
    low_bin_mean = (3 * 0.1 + 0.3) / 4
    low_bin_rate = 1 / 4
    expected = (4 * abs(low_bin_mean - low_bin_rate) + 3 * abs(2.5 / 3 - 1.0)) / 7
    result = expected_calibration_error(Y_TRUE, SCORES, n_bins=2, sample_weight=weights)
    assert result == pytest.approx(expected)


def test_empty_input_gives_nan() -> None:
    assert math.isnan(brier_score([], []))
    assert math.isnan(expected_calibration_error([], []))
    assert math.isnan(brier_score([1], [0.5], sample_weight=[0]))


@pytest.mark.parametrize("n_bins", [0, -3, 2.5, True])
def test_invalid_bin_count_is_refused(n_bins: int) -> None:
    with pytest.raises(ValueError, match="n_bins must be a positive integer"):
        expected_calibration_error([1], [0.5], n_bins=n_bins)


def test_scores_outside_the_unit_interval_are_refused() -> None:
    with pytest.raises(ValueError, match=r"scores must lie in \[0, 1\]; found -0.1 at 0"):
        brier_score([1], [-0.1])


@st.composite
def scored_rows(draw: st.DrawFn) -> tuple[list[int], list[float]]:
    n = draw(st.integers(min_value=1, max_value=40))
    y_true = draw(st.lists(st.integers(0, 1), min_size=n, max_size=n))
    scores = draw(st.lists(st.floats(0, 1), min_size=n, max_size=n))
    return y_true, scores


@settings(deadline=None, max_examples=60)
@given(scored_rows(), st.integers(1, 20))
def test_calibration_metrics_stay_in_the_unit_interval(
    rows: tuple[list[int], list[float]], n_bins: int
) -> None:
    y_true, scores = rows
    assert 0.0 <= brier_score(y_true, scores) <= 1.0
    assert 0.0 <= expected_calibration_error(y_true, scores, n_bins=n_bins) <= 1.0
    curve = reliability_curve(y_true, scores, n_bins=n_bins)
    assert curve.count.sum() == len(y_true)
    occupied = curve.count > 0
    lower_edges, upper_edges = curve.bin_edges[:-1], curve.bin_edges[1:]
    assert (curve.mean_score[occupied] >= lower_edges[occupied] - 1e-12).all()
    assert (curve.mean_score[occupied] <= upper_edges[occupied] + 1e-12).all()


def test_brier_agrees_with_scikit_learn() -> None:
    sklearn_metrics = pytest.importorskip("sklearn.metrics")
    rng = np.random.default_rng(3)
    y_true = (rng.random(300) < 0.3).astype(int)
    scores = rng.random(300)
    weights = rng.integers(0, 4, 300)
    assert brier_score(y_true, scores, sample_weight=weights) == pytest.approx(
        sklearn_metrics.brier_score_loss(y_true, scores, sample_weight=weights)
    )
