"""Band edges whose error promises hold on sellers never seen, with a stated confidence.

Per label two promises, each tested as in Learn then Test (:mod:`models.risk_bounds`):

* **violations let through** at the allow edge: averaged over sellers with at least one violating
  listing, the share of the seller's violating listings scoring below the edge (auto-allowed);
* **wrong enforcements** at the enforce edge: averaged over sellers with at least one listing at
  or above the edge, the share of those listings that are benign.

Both are **seller-weighted** (every seller counts once, whatever its size): the unit is the
seller, so the guarantee holds when whole sellers are new, however alike one seller's listings
are. It assumes the sellers served are exchangeable with the calibration sellers (drawn from the
same population, prevalence included): wrong enforcements rise where violations are rarer, while
let-through does not depend on prevalence. ``unit: listing`` gives the listing-weighted version
that treats listings as independent (it breaks on new sellers; kept for comparison).

Candidate edges are the calibrated images of a fixed grid of model logits (:data:`LOGIT_GRID`),
so the hypotheses do not depend on the calibration data. The allow edge is tested upward from the
lowest candidate (its risk only grows); the enforce edge downward from the candidate the fit split
(independent of calibration; training uses out-of-fold scores) finds easiest to certify, stopping
at the allow edge. The edge kept is
the last candidate rejected. A promise that cannot be certified says so, with the tightest promise
the data could certify and how many more sellers it would take; its edge follows ``uncertified``.

Why not ``mapie.risk_control.BinaryClassificationController``: it treats every listing as an
independent sample, which is the listing-level procedure above, and fits one risk per controller;
the seller-level losses and the two-edge search are what this module adds.
"""

from typing import Literal

import numpy as np
from pydantic import BaseModel, ConfigDict, Field

from models.calibration import PlattMap
from models.risk_bounds import (
    fixed_sequence,
    hb_p_value,
    hb_upper_bound,
    unit_risks,
    units_needed,
)
from models.thresholds import (
    LabelThresholds,
    PromiseCertificate,
    ThresholdTargets,
    estimate_bands,
    fit_label_thresholds,
)

LOGIT_GRID = np.round(np.linspace(-12.0, 12.0, 481), 6)
"""Candidate edges in model-logit space, fixed before any data is seen (step 0.05)."""

Promise = Literal["violations_let_through", "wrong_enforcements"]
ESTIMANDS: dict[tuple[str, str], str] = {
    ("violations_let_through", "seller"): (
        "mean over sellers with violating listings of the share of their violating listings "
        "auto-allowed"
    ),
    ("wrong_enforcements", "seller"): (
        "mean over sellers with auto-enforced listings of the share of those listings that are "
        "benign"
    ),
    ("violations_let_through", "listing"): "share of violating listings auto-allowed",
    ("wrong_enforcements", "listing"): "share of auto-enforced listings that are benign",
}


class GuaranteeSettings(BaseModel):
    """How promises are certified; the per-label promises are the threshold targets."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    confidence: float = Field(default=0.95, gt=0.5, lt=1.0)
    """1 - delta: the chance that a certified promise holds on new sellers."""
    scope: Literal["per_promise", "joint"] = "per_promise"
    """per_promise: each promise holds at ``confidence``; joint: all of them at once (Bonferroni
    over the labels' promises)."""
    unit: Literal["seller", "listing"] = "seller"
    uncertified: Literal["review", "best_estimate"] = "best_estimate"
    """What an edge that cannot be certified does: ``best_estimate`` keeps the point-estimate
    edge, marked uncertified in the card, every response and every report; ``review`` turns the
    auto-decision off on that side (no auto-allow, or no auto-enforce)."""

    def delta_per_promise(self, n_labels: int) -> float:
        delta = 1.0 - self.confidence
        return delta / (2 * n_labels) if self.scope == "joint" else delta


def certify_label(
    y_true: np.ndarray,
    scores: np.ndarray,
    units: np.ndarray,
    *,
    platt: PlattMap,
    targets: ThresholdTargets,
    settings: GuaranteeSettings,
    delta: float,
    enforce_start: int | None,
) -> LabelThresholds:
    """Certified edges of one label from calibration ``scores`` of the shipped graph.

    ``y_true``, ``scores`` (calibrated) and ``units`` (unit codes) are (n,); ``enforce_start`` is
    the index into :data:`LOGIT_GRID` where the enforce sequence starts (from the fit split,
    :func:`enforce_start_index`); None means no candidate.
    """
    if platt.slope <= 0:
        raise ValueError("the calibration map is not increasing: edges cannot be certified")
    edges = platt.apply(LOGIT_GRID)
    tests = _Tests(units, settings, delta)
    allowed = np.flatnonzero(edges <= targets.max_auto_allow_probability)
    at_risk = np.broadcast_to((y_true == 1)[:, None], (y_true.size, allowed.size))
    miss = tests.run(
        "violations_let_through",
        targets.max_violations_let_through,
        edges[allowed],
        events=scores[:, None] < edges[None, allowed],
        at_risk=at_risk,
    )
    point = fit_label_thresholds(y_true, scores, targets=targets)
    best_estimate = settings.uncertified == "best_estimate"
    if miss.certified and miss.edge is not None:
        allow = miss.edge
    else:
        allow = point.allow if best_estimate else 0.0
        miss = miss.model_copy(update={"fallback": settings.uncertified, "edge": allow})
    # The final allow edge (fallback included) bounds the enforce candidates: an enforce edge
    # below it would certify listings the allow band takes.
    order = [] if enforce_start is None else list(range(enforce_start, -1, -1))
    candidates = np.array([k for k in order if edges[k] >= allow], dtype=np.int64)
    enforced = scores[:, None] >= edges[None, candidates]
    wrong = tests.run(
        "wrong_enforcements",
        targets.max_wrong_enforcements,
        edges[candidates],
        events=(y_true == 0)[:, None] & enforced,
        at_risk=enforced,
    )
    enforce = wrong.edge if wrong.certified else None
    if not wrong.certified:
        enforce = point.enforce if best_estimate else None
        enforce = enforce if enforce is not None and enforce >= allow else None
        wrong = wrong.model_copy(update={"fallback": settings.uncertified, "edge": enforce})
    reason = None
    if enforce is None:
        reason = "the wrong-enforcement promise could not be certified: auto-enforce is off"
    return LabelThresholds(
        allow=allow,
        enforce=enforce,
        enforce_disabled_reason=reason,
        estimate=estimate_bands(y_true, scores, allow=allow, enforce=enforce),
        let_through=miss,
        wrong_enforcements=wrong,
    )


class _Tests:
    """Fixed-sequence Hoeffding-Bentkus tests of one promise over candidate edges, in order."""

    def __init__(self, units: np.ndarray, settings: GuaranteeSettings, delta: float) -> None:
        self.units = units
        self.settings = settings
        self.delta = delta

    def run(
        self,
        promise: Promise,
        alpha: float,
        edges: np.ndarray,
        *,
        events: np.ndarray,
        at_risk: np.ndarray,
    ) -> PromiseCertificate:
        risks, counts = unit_risks(events, at_risk, self.units)
        p_values = (hb_p_value(float(r), int(c), alpha) for r, c in zip(risks, counts, strict=True))
        rejected = fixed_sequence(p_values, self.delta)
        first_units = int(counts[0]) if counts.size else 0
        tightest = hb_upper_bound(float(risks[0]), first_units, self.delta) if counts.size else 1.0
        last = rejected - 1
        certified = rejected > 0
        return PromiseCertificate(
            promise=promise,
            target=alpha,
            confidence=1.0 - self.delta,
            unit=self.settings.unit,
            estimand=ESTIMANDS[(promise, self.settings.unit)],
            certified=certified,
            edge=float(edges[last]) if certified else None,
            units=int(counts[last]) if certified else first_units,
            observed=float(risks[last]) if certified else None,
            tightest_certifiable=tightest,
            more_units_needed=0
            if certified
            else max(units_needed(alpha, self.delta) - first_units, 1),
            fallback=None,
        )


def enforce_start_index(
    logits: np.ndarray, y_true: np.ndarray, units: np.ndarray, *, alpha: float, delta: float
) -> int | None:
    """The grid index whose wrong-enforcement test the (fit-split) data pass most easily."""
    at_risk = logits[:, None] >= LOGIT_GRID[None, :]
    risks, counts = unit_risks((y_true == 0)[:, None] & at_risk, at_risk, units)
    if not (counts > 0).any():
        return None
    p_values = np.array(
        [hb_p_value(float(r), int(c), alpha) for r, c in zip(risks, counts, strict=True)]
    )
    if p_values.min() >= 1.0:
        return None  # no candidate the fit split supports: auto-enforce stays uncertified
    # Among equally easy candidates, the lowest edge (it enforces the most).
    return int(np.flatnonzero(p_values <= p_values.min() + 1e-15)[0])


def unit_codes(keys: np.ndarray) -> np.ndarray:
    """Integer codes 0..S-1 of the units (seller groups) of each row."""
    _, codes = np.unique(np.asarray(keys, dtype=object).astype(str), return_inverse=True)
    return codes.astype(np.int64)
