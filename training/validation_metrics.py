"""Per-label metrics of calibrated probabilities on a labeled split, for the card and MLflow."""

from typing import Any

import numpy as np

from evaluation.metrics import label_metrics


def split_metrics(
    probabilities: np.ndarray, y_true: np.ndarray, known: np.ndarray, labels: list[str]
) -> dict[str, Any]:
    """``{label: metrics}`` over rows where the label is known; arrays (n, L)."""
    result: dict[str, Any] = {}
    for column, label in enumerate(labels):
        mask = known[:, column]
        metrics = label_metrics(y_true[mask, column], probabilities[mask, column])
        result[label] = {key: _finite(value) for key, value in metrics.items()}
    return result


def _finite(value: float) -> float | None:
    """JSON has no NaN: an undefined metric is recorded as null."""
    return None if np.isnan(value) else round(float(value), 6)
