"""Two models on the same labeled rows: each metric's difference with a paired bootstrap interval.

Both models are scored on the same seller-cluster resamples, so the interval of A - B reflects
the difference between the models rather than the noise of each; an interval that excludes 0
says the difference is unlikely to be resampling noise.
"""

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from evaluation.bootstrap import Interval, paired_bootstrap_difference
from evaluation.errors import EvaluationError
from evaluation.metrics import LABEL_STATISTICS
from evaluation.scored import ScoredRows

COMPARED_METRICS = ("average_precision", "recall@p0.95")


@dataclass(frozen=True)
class MetricComparison:
    """One metric of one label: model A's value, model B's and the interval of A - B."""

    label: str
    metric: str
    n: int
    positives: int
    value_a: float
    value_b: float
    difference: Interval


def common_labels(first: ScoredRows, second: ScoredRows) -> tuple[str, ...]:
    """Labels both models have and the data carries, in model A's order."""
    return tuple(label for label in first.evaluated_labels() if label in second.labels)


def compare_models(
    first: ScoredRows,
    second: ScoredRows,
    *,
    metrics: Sequence[str] = COMPARED_METRICS,
    n_resamples: int = 1000,
    confidence: float = 0.95,
    seed: int = 0,
) -> list[MetricComparison]:
    """Paired differences (A - B) of ``metrics`` (keys of ``LABEL_STATISTICS``) per common label.

    Raises :class:`EvaluationError` when the two were not scored on the same rows or share no
    label the data carries.
    """
    _check_same_rows(first, second)
    unknown = [name for name in metrics if name not in LABEL_STATISTICS]
    if unknown:
        raise EvaluationError(
            f"unknown metrics {unknown}; expected some of {list(LABEL_STATISTICS)}"
        )
    labels = common_labels(first, second)
    if not labels:
        raise EvaluationError(
            f"the models share no label the data carries (A: {list(first.labels)}, "
            f"B: {list(second.labels)})"
        )
    return [
        _compare(first, second, label, metric, n_resamples, confidence, seed)
        for label in labels
        for metric in metrics
    ]


def _check_same_rows(first: ScoredRows, second: ScoredRows) -> None:
    ids_a = [row.listing.listing_id for row in first.rows]
    ids_b = [row.listing.listing_id for row in second.rows]
    if ids_a != ids_b:
        raise EvaluationError("the two models were not scored on the same rows in the same order")


def _compare(
    first: ScoredRows,
    second: ScoredRows,
    label: str,
    metric: str,
    n_resamples: int,
    confidence: float,
    seed: int,
) -> MetricComparison:
    data_a = first.label_data(label)
    scores_b = second.label_data(label).scores
    statistic = LABEL_STATISTICS[metric]
    difference = paired_bootstrap_difference(
        statistic,
        data_a.y_true,
        data_a.scores,
        scores_b,
        groups=data_a.groups,
        n_resamples=n_resamples,
        confidence=confidence,
        seed=seed,
    )
    return MetricComparison(
        label=label,
        metric=metric,
        n=int(data_a.y_true.size),
        positives=data_a.positives,
        value_a=statistic(data_a.y_true, data_a.scores),
        value_b=statistic(data_a.y_true, np.asarray(scores_b)),
        difference=difference,
    )
