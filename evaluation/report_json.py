"""The JSON form of evaluation results: intervals, routing, slices, comparisons, the model.

JSON has no NaN, so an undefined value (``nan``) is written as null.
"""

from dataclasses import asdict
from typing import Any

from evaluation.bootstrap import Interval
from evaluation.comparison import MetricComparison
from evaluation.figures import finite
from evaluation.routing_simulation import RoutingSummary
from evaluation.slices import SliceResult
from models.bundle import ModelCard


def model_json(card: ModelCard) -> dict[str, Any]:
    """Who the model is: ids, labels, thresholds and the targets they were fitted for."""
    return {
        "model_id": card.model_id,
        "model_name": card.model_name,
        "model_family": card.model_family,
        "created_at": card.created_at.isoformat(),
        "mlflow_run_id": card.mlflow_run_id,
        "labels": list(card.labels),
        "threshold_set_id": card.threshold_set_id,
        "thresholds": {
            label: {"allow": edges.allow, "enforce": edges.enforce}
            for label, edges in card.thresholds.items()
        },
        "threshold_targets": {
            label: targets.model_dump() for label, targets in card.threshold_targets.items()
        },
    }


def interval_json(interval: Interval) -> dict[str, Any]:
    return {
        "estimate": finite(interval.estimate),
        "low": finite(interval.low),
        "high": finite(interval.high),
        "resamples_used": interval.n_resamples_used,
        "resamples_dropped": interval.n_resamples_dropped,
    }


def _optional_interval(interval: Interval | None) -> dict[str, Any] | None:
    return None if interval is None else interval_json(interval)


def routing_json(card: ModelCard, summary: RoutingSummary) -> dict[str, Any]:
    return {
        "threshold_set_id": card.threshold_set_id,
        "n_rows": summary.n_rows,
        "action_shares": {k: interval_json(v) for k, v in summary.action_shares.items()},
        "violations_let_through": interval_json(summary.violations_let_through),
        "wrong_enforcements": interval_json(summary.wrong_enforcements),
        "labels": {
            label: {
                "band_shares": {k: interval_json(v) for k, v in routing.band_shares.items()},
                "violations_let_through": interval_json(routing.violations_let_through),
                "wrong_enforcements": interval_json(routing.wrong_enforcements),
                "targets": card.threshold_targets[label].model_dump()
                if label in card.threshold_targets
                else None,
                "promises": _promises(card, label),
            }
            for label, routing in summary.labels.items()
        },
    }


def _promises(card: ModelCard, label: str) -> dict[str, Any] | None:
    """The card's certificates of the label's two edges (None for uncertified bundles)."""
    edges = card.thresholds.get(label)
    if edges is None or edges.let_through is None or edges.wrong_enforcements is None:
        return None
    return {
        certificate.promise: certificate.model_dump(mode="json")
        for certificate in (edges.let_through, edges.wrong_enforcements)
    }


def slice_json(result: SliceResult) -> dict[str, Any]:
    return {
        "dimension": result.dimension,
        "value": result.value,
        "n_rows": result.n_rows,
        "n_sellers": result.n_sellers,
        "actions": {k: finite(v) for k, v in result.actions.items()},
        "labels": {
            label: {
                "n": item.n,
                "positives": item.positives,
                "status": item.status,
                "average_precision": _optional_interval(item.average_precision),
                "negatives_not_allowed": _optional_interval(item.negatives_not_allowed),
                "negatives_enforced": _optional_interval(item.negatives_enforced),
            }
            for label, item in result.labels.items()
        },
    }


def comparison_json(item: MetricComparison) -> dict[str, Any]:
    return {
        **{key: value for key, value in asdict(item).items() if key != "difference"},
        "value_a": finite(item.value_a),
        "value_b": finite(item.value_b),
        "difference": interval_json(item.difference),
    }
