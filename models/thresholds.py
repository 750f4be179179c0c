"""Threshold selection from error targets, and the bands they define (pure numpy).

Per label, the calibrated probability p falls in one of three bands: ``p < allow`` is
auto-allowed, ``p >= enforce`` is auto-enforced, anything between goes to human review.

* ``allow`` is the largest threshold for which the share of violations (positives) scoring
  below it is at most ``max_violations_let_through``, capped at ``max_auto_allow_probability``.
* ``enforce`` is the smallest threshold at or above ``allow`` for which the share of non-violations
  among items at or above it — and at or above every higher threshold — is at most
  ``max_wrong_enforcements``, with at least ``min_enforced_positives`` violations above it.
  Where no threshold qualifies, auto-enforce is off for that label and the reason is recorded.
"""

import math
from typing import Literal

import numpy as np
from pydantic import BaseModel, ConfigDict, Field

BANDS = ("allow", "review", "enforce")
WILSON_Z_95 = 1.959963984540054


class ThresholdTargets(BaseModel):
    """Error targets a threshold set is fitted to meet (shares in [0, 1])."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    max_violations_let_through: float = Field(default=0.10, ge=0.0, le=1.0)
    max_wrong_enforcements: float = Field(default=0.05, ge=0.0, le=1.0)
    min_enforced_positives: int = Field(default=5, ge=1)
    max_auto_allow_probability: float = Field(default=0.5, ge=0.0, le=1.0)
    """Never auto-allow a listing at or above this calibrated probability, whatever the
    let-through budget allows: on well-separated data the budget alone would put the allow edge
    near 1 and auto-allow listings that are probably violations."""


class ThresholdEstimate(BaseModel):
    """What a threshold set achieved on the data it was fitted on, with 95% Wilson bounds."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    positives: int
    negatives: int
    violations_let_through: float
    violations_let_through_upper95: float
    wrong_enforcements: float | None
    wrong_enforcements_upper95: float | None
    share_allowed: float
    share_review: float
    share_enforced: float


class PromiseCertificate(BaseModel):
    """The outcome of certifying one promise of one label."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    promise: Literal["violations_let_through", "wrong_enforcements"]
    target: float
    confidence: float
    """1 - the delta this promise was tested at."""
    unit: Literal["seller", "listing"]
    estimand: str
    certified: bool
    edge: float | None
    """The edge the certificate is about (None: no auto-decision on this side)."""
    units: int
    """Units (sellers) the risk at the edge was measured on."""
    observed: float | None
    """The measured risk at the edge on the calibration units."""
    tightest_certifiable: float
    """The smallest promise the first candidate in the sequence could certify (1.0: none)."""
    more_units_needed: int
    """A lower bound on the additional units needed: as many as it would take if all of them,
    and the ones measured, had no error (0 when certified)."""
    fallback: Literal["review", "best_estimate"] | None
    """What the edge does instead, when not certified."""


class LabelThresholds(BaseModel):
    """The band edges of one label; ``enforce`` is None when auto-enforce is off."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    allow: float = Field(ge=0.0, le=1.0)
    enforce: float | None = Field(default=None, ge=0.0, le=1.0)
    enforce_disabled_reason: str | None = None
    estimate: ThresholdEstimate | None = None
    let_through: PromiseCertificate | None = None
    """The certificate of the allow edge (None: point-estimate thresholds, no guarantee)."""
    wrong_enforcements: PromiseCertificate | None = None
    """The certificate of the enforce edge."""

    @property
    def certified(self) -> bool:
        """Both edges carry a certificate that holds (not a fallback)."""
        return all(
            c is not None and c.certified for c in (self.let_through, self.wrong_enforcements)
        )


def wilson_upper(errors: int, total: int, *, z: float = WILSON_Z_95) -> float:
    """Upper end of the Wilson score interval of a proportion; 1.0 when ``total`` is 0."""
    if total == 0:
        return 1.0
    share = errors / total
    denominator = 1 + z * z / total
    centre = share + z * z / (2 * total)
    margin = z * math.sqrt(share * (1 - share) / total + z * z / (4 * total * total))
    return min(1.0, (centre + margin) / denominator)


def fit_label_thresholds(
    y_true: np.ndarray, scores: np.ndarray, *, targets: ThresholdTargets
) -> LabelThresholds:
    """Fit the allow/enforce thresholds of one label.

    ``y_true`` (n,) in {0, 1}; ``scores`` (n,) calibrated probabilities in [0, 1].
    """
    y_true = np.asarray(y_true, dtype=np.int64)
    scores = np.asarray(scores, dtype=np.float64)
    if y_true.shape != scores.shape or y_true.ndim != 1:
        raise ValueError(f"y_true {y_true.shape} and scores {scores.shape} must be equal 1-D")
    if not np.isin(y_true, (0, 1)).all():
        raise ValueError("y_true must hold only 0 and 1")
    return _compute_label_thresholds(y_true, scores, targets)


def _compute_label_thresholds(
    y_true: np.ndarray, scores: np.ndarray, targets: ThresholdTargets
) -> LabelThresholds:
    allow = min(
        _allow_threshold(scores[y_true == 1], targets.max_violations_let_through),
        targets.max_auto_allow_probability,
    )
    enforce, reason = _enforce_threshold(y_true, scores, allow, targets)
    return LabelThresholds(
        allow=allow,
        enforce=enforce,
        enforce_disabled_reason=reason,
        estimate=estimate_bands(y_true, scores, allow=allow, enforce=enforce),
    )


def _allow_threshold(positive_scores: np.ndarray, max_let_through: float) -> float:
    """Largest threshold with at most ``max_let_through`` of positives strictly below it."""
    if positive_scores.size == 0:
        return 0.0
    ordered = np.sort(positive_scores)
    allowed_misses = math.floor(max_let_through * ordered.size + 1e-9)
    if allowed_misses >= ordered.size:
        return 1.0
    return float(ordered[allowed_misses])


def _enforce_threshold(
    y_true: np.ndarray, scores: np.ndarray, allow: float, targets: ThresholdTargets
) -> tuple[float | None, str | None]:
    order = np.argsort(-scores, kind="stable")
    sorted_scores = scores[order]
    true_positives = np.cumsum(y_true[order])
    enforced = np.arange(1, scores.size + 1)
    # Evaluate only at the last index of each run of tied scores: a threshold takes all ties.
    last_of_tie = np.append(sorted_scores[1:] != sorted_scores[:-1], True)
    wrong_share = 1.0 - true_positives / enforced
    # Worst wrong-enforcement share at this threshold or any higher one (a running maximum).
    worst_from_top = np.maximum.accumulate(np.where(last_of_tie, wrong_share, 0.0))
    ok = (
        last_of_tie
        & (worst_from_top <= targets.max_wrong_enforcements + 1e-12)
        & (true_positives >= targets.min_enforced_positives)
        & (sorted_scores >= allow)
    )
    if not ok.any():
        supported = last_of_tie & (true_positives >= targets.min_enforced_positives)
        best = float(1.0 - wrong_share[supported].min()) if supported.any() else float("nan")
        return None, (
            f"no threshold at or above allow={allow:.4f} keeps wrong enforcements at or below "
            f"{targets.max_wrong_enforcements:g} with at least "
            f"{targets.min_enforced_positives} violations enforced "
            f"(best precision reached: {best:.3f}); auto-enforce is off"
        )
    return float(sorted_scores[np.flatnonzero(ok)[-1]]), None


def estimate_bands(
    y_true: np.ndarray, scores: np.ndarray, *, allow: float, enforce: float | None
) -> ThresholdEstimate:
    """Error shares and band shares of thresholds on labelled data, (n,) arrays."""
    bands = assign_bands(scores, allow=allow, enforce=enforce)
    positives = int(y_true.sum())
    negatives = int(y_true.size - positives)
    let_through = int(((bands == 0) & (y_true == 1)).sum())
    enforced = int((bands == 2).sum())
    wrong = int(((bands == 2) & (y_true == 0)).sum())
    n = max(int(y_true.size), 1)
    return ThresholdEstimate(
        positives=positives,
        negatives=negatives,
        violations_let_through=let_through / positives if positives else 0.0,
        violations_let_through_upper95=wilson_upper(let_through, positives),
        wrong_enforcements=wrong / enforced if enforced else None,
        wrong_enforcements_upper95=wilson_upper(wrong, enforced) if enforced else None,
        share_allowed=float((bands == 0).sum()) / n,
        share_review=float((bands == 1).sum()) / n,
        share_enforced=enforced / n,
    )


def assign_bands(scores: np.ndarray, *, allow: float, enforce: float | None) -> np.ndarray:
    """Band index per score: 0 allow, 1 review, 2 enforce. ``scores`` (n,) -> int64 (n,)."""
    scores = np.asarray(scores, dtype=np.float64)
    bands = np.where(scores < allow, 0, 1).astype(np.int64)
    if enforce is not None:
        bands[scores >= enforce] = 2
    return bands
