"""Ranking metrics of one binary label: average precision, ROC AUC, operating points.

Every metric is a pure numpy function of ``y_true`` (n,) in {0, 1} and ``scores`` (n,) in
[0, 1], with an optional non-negative ``sample_weight`` (n,). An integer weight counts a row
that many times, so a bootstrap resample is a weight vector rather than a copied array.

Thresholds are the distinct score values; a row is predicted positive when its score is at
least the threshold, so tied scores always move together. A metric that is undefined on the
data it is given (no positives, a single class, no rows) returns ``nan`` instead of raising.
"""

from collections.abc import Mapping
from dataclasses import dataclass
from types import MappingProxyType
from typing import Protocol

import numpy as np
from numpy.typing import ArrayLike

from evaluation.calibration_metrics import brier_score, expected_calibration_error
from evaluation.inputs import FloatArray, IntArray, scored_labels, unit_interval_target


class Statistic(Protocol):
    """A scalar metric of (y_true (n,), scores (n,)) that honours row weights (n,)."""

    def __call__(
        self, y_true: IntArray, scores: FloatArray, /, *, sample_weight: FloatArray | None = None
    ) -> float: ...


@dataclass(frozen=True, eq=False)
class PrecisionRecallCurve:
    """Precision and recall at each distinct threshold, highest threshold first.

    All three arrays have shape (k,) for k distinct scores. ``recall`` is ``nan`` throughout
    when there are no positives.
    """

    thresholds: FloatArray
    precision: FloatArray
    recall: FloatArray


@dataclass(frozen=True)
class _Counts:
    """Weighted true and false positives at each distinct threshold, highest first; (k,)."""

    thresholds: FloatArray
    true_positives: FloatArray
    false_positives: FloatArray
    positives: float
    negatives: float

    def precision(self) -> FloatArray:
        # Rows of zero weight are dropped before counting, so no denominator is zero.
        result: FloatArray = self.true_positives / (self.true_positives + self.false_positives)
        return result

    def recall(self) -> FloatArray:
        result: FloatArray = self.true_positives / self.positives
        return result


def average_precision(
    y_true: ArrayLike, scores: ArrayLike, *, sample_weight: ArrayLike | None = None
) -> float:
    """Step-wise average precision, sum over thresholds of (R_k - R_{k-1}) * P_k.

    Defined as scikit-learn defines it (no interpolation, R_0 = 0). ``y_true``, ``scores``
    and ``sample_weight`` have shape (n,). Returns ``nan`` when there are no positives.
    """
    return _compute_average_precision(_counts(*scored_labels(y_true, scores, sample_weight)))


def roc_auc(
    y_true: ArrayLike, scores: ArrayLike, *, sample_weight: ArrayLike | None = None
) -> float:
    """Area under the ROC curve: P(score of a positive > score of a negative), ties count 1/2.

    This is the Mann-Whitney statistic divided by (positives * negatives). Inputs have shape
    (n,). Returns ``nan`` unless both classes are present.
    """
    return _compute_roc_auc(_counts(*scored_labels(y_true, scores, sample_weight)))


def recall_at_precision(
    y_true: ArrayLike,
    scores: ArrayLike,
    *,
    precision: float,
    sample_weight: ArrayLike | None = None,
) -> float:
    """The largest recall over thresholds whose precision is at least ``precision``.

    Inputs have shape (n,). Returns 0.0 when no threshold reaches the precision, ``nan`` when
    there are no positives.
    """
    target = unit_interval_target(precision, name="precision")
    counts = _counts(*scored_labels(y_true, scores, sample_weight))
    return _compute_recall_at_precision(counts, target)


def precision_at_recall(
    y_true: ArrayLike,
    scores: ArrayLike,
    *,
    recall: float,
    sample_weight: ArrayLike | None = None,
) -> float:
    """The largest precision over thresholds whose recall is at least ``recall``.

    Inputs have shape (n,). The lowest threshold has recall 1, so a value always exists when
    there are positives; returns ``nan`` when there are none.
    """
    target = unit_interval_target(recall, name="recall")
    counts = _counts(*scored_labels(y_true, scores, sample_weight))
    return _compute_precision_at_recall(counts, target)


def precision_recall_curve(
    y_true: ArrayLike, scores: ArrayLike, *, sample_weight: ArrayLike | None = None
) -> PrecisionRecallCurve:
    """Precision and recall at every distinct threshold, for plotting; inputs (n,)."""
    counts = _counts(*scored_labels(y_true, scores, sample_weight))
    recall = counts.recall() if counts.positives > 0 else np.full(counts.thresholds.size, np.nan)
    return PrecisionRecallCurve(counts.thresholds, counts.precision(), recall)


def _recall_at(precision: float) -> Statistic:
    def statistic(
        y_true: IntArray, scores: FloatArray, /, *, sample_weight: FloatArray | None = None
    ) -> float:
        return recall_at_precision(y_true, scores, precision=precision, sample_weight=sample_weight)

    return statistic


def _precision_at(recall: float) -> Statistic:
    def statistic(
        y_true: IntArray, scores: FloatArray, /, *, sample_weight: FloatArray | None = None
    ) -> float:
        return precision_at_recall(y_true, scores, recall=recall, sample_weight=sample_weight)

    return statistic


LABEL_STATISTICS: Mapping[str, Statistic] = MappingProxyType(
    {
        "average_precision": average_precision,
        "roc_auc": roc_auc,
        "recall@p0.90": _recall_at(0.90),
        "recall@p0.95": _recall_at(0.95),
        "recall@p0.99": _recall_at(0.99),
        "precision@r0.5": _precision_at(0.5),
        "precision@r0.8": _precision_at(0.8),
        "precision@r0.9": _precision_at(0.9),
        "brier": brier_score,
        "ece": expected_calibration_error,
    }
)
"""The statistics :func:`label_metrics` reports, by key; pass to ``bootstrap_many`` for CIs."""


def label_metrics(
    y_true: ArrayLike, scores: ArrayLike, *, sample_weight: ArrayLike | None = None
) -> dict[str, float]:
    """Every :data:`LABEL_STATISTICS` entry plus ``n`` (rows) and ``positives``; inputs (n,).

    With weights, ``n`` and ``positives`` are weighted sums. Undefined metrics are ``nan``.
    """
    labels, probabilities, weights = scored_labels(y_true, scores, sample_weight)
    row_weights = np.ones(labels.shape[0]) if weights is None else weights
    result = {
        key: statistic(labels, probabilities, sample_weight=weights)
        for key, statistic in LABEL_STATISTICS.items()
    }
    result["n"] = float(row_weights.sum())
    result["positives"] = float(row_weights[labels == 1].sum())
    return result


def _counts(y_true: IntArray, scores: FloatArray, sample_weight: FloatArray | None) -> _Counts:
    """Cumulative weighted counts at each distinct score, from the highest score down."""
    if sample_weight is not None:
        kept = sample_weight > 0
        y_true, scores, sample_weight = y_true[kept], scores[kept], sample_weight[kept]
    # Stable sort: input that is already in descending order (the bootstrap pre-sorts it)
    # costs one linear pass.
    order = np.argsort(-scores, kind="stable")
    sorted_scores = scores[order]
    positive = y_true[order].astype(np.float64)
    weight = np.ones_like(positive) if sample_weight is None else sample_weight[order]
    last_of_tie = np.append(np.diff(sorted_scores) != 0, True)[: sorted_scores.size]
    tps = np.cumsum(positive * weight)[last_of_tie]
    fps = np.cumsum((1.0 - positive) * weight)[last_of_tie]
    positives, negatives = (float(tps[-1]), float(fps[-1])) if tps.size else (0.0, 0.0)
    return _Counts(sorted_scores[last_of_tie], tps, fps, positives, negatives)


def _increments(cumulative: FloatArray) -> FloatArray:
    """What each threshold adds, (k,), from cumulative counts (k,); faster than np.diff."""
    steps = np.empty_like(cumulative)
    steps[:1] = cumulative[:1]
    np.subtract(cumulative[1:], cumulative[:-1], out=steps[1:])
    return steps


def _compute_average_precision(counts: _Counts) -> float:
    if counts.positives <= 0:
        return float("nan")
    new_positives = _increments(counts.true_positives)
    return float(new_positives @ counts.precision()) / counts.positives


def _compute_roc_auc(counts: _Counts) -> float:
    if counts.positives <= 0 or counts.negatives <= 0:
        return float("nan")
    tps = counts.true_positives
    # Negatives entering at a threshold beat the positives above it and tie with half of the
    # positives entering with them: previous + new / 2 = (2 * tps - new) / 2.
    pairs_won = float(_increments(counts.false_positives) @ (2.0 * tps - _increments(tps))) / 2.0
    return pairs_won / (counts.positives * counts.negatives)


def _compute_recall_at_precision(counts: _Counts, target: float) -> float:
    if counts.positives <= 0:
        return float("nan")
    reaching = counts.precision() >= target
    return float(counts.recall()[reaching].max()) if reaching.any() else 0.0


def _compute_precision_at_recall(counts: _Counts, target: float) -> float:
    if counts.positives <= 0:
        return float("nan")
    return float(counts.precision()[counts.recall() >= target].max())
