"""Percentile bootstrap confidence intervals for metrics, row-wise or clustered by group.

A resample is a vector of integer row weights (how often each row was drawn), which every
:class:`evaluation.metrics.Statistic` accepts as ``sample_weight``; no resampled copies of the
data are built. With ``groups`` (for example seller ids) whole groups are drawn with
replacement, because listings of one seller are not independent and a row bootstrap would give
intervals that are too narrow.

Resamples on which a statistic is ``nan`` (for example no positive drawn, for average
precision) are dropped and counted in the returned :class:`Interval`.
"""

from collections.abc import Callable, Hashable, Mapping, Sequence
from dataclasses import dataclass

import numpy as np
from numpy.typing import ArrayLike

from evaluation.inputs import FloatArray, IntArray, probability_scores, scored_labels
from evaluation.metrics import Statistic

Groups = ArrayLike | Sequence[Hashable]


@dataclass(frozen=True)
class Interval:
    """A point estimate and its percentile bootstrap interval at ``confidence``.

    ``low`` and ``high`` are ``nan`` when no resample gave a defined value.
    """

    estimate: float
    low: float
    high: float
    n_resamples_used: int
    n_resamples_dropped: int
    confidence: float


@dataclass(frozen=True)
class _Plan:
    """How to draw resamples: the cluster code of each row (n,), aligned with the data."""

    codes: IntArray
    n_groups: int
    n_resamples: int
    confidence: float
    seed: int


def bootstrap_ci(
    statistic: Statistic,
    y_true: ArrayLike,
    scores: ArrayLike,
    *,
    groups: Groups | None = None,
    n_resamples: int = 1000,
    confidence: float = 0.95,
    seed: int = 0,
) -> Interval:
    """Percentile bootstrap interval of ``statistic(y_true, scores)``; arrays of shape (n,).

    ``groups`` (n,) names the cluster of each row; clusters are then resampled instead of rows.
    """
    intervals = bootstrap_many(
        {"statistic": statistic},
        y_true,
        scores,
        groups=groups,
        n_resamples=n_resamples,
        confidence=confidence,
        seed=seed,
    )
    return intervals["statistic"]


def bootstrap_many(
    statistics: Mapping[str, Statistic],
    y_true: ArrayLike,
    scores: ArrayLike,
    *,
    groups: Groups | None = None,
    n_resamples: int = 1000,
    confidence: float = 0.95,
    seed: int = 0,
) -> dict[str, Interval]:
    """Intervals for several statistics, all computed on the same resamples; arrays (n,).

    Returns one :class:`Interval` per key of ``statistics``; each drops its own ``nan``
    resamples.
    """
    labels, probabilities, _ = scored_labels(y_true, scores, None)
    plan = _plan(labels.shape[0], groups, n_resamples, confidence, seed)
    functions = list(statistics.values())
    estimates = np.array([f(labels, probabilities) for f in functions])
    sorted_labels, sorted_scores, order = _descending(labels, probabilities)

    def resample(weights: FloatArray) -> FloatArray:
        sorted_weights = weights[order]
        return np.array(
            [f(sorted_labels, sorted_scores, sample_weight=sorted_weights) for f in functions]
        )

    return dict(zip(statistics, _compute_intervals(estimates, resample, plan), strict=True))


def paired_bootstrap_difference(
    statistic: Statistic,
    y_true: ArrayLike,
    scores_a: ArrayLike,
    scores_b: ArrayLike,
    *,
    groups: Groups | None = None,
    n_resamples: int = 1000,
    confidence: float = 0.95,
    seed: int = 0,
) -> Interval:
    """Interval of ``statistic(y, scores_a) - statistic(y, scores_b)``; arrays of shape (n,).

    Both models are scored on the same resamples, so the interval reflects the difference
    between them rather than the noise of each. An interval excluding 0 says the difference
    is unlikely to be resampling noise.
    """
    labels, first, _ = scored_labels(y_true, scores_a, None)
    second = probability_scores(scores_b, n=labels.shape[0], name="scores_b")
    plan = _plan(labels.shape[0], groups, n_resamples, confidence, seed)

    labels_a, sorted_a, order_a = _descending(labels, first)
    labels_b, sorted_b, order_b = _descending(labels, second)

    def difference(weights: FloatArray) -> FloatArray:
        value_a = statistic(labels_a, sorted_a, sample_weight=weights[order_a])
        return np.array([value_a - statistic(labels_b, sorted_b, sample_weight=weights[order_b])])

    estimate = statistic(labels, first) - statistic(labels, second)
    return _compute_intervals(np.array([estimate]), difference, plan)[0]


def _descending(labels: IntArray, scores: FloatArray) -> tuple[IntArray, FloatArray, IntArray]:
    """Labels (n,) and scores (n,) by descending score, and that order (n,).

    The statistics do not depend on row order, and on input already in descending order
    their stable sort finishes in one linear pass.
    """
    order = np.argsort(-scores, kind="stable")
    return labels[order], scores[order], order


def _plan(n: int, groups: Groups | None, n_resamples: int, confidence: float, seed: int) -> _Plan:
    if n == 0:
        raise ValueError("cannot bootstrap an empty sample: y_true has no rows")
    if isinstance(n_resamples, bool) or not isinstance(n_resamples, int) or n_resamples < 1:
        raise ValueError(f"n_resamples must be a positive integer, got {n_resamples!r}")
    if not 0.0 < confidence < 1.0:
        raise ValueError(f"confidence must lie strictly between 0 and 1, got {confidence!r}")
    codes = np.arange(n, dtype=np.int64) if groups is None else _group_codes(groups, n)
    return _Plan(codes, int(codes.max()) + 1, n_resamples, float(confidence), seed)


def _group_codes(groups: Groups, n: int) -> IntArray:
    """Consecutive integer codes (n,) of the group of each row, in order of first appearance."""
    values = np.asarray(groups, dtype=object)
    if values.ndim != 1 or values.shape[0] != n:
        raise ValueError(f"groups must have shape ({n},) like y_true, got {values.shape}")
    seen: dict[object, int] = {}
    codes = np.empty(n, dtype=np.int64)
    for row, value in enumerate(values.tolist()):
        if value is None or value != value:  # value != value only for nan
            raise ValueError(f"groups[{row}] is {value!r}; give every row a group id")
        codes[row] = seen.setdefault(value, len(seen))
    return codes


def _compute_intervals(
    estimates: FloatArray, resample: Callable[[FloatArray], FloatArray], plan: _Plan
) -> list[Interval]:
    """One interval per estimate (k,), from ``resample``'s values (k,) under each weighting."""
    rng = np.random.default_rng(plan.seed)
    resampled = np.empty((plan.n_resamples, estimates.shape[0]))
    for index in range(plan.n_resamples):
        drawn = np.bincount(rng.integers(0, plan.n_groups, plan.n_groups), minlength=plan.n_groups)
        resampled[index] = resample(drawn[plan.codes].astype(np.float64))
    return [
        _percentile_interval(float(estimate), column, plan.confidence)
        for estimate, column in zip(estimates, resampled.T, strict=True)
    ]


def _percentile_interval(estimate: float, values: FloatArray, confidence: float) -> Interval:
    defined = values[~np.isnan(values)]
    dropped = int(values.shape[0] - defined.shape[0])
    if defined.size == 0:
        return Interval(estimate, float("nan"), float("nan"), 0, dropped, confidence)
    tail = (1.0 - confidence) / 2.0
    low, high = np.quantile(defined, [tail, 1.0 - tail])
    return Interval(estimate, float(low), float(high), int(defined.size), dropped, confidence)
