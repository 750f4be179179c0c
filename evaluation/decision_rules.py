"""Confusion counts and the plain rates at fixed decision rules (pure numpy).

Three rules per label: ``p >= 0.5``; *flagged* (``p >= allow``: sent to review or enforced) and
*enforced* (``p >= enforce``), the band edges of the model's card. Ranking metrics say how well
a model orders listings; these say what a rule built on it does.
"""

import math
from typing import Any

import numpy as np

from evaluation.scored import LabelData
from models.thresholds import LabelThresholds

HALF: float = 0.5


def confusion_at(data: LabelData, threshold: float) -> dict[str, Any]:
    """``tp, fp, tn, fn`` of ``p >= threshold`` and accuracy, precision, recall, MCC.

    A rate with an empty denominator is ``None`` (e.g. precision when nothing is predicted).
    """
    predicted = data.scores >= threshold
    actual = data.y_true == 1
    tp = int(np.sum(predicted & actual))
    fp = int(np.sum(predicted & ~actual))
    fn = int(np.sum(~predicted & actual))
    tn = int(np.sum(~predicted & ~actual))
    return {
        "threshold": threshold,
        "tp": tp,
        "fp": fp,
        "tn": tn,
        "fn": fn,
        "accuracy": _ratio(tp + tn, tp + fp + tn + fn),
        "precision": _ratio(tp, tp + fp),
        "recall": _ratio(tp, tp + fn),
        "mcc": _mcc(tp, fp, tn, fn),
    }


def decision_rules(data: LabelData, thresholds: LabelThresholds | None) -> dict[str, Any]:
    """The three rules of one label; a band rule is ``None`` where the card has no such edge."""
    rules: dict[str, Any] = {"p>=0.5": confusion_at(data, HALF)}
    rules["flagged"] = confusion_at(data, thresholds.allow) if thresholds else None
    enforce = thresholds.enforce if thresholds else None
    rules["enforced"] = confusion_at(data, enforce) if enforce is not None else None
    return rules


def _ratio(numerator: int, denominator: int) -> float | None:
    return numerator / denominator if denominator else None


def _mcc(tp: int, fp: int, tn: int, fn: int) -> float | None:
    denominator = math.sqrt(float(tp + fp) * (tp + fn) * (tn + fp) * (tn + fn))
    return (tp * tn - fp * fn) / denominator if denominator else None
