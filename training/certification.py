"""Certify each label's band edges on the calibration sellers, from the shipped graph's scores.

The fit split only orders the enforce candidates (:func:`models.certified_thresholds.
enforce_start_index`); the calibration split, which the model was not fitted on, is scored
through the exported ONNX graph (:class:`models.scorer.BundleScorer`), exactly as serving will,
and the edges are certified on those scores. ``--validation`` never takes part.
"""

from collections.abc import Callable

import numpy as np

from data.schema import LabeledListing
from data.splits import group_key
from models.calibration import PlattMap
from models.certified_thresholds import (
    GuaranteeSettings,
    certify_label,
    enforce_start_index,
    unit_codes,
)
from models.scorer import BundleScorer
from models.thresholds import LabelThresholds, ThresholdTargets
from training.errors import TrainingError
from training.label_arrays import label_arrays

SCORING_BATCH = 256


def certify_thresholds(
    scorer: BundleScorer,
    *,
    fit_rows: list[LabeledListing],
    fit_logits: np.ndarray,
    calibration_rows: list[LabeledListing],
    calibration: dict[str, PlattMap],
    targets: dict[str, ThresholdTargets],
    settings: GuaranteeSettings,
    progress: Callable[[str], None],
) -> dict[str, LabelThresholds]:
    """Certified edges per label of ``scorer``'s card (``fit_logits`` (n_fit, L), card order)."""
    labels = list(scorer.card.labels)
    scores = _graph_scores(scorer, calibration_rows, labels)
    y_true, known = label_arrays(calibration_rows, labels)
    fit_y, fit_known = label_arrays(fit_rows, labels)
    delta = settings.delta_per_promise(len(labels))
    cal_units = _units(calibration_rows, settings)
    fit_units = _units(fit_rows, settings)
    result: dict[str, LabelThresholds] = {}
    for column, label in enumerate(labels):
        mask, fit_mask = known[:, column], fit_known[:, column]
        start = enforce_start_index(
            fit_logits[fit_mask, column],
            fit_y[fit_mask, column],
            fit_units[fit_mask],
            alpha=targets[label].max_wrong_enforcements,
            delta=delta,
        )
        try:
            edges = certify_label(
                y_true[mask, column],
                scores[mask, column],
                cal_units[mask],
                platt=calibration[label],
                targets=targets[label],
                settings=settings,
                delta=delta,
                enforce_start=start,
            )
        except ValueError as error:
            raise TrainingError(f"certifying the edges of {label}: {error}") from error
        result[label] = edges
        progress(_summary(label, edges))
    return result


def _graph_scores(
    scorer: BundleScorer, rows: list[LabeledListing], labels: list[str]
) -> np.ndarray:
    scores = np.empty((len(rows), len(labels)))
    for start in range(0, len(rows), SCORING_BATCH):
        batch = [row.listing for row in rows[start : start + SCORING_BATCH]]
        scores[start : start + len(batch)] = scorer.calibrated(batch)[0]
    return scores


def _units(rows: list[LabeledListing], settings: GuaranteeSettings) -> np.ndarray:
    if settings.unit == "listing":
        return np.arange(len(rows), dtype=np.int64)
    return unit_codes(np.array([group_key(row) for row in rows], dtype=object))


def _summary(label: str, edges: LabelThresholds) -> str:
    parts = []
    for certificate in (edges.let_through, edges.wrong_enforcements):
        if certificate is None:
            continue
        name = certificate.promise.replace("_", " ")
        if certificate.certified:
            parts.append(
                f"{name} <= {certificate.target:g} certified at {certificate.confidence:.0%} "
                f"over {certificate.units} {certificate.unit}s"
            )
        else:
            parts.append(
                f"{name} <= {certificate.target:g} NOT certifiable "
                f"(tightest {certificate.tightest_certifiable:.3f}; "
                f"at least {certificate.more_units_needed} more {certificate.unit}s needed; "
                f"fallback: {certificate.fallback})"
            )
    return f"{label}: " + "; ".join(parts)
