"""Calibration of probability scores: Brier score, expected calibration error, reliability.

Bins are equal-width on [0, 1]: a score s falls in bin ``floor(s * n_bins)``, and a score of
exactly 1.0 falls in the last bin. Inputs follow :mod:`evaluation.metrics`: ``y_true`` (n,) in
{0, 1}, ``scores`` (n,) in [0, 1], optional ``sample_weight`` (n,) >= 0; with no rows (or no
weight) every result is ``nan``.
"""

from dataclasses import dataclass

import numpy as np
from numpy.typing import ArrayLike

from evaluation.inputs import FloatArray, IntArray, scored_labels

DEFAULT_BINS = 15


@dataclass(frozen=True, eq=False)
class ReliabilityCurve:
    """Per-bin calibration, for reliability diagrams.

    ``bin_edges`` has shape (n_bins + 1,); the others (n_bins,). ``count`` is the (weighted)
    number of rows in a bin; ``mean_score`` and ``observed_rate`` are ``nan`` in empty bins.
    """

    bin_edges: FloatArray
    mean_score: FloatArray
    observed_rate: FloatArray
    count: FloatArray


def brier_score(
    y_true: ArrayLike, scores: ArrayLike, *, sample_weight: ArrayLike | None = None
) -> float:
    """Weighted mean of (score - label)^2 over rows; inputs (n,). ``nan`` with no rows."""
    labels, probabilities, weights = scored_labels(y_true, scores, sample_weight)
    return _compute_brier(labels, probabilities, _row_weights(labels, weights))


def reliability_curve(
    y_true: ArrayLike,
    scores: ArrayLike,
    *,
    n_bins: int = DEFAULT_BINS,
    sample_weight: ArrayLike | None = None,
) -> ReliabilityCurve:
    """Mean score, observed positive rate and count in each of ``n_bins`` bins; inputs (n,)."""
    _check_bins(n_bins)
    labels, probabilities, weights = scored_labels(y_true, scores, sample_weight)
    return _compute_reliability(labels, probabilities, _row_weights(labels, weights), n_bins)


def expected_calibration_error(
    y_true: ArrayLike,
    scores: ArrayLike,
    *,
    n_bins: int = DEFAULT_BINS,
    sample_weight: ArrayLike | None = None,
) -> float:
    """Sum over bins of (bin count / total) * |mean score - observed rate|; inputs (n,)."""
    _check_bins(n_bins)
    labels, probabilities, weights = scored_labels(y_true, scores, sample_weight)
    curve = _compute_reliability(labels, probabilities, _row_weights(labels, weights), n_bins)
    return _compute_ece(curve)


def _check_bins(n_bins: int) -> None:
    if isinstance(n_bins, bool) or not isinstance(n_bins, int) or n_bins < 1:
        raise ValueError(f"n_bins must be a positive integer, got {n_bins!r}")


def _row_weights(labels: IntArray, weights: FloatArray | None) -> FloatArray:
    return np.ones(labels.shape[0]) if weights is None else weights


def _compute_brier(labels: IntArray, scores: FloatArray, weights: FloatArray) -> float:
    total = weights.sum()
    if total <= 0:
        return float("nan")
    return float(np.sum(weights * (scores - labels) ** 2) / total)


def _compute_reliability(
    labels: IntArray, scores: FloatArray, weights: FloatArray, n_bins: int
) -> ReliabilityCurve:
    bins = np.minimum((scores * n_bins).astype(np.int64), n_bins - 1)
    count = _bin_sums(bins, weights, n_bins)
    score_sum = _bin_sums(bins, weights * scores, n_bins)
    positive_sum = _bin_sums(bins, weights * labels, n_bins)
    occupied = count > 0
    mean_score = np.full(n_bins, np.nan)
    observed_rate = np.full(n_bins, np.nan)
    mean_score[occupied] = score_sum[occupied] / count[occupied]
    observed_rate[occupied] = positive_sum[occupied] / count[occupied]
    edges = np.linspace(0.0, 1.0, n_bins + 1)
    return ReliabilityCurve(edges, mean_score, observed_rate, count)


def _bin_sums(bins: IntArray, values: FloatArray, n_bins: int) -> FloatArray:
    # np.bincount with weights returns float64; its stubs say intp.
    return np.bincount(bins, weights=values, minlength=n_bins).astype(np.float64)


def _compute_ece(curve: ReliabilityCurve) -> float:
    total = curve.count.sum()
    if total <= 0:
        return float("nan")
    occupied = curve.count > 0
    gaps = np.abs(curve.mean_score[occupied] - curve.observed_rate[occupied])
    return float(np.sum(curve.count[occupied] * gaps) / total)
