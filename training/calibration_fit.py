"""Fit calibration maps and thresholds on the held-out calibration split."""

import numpy as np
from sklearn.linear_model import LogisticRegression

from models.calibration import PlattMap
from models.thresholds import LabelThresholds, ThresholdTargets, fit_label_thresholds
from training.errors import TrainingError


def fit_platt(
    logits: np.ndarray, y_true: np.ndarray, sample_weight: np.ndarray | None = None
) -> PlattMap:
    """Platt scaling of one label: ``logits`` (n,), ``y_true`` (n,) in {0, 1}, each row
    weighted by ``sample_weight`` (n,) where given."""
    if len(np.unique(y_true)) < 2:
        raise TrainingError(
            "the calibration split holds a single class for a label: "
            "add data or raise calibration_fraction"
        )
    # A very weak penalty: two parameters need no regularization, only numerical safety.
    fitted = LogisticRegression(C=1e6, max_iter=1000).fit(
        logits.reshape(-1, 1), y_true, sample_weight=sample_weight
    )
    return PlattMap(slope=float(fitted.coef_[0, 0]), intercept=float(fitted.intercept_[0]))


def fit_calibration_and_thresholds(
    logits: np.ndarray,
    y_true: np.ndarray,
    known: np.ndarray,
    *,
    labels: list[str],
    targets: dict[str, ThresholdTargets],
    sample_weight: np.ndarray | None = None,
) -> tuple[dict[str, PlattMap], dict[str, LabelThresholds]]:
    """Per label, on rows where it is known: a Platt map (rows weighted by ``sample_weight``
    (n,) where given, in full), then thresholds on calibrated scores.

    ``logits``, ``y_true`` and ``known`` are (n, L), columns in ``labels`` order.
    """
    maps: dict[str, PlattMap] = {}
    thresholds: dict[str, LabelThresholds] = {}
    for column, label in enumerate(labels):
        mask = known[:, column]
        weights = None if sample_weight is None else sample_weight[mask]
        maps[label] = fit_platt(logits[mask, column], y_true[mask, column], weights)
        if maps[label].slope <= 0:
            raise TrainingError(
                f"{label}: on the calibration split the model's scores do not rise with "
                f"violations (Platt slope {maps[label].slope:.3g}): it learned nothing usable "
                "for this label; train longer or on more data"
            )
        calibrated = maps[label].apply(logits[mask, column])
        thresholds[label] = fit_label_thresholds(
            y_true[mask, column], calibrated, targets=targets[label]
        )
    return maps, thresholds
