"""The review section of a policy: reason codes, SLAs and the weights of queue priority.

Queue order is a deadline: an item is due ``sla_hours`` after it was queued (per label and
market), and each urgency factor — calibrated risk, uncertainty, exposure, seller history, each
in [0, 1] — moves it earlier by up to its weight in hours. The queue serves the earliest
``order_at = due_at - advance`` first, so time left before the SLA counts as much as risk does,
and one stored timestamp (indexed) serves the order.
"""

import hashlib
import math
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from typing import Final, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

URGENCY_FACTORS: Final = ("risk", "uncertainty", "exposure", "seller_history")
HumanAction = Literal["allow", "block"]


class ReasonCode(BaseModel):
    """Why a human decided as they did; ``severity`` weighs the seller's strike."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    action: HumanAction
    description: str = Field(min_length=1, max_length=300)
    labels: tuple[str, ...] = ()
    """The labels this code confirms as violated (empty: none, or not label-specific)."""
    severity: int = Field(default=1, ge=0, le=10)
    clause: str | None = Field(default=None, max_length=200)
    """The policy clause it cites when the reviewer names none."""

    @model_validator(mode="after")
    def _allow_has_no_severity(self) -> "ReasonCode":
        if self.action == "allow" and (self.severity or self.labels):
            raise ValueError("an allow reason code confirms no violation: no severity or labels")
        return self


DEFAULT_REASON_CODES: Final = {
    "violation-confirmed": ReasonCode(
        action="block", description="the listing breaks the policy clause cited", severity=2
    ),
    "prohibited-item": ReasonCode(
        action="block", description="the item may not be sold in this market", severity=3
    ),
    "scam-or-fraud": ReasonCode(
        action="block", description="the listing deceives buyers", severity=4
    ),
    "no-violation": ReasonCode(
        action="allow", description="nothing in the listing breaks the policy", severity=0
    ),
    "allowed-with-authorization": ReasonCode(
        action="allow",
        description="a restricted item the seller is authorized to sell here",
        severity=0,
    ),
}


class SlaHours(BaseModel):
    """Hours from queueing to the SLA: ``labels`` override ``default``; ``markets`` override
    both for one market (``{US: {fraud: 2, default: 12}}``)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    default: float = Field(default=24.0, gt=0, le=24 * 90)
    labels: dict[str, float] = Field(default_factory=dict)
    markets: dict[str, dict[str, float]] = Field(default_factory=dict)

    @model_validator(mode="after")
    def _positive(self) -> "SlaHours":
        places = [("labels", self.labels)] + [
            (f"markets.{code}", hours) for code, hours in self.markets.items()
        ]
        for where, hours in places:
            for name, value in hours.items():
                if not 0 < value <= 24 * 90:
                    raise ValueError(f"sla_hours.{where}.{name}: {value} is not in (0, 2160]")
        return self

    def hours(self, label: str | None, market: str) -> float:
        local = self.markets.get(market, {})
        for table in (local, self.labels):
            if label is not None and label in table:
                return table[label]
        return local.get("default", self.default)


class PriorityWeights(BaseModel):
    """Hours by which each factor at full strength (1.0) moves an item ahead of its deadline."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    risk: float = Field(default=6.0, ge=0, le=24 * 30)
    uncertainty: float = Field(default=2.0, ge=0, le=24 * 30)
    exposure: float = Field(default=3.0, ge=0, le=24 * 30)
    seller_history: float = Field(default=4.0, ge=0, le=24 * 30)
    price_reference: float = Field(default=200.0, gt=0)
    """The price at which exposure is 0.5 (exposure = price / (price + reference))."""
    reach_reference: float = Field(default=10_000.0, gt=0)
    """The caller-supplied reach (``attributes.reach``, expected views) at which exposure is 0.5;
    reach, where given, replaces price."""
    history_reference: float = Field(default=2.0, gt=0)
    """Active strike points at which the seller-history factor is 0.5."""

    def as_hours(self) -> dict[str, float]:
        return {name: float(getattr(self, name)) for name in URGENCY_FACTORS}


class PenaltyStep(BaseModel):
    """A rung of the penalty ladder: reached at ``points`` active strike points."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    points: int = Field(ge=1, le=1000)
    penalty: str = Field(min_length=1, max_length=40, pattern=r"^[a-z][a-z_]*$")


DEFAULT_LADDER: Final = (
    PenaltyStep(points=1, penalty="warning"),
    PenaltyStep(points=3, penalty="listing_removal"),
    PenaltyStep(points=6, penalty="feature_restriction"),
    PenaltyStep(points=10, penalty="suspension"),
)


class StrikePolicy(BaseModel):
    """How confirmed violations count against a seller."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    expire_days: int = Field(default=90, ge=1, le=3650)
    ladder: tuple[PenaltyStep, ...] = DEFAULT_LADDER
    auto_enforcement_severity: int = Field(default=1, ge=0, le=10)
    """Points of an automatic block on a label whose enforce edge is certified (0: none)."""
    force_review_from: str | None = "feature_restriction"
    """Sellers at or above this penalty never get an automatic allow: it goes to review."""

    @model_validator(mode="after")
    def _ladder_climbs(self) -> "StrikePolicy":
        points = [step.points for step in self.ladder]
        if points != sorted(set(points)):
            raise ValueError("strikes.ladder: points must strictly increase")
        names = [step.penalty for step in self.ladder]
        if self.force_review_from is not None and self.force_review_from not in names:
            raise ValueError(
                f"strikes.force_review_from: {self.force_review_from!r} is not on the ladder "
                f"({', '.join(names)})"
            )
        return self

    def penalty_at(self, points: int) -> str:
        """The highest penalty ``points`` reach; ``none`` below the first rung."""
        reached = [step.penalty for step in self.ladder if points >= step.points]
        return reached[-1] if reached else "none"

    def forces_review(self, points: int) -> bool:
        """Whether a seller with ``points`` is under the restriction that forces review."""
        if self.force_review_from is None:
            return False
        threshold = next(s.points for s in self.ladder if s.penalty == self.force_review_from)
        return points >= threshold


AuditStratum = Literal["auto_allow", "auto_enforce", "human"]
DEFAULT_AUDIT_RATES: Final[dict[AuditStratum, float]] = {
    "auto_allow": 0.005,
    "auto_enforce": 0.02,
    "human": 0.05,
}


class AuditPolicy(BaseModel):
    """Which decisions QA audits: a share of each kind of decision, chosen as it is made by a
    hash of (seed, decision id), so every worker picks the same ones and an audit replays."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    seed: str = Field(default="listingguard-audit", min_length=1, max_length=100)
    rates: dict[AuditStratum, float] = Field(default_factory=lambda: dict(DEFAULT_AUDIT_RATES))
    markets: dict[str, dict[AuditStratum, float]] = Field(default_factory=dict)
    """Per-market rates overriding ``rates`` (e.g. a new market audited more)."""
    sla_hours: float = Field(default=72.0, gt=0, le=24 * 90)
    gold_rate: float = Field(default=0.0, ge=0.0, le=1.0)
    """Share of reviewers' claims that serve a gold case (a listing with a known answer); off
    unless the policy sets it (the example policy does)."""
    second_review_rate: float = Field(default=0.0, ge=0.0, le=1.0)
    """Share of decided review items sent, blind, to a second reviewer (reviewer agreement);
    disagreements go to a senior. Off unless the policy sets it (the example policy does)."""

    @model_validator(mode="after")
    def _rates_are_probabilities(self) -> "AuditPolicy":
        tables = [("rates", self.rates)] + [
            (f"markets.{market}", rates) for market, rates in self.markets.items()
        ]
        for where, rates in tables:
            for stratum, rate in rates.items():
                if not 0.0 <= rate <= 1.0:
                    raise ValueError(f"audit.{where}.{stratum}: {rate} is not in [0, 1]")
        return self

    def rate(self, stratum: AuditStratum, market: str) -> float:
        local = self.markets.get(market, {})
        return local.get(stratum, self.rates.get(stratum, 0.0))


def audit_draw(seed: str, decision_id: str) -> float:
    """A uniform number in [0, 1) fixed by (seed, decision id): the same on every worker."""
    digest = hashlib.sha256(f"{seed}\x1f{decision_id}".encode()).digest()
    return int.from_bytes(digest[:8], "big") / 2**64


class ReviewPolicy(BaseModel):
    """Reason codes reviewers choose from, SLAs, queue priority weights, strikes, QA audit."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    reason_codes: dict[str, ReasonCode] = Field(default_factory=lambda: dict(DEFAULT_REASON_CODES))
    sla_hours: SlaHours = Field(default_factory=SlaHours)
    senior_sla_hours: float = Field(default=8.0, gt=0, le=24 * 90)
    appeal_sla_hours: float = Field(default=48.0, gt=0, le=24 * 90)
    priority: PriorityWeights = Field(default_factory=PriorityWeights)
    strikes: StrikePolicy = Field(default_factory=StrikePolicy)
    audit: AuditPolicy = Field(default_factory=AuditPolicy)
    appeal_instructions: str = Field(
        default=(
            "The seller may appeal within 30 days: POST /v1/appeals with the decision id "
            "(or the marketplace's seller centre). A reviewer who did not take the decision "
            "decides the appeal."
        ),
        min_length=1,
        max_length=1000,
    )
    """How to appeal, as a statement of reasons tells the seller."""

    @model_validator(mode="after")
    def _codes_for_both_actions(self) -> "ReviewPolicy":
        actions = {code.action for code in self.reason_codes.values()}
        if actions != {"allow", "block"}:
            raise ValueError("review.reason_codes: needs at least one allow and one block code")
        return self

    def labels_named(self) -> list[tuple[str, str]]:
        """(clause, label) of every label a clause names, for checking against a taxonomy."""
        named = [
            (f"review.reason_codes.{code}.labels", label)
            for code, spec in self.reason_codes.items()
            for label in spec.labels
        ]
        named += [(f"review.sla_hours.labels.{label}", label) for label in self.sla_hours.labels]
        named += [
            (f"review.sla_hours.markets.{market}.{label}", label)
            for market, hours in self.sla_hours.markets.items()
            for label in hours
            if label != "default"
        ]
        return named


@dataclass(frozen=True, slots=True)
class Urgency:
    """An item's urgency factors (each in [0, 1]), their weights in hours and its SLA."""

    factors: dict[str, float]
    weights: dict[str, float]
    sla_hours: float
    label: str | None = None
    """The label whose review band set the SLA (the most likely one in review)."""
    history_reference: float = field(default=2.0)

    @property
    def advance_hours(self) -> float:
        """How far ahead of its deadline the item is served: the weighted factors."""
        return sum(self.weights.get(name, 0.0) * value for name, value in self.factors.items())

    def with_seller_history(self, strike_points: int) -> "Urgency":
        """The same urgency with the seller's active strike points as a factor."""
        share = strike_points / (strike_points + self.history_reference)
        return replace(self, factors={**self.factors, "seller_history": share})


def review_urgency(
    probabilities: Mapping[str, float],
    bands: Mapping[str, str],
    edges: Mapping[str, tuple[float, float | None]],
    *,
    market: str,
    price: float | None,
    reach: float | None,
    review: ReviewPolicy,
) -> Urgency:
    """Urgency of a listing sent to review (``edges``: each label's (allow, enforce) edges).

    risk: the highest calibrated probability among labels in review; uncertainty: how close that
    label sits to the middle of its review band (1 at the middle, 0 at an edge); exposure: reach
    (or else price) over itself plus its reference.
    """
    in_review = [label for label, band in bands.items() if band == "review"]
    label = max(in_review, key=lambda name: probabilities[name], default=None)
    risk = probabilities[label] if label is not None else max(probabilities.values(), default=0.0)
    uncertainty = 0.0
    if label is not None:
        low, high = edges[label]
        high = 1.0 if high is None else high
        if high > low:
            uncertainty = 1.0 - abs(2 * (probabilities[label] - low) / (high - low) - 1)
    weights = review.priority
    if reach is not None and math.isfinite(reach) and reach >= 0:
        exposure = reach / (reach + weights.reach_reference)
    elif price is not None:
        exposure = price / (price + weights.price_reference)
    else:
        exposure = 0.0
    factors = {
        "risk": _unit(risk),
        "uncertainty": _unit(uncertainty),
        "exposure": _unit(exposure),
        "seller_history": 0.0,
    }
    return Urgency(
        factors=factors,
        weights=weights.as_hours(),
        sla_hours=review.sla_hours.hours(label, market),
        label=label,
        history_reference=weights.history_reference,
    )


def parse_reach(attributes: Mapping[str, str]) -> float | None:
    """The caller-supplied ``reach`` attribute as a number, or None when absent or not one."""
    raw = attributes.get("reach", "").strip()
    try:
        value = float(raw)
    except ValueError:
        return None
    return value if math.isfinite(value) and value >= 0 else None


def _unit(value: float) -> float:
    return min(1.0, max(0.0, float(value)))
