"""The data behind every report figure, as JSON-able dicts (the plots are drawn from these).

Keeping the numbers apart from the drawing means ``report.json`` holds exactly what each image
shows, so a figure can be redrawn or checked without the model.
"""

import math
from typing import Any

import numpy as np

from evaluation.calibration_metrics import reliability_curve
from evaluation.category_metrics import class_scores, confusion_matrix
from evaluation.inputs import FloatArray, IntArray
from evaluation.metrics import average_precision, precision_recall_curve
from evaluation.routing_simulation import TradeoffPoint
from evaluation.scored import ScoredRows
from models.thresholds import LabelThresholds

MAX_CURVE_POINTS = 400
RELIABILITY_BINS = 10
HISTOGRAM_BINS = 20
DIGITS = 6


def pr_curve_figure(y_true: IntArray, scores: FloatArray) -> dict[str, Any]:
    """Precision and recall where recall rises (at most :data:`MAX_CURVE_POINTS`); inputs (n,).

    Between two rises only precision falls, so those points add nothing to the curve's shape.
    """
    curve = precision_recall_curve(y_true, scores)
    keep = _thinned(_recall_rises(curve.recall))
    return {
        "thresholds": _floats(curve.thresholds[keep]),
        "precision": _floats(curve.precision[keep]),
        "recall": _floats(curve.recall[keep]),
        "average_precision": finite(average_precision(y_true, scores)),
        "positives": int(y_true.sum()),
        "n": int(y_true.size),
    }


def reliability_figure(y_true: IntArray, scores: FloatArray) -> dict[str, Any]:
    """Mean score, observed rate and count in equal-width bins; inputs (n,)."""
    curve = reliability_curve(y_true, scores, n_bins=RELIABILITY_BINS)
    return {
        "bin_edges": _floats(curve.bin_edges),
        "mean_score": _floats(curve.mean_score),
        "observed_rate": _floats(curve.observed_rate),
        "count": [int(value) for value in curve.count],
    }


def histogram_figure(
    y_true: IntArray, scores: FloatArray, edges: LabelThresholds | None
) -> dict[str, Any]:
    """Counts of positives and negatives per score bin, with the band edges; inputs (n,)."""
    bins = np.linspace(0.0, 1.0, HISTOGRAM_BINS + 1)
    positives, _ = np.histogram(scores[y_true == 1], bins=bins)
    negatives, _ = np.histogram(scores[y_true == 0], bins=bins)
    return {
        "bin_edges": _floats(bins),
        "positives": [int(value) for value in positives],
        "negatives": [int(value) for value in negatives],
        "allow": None if edges is None else edges.allow,
        "enforce": None if edges is None else edges.enforce,
    }


def confusion_figure(
    scored: ScoredRows, category_label: str | None, categories: list[str]
) -> dict[str, Any] | None:
    """True against predicted category over the rows labelled with ``category_label``.

    None when the model has no category head or the data marks no such row. Rows marked with
    the label but without a category are counted as unknown.
    """
    if category_label is None:
        return None
    rows = [i for i, row in enumerate(scored.rows) if row.labels.value(category_label) == 1]
    predicted = [scored.predicted_category[i] for i in rows]
    if not categories or not rows or any(value is None for value in predicted):
        return None
    truth = [scored.true_category[i] for i in rows]
    classes = categories + sorted({c for c in truth if c is not None} - set(categories))
    matrix = confusion_matrix(truth, [str(value) for value in predicted], classes=classes)
    return {
        "label": category_label,
        "classes": list(matrix.classes),
        "counts": matrix.counts.tolist(),
        "n_unknown": matrix.n_unknown,
        "per_class": {
            name: {
                "precision": finite(s.precision),
                "recall": finite(s.recall),
                "support": s.support,
            }
            for name, s in class_scores(matrix).items()
        },
    }


def tradeoff_figure(
    points: list[TradeoffPoint],
    card_point: dict[str, float],
    certified: list[bool] | None = None,
) -> dict[str, Any]:
    """The what-if sweep, the card's own operating point (same routing, card's edges), and per
    point whether its pair of promises certifies on this data for every label."""
    flags = certified if certified is not None else [None] * len(points)
    return {
        "points": [
            {
                "max_violations_let_through": p.max_violations_let_through,
                "max_wrong_enforcements": p.max_wrong_enforcements,
                "automation": finite(p.automation),
                "violations_let_through": finite(p.violations_let_through),
                "wrong_enforcements": finite(p.wrong_enforcements),
                "certifiable": flag,
            }
            for p, flag in zip(points, flags, strict=True)
        ],
        "card": {key: finite(value) for key, value in card_point.items()},
    }


def finite(value: float | None) -> float | None:
    """A rounded float, or None for an undefined (``nan``) value: JSON has no NaN."""
    if value is None or math.isnan(value):
        return None
    return round(float(value), DIGITS)


def _floats(values: FloatArray) -> list[float | None]:
    return [finite(value) for value in values.tolist()]


def _recall_rises(recall: FloatArray) -> IntArray:
    """Indices (m,) of the first point, each point where recall rises, and the last point."""
    if recall.size == 0:
        return np.arange(0, dtype=np.int64)
    rises = np.flatnonzero(np.diff(recall) > 0) + 1
    return np.unique(np.concatenate([[0], rises, [recall.size - 1]])).astype(np.int64)


def _thinned(indices: IntArray) -> IntArray:
    """At most :data:`MAX_CURVE_POINTS` of ``indices`` (m,), evenly spread, ends included."""
    if indices.size <= MAX_CURVE_POINTS:
        return indices
    spread = np.linspace(0, indices.size - 1, MAX_CURVE_POINTS).round().astype(np.int64)
    return indices[np.unique(spread)]
