"""Request and response bodies of the HTTP API."""

from datetime import datetime
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field

from data.schema import Listing, NonBlankText, NoNulText
from serving.review_actions import MAX_HOLD, MAX_REASON_CHARS


class BatchScoreRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    listings: list[Listing] = Field(min_length=1)


class ReasonOut(BaseModel):
    phrase: str
    weight: float


class PromiseOut(BaseModel):
    target: float = Field(description="the promised maximum error share")
    certified: bool = Field(
        description="true: the edge was certified to keep the promise on new sellers"
    )
    fallback: Literal["review", "best_estimate"] | None = Field(
        description="what the edge does instead when not certified"
    )
    estimand: str = Field(description="exactly what share the promise is about")


class GuaranteeOut(BaseModel):
    """The promises behind this label's band edges (see the model card for the bounds)."""

    confidence: float = Field(description="probability that a certified promise holds")
    unit: Literal["seller", "listing"] = Field(description="the independent unit of the bound")
    violations_let_through: PromiseOut
    wrong_enforcements: PromiseOut


class LabelScoreOut(BaseModel):
    probability: float
    band: Literal["allow", "review", "enforce"]
    allow_below: float
    enforce_at: float | None
    reasons: list[ReasonOut]
    guarantee: GuaranteeOut | None = Field(
        description="null for models whose edges were not certified (older bundles)"
    )


class CategoryOut(BaseModel):
    """The category of the taxonomy's category-carrying label (``regulated`` by default)."""

    label: str | None = Field(
        description="the label that carries categories; null when the taxonomy has none"
    )
    name: str | None = Field(
        description="the most likely category, named only where its label is not auto-allowed"
    )
    probabilities: dict[str, float]


class HumanDecisionOut(BaseModel):
    """The human decision that answers for this content (it overrides the model's action)."""

    item_id: str
    action: Literal["allow", "block"]
    decided_by: str
    reason_code: str
    decided_at: datetime


class DecisionOut(BaseModel):
    """A scoring decision: everything needed to act on it, explain it and replay it."""

    decision_id: str
    listing_id: str
    action: Literal["allow", "review", "block"] = Field(
        description="what to do: the human decision's action where there is one, else the model's"
    )
    model_action: Literal["allow", "review", "block"] = Field(
        description="what the model and policy decided, human decision aside"
    )
    human_decision: HumanDecisionOut | None = Field(
        description="the human decision on this very content, if any: it stands until the "
        "content changes"
    )
    labels: dict[str, LabelScoreOut]
    category: CategoryOut
    rules: list[str]
    policy_clause: str | None = Field(
        description="the policy clause that decided the action (e.g. markets.US.categories.alcohol)"
    )
    market: str
    model_version: str
    threshold_set_id: str
    policy_version: str
    review_item_id: str | None
    created_at: datetime
    replayed: bool = Field(
        description="true when an identical request was already decided: the stored decision"
    )


class StoredDecisionOut(DecisionOut):
    listing: dict[str, object]
    request_id: str
    content_hash: str


class BatchScoreResponse(BaseModel):
    results: list[DecisionOut]


MAX_HOLD_HOURS = MAX_HOLD.total_seconds() / 3600
Kind = Literal["review", "senior", "appeal", "qa", "gold", "second"]
Status = Literal["open", "claimed", "held", "escalated", "decided", "superseded", "withdrawn"]
Reason = Annotated[NonBlankText, Field(max_length=MAX_REASON_CHARS)]


class ClaimRequest(BaseModel):
    """The reviewer is the key's name; the kind's queue needs the key's role to allow it."""

    model_config = ConfigDict(extra="forbid")

    kind: Kind = "review"


class ReleaseRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    reason: NoNulText = Field(default="", max_length=MAX_REASON_CHARS)


class HoldRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    reason: Reason
    hours: float = Field(
        ge=1 / 60,
        le=MAX_HOLD_HOURS,
        description="how long to hold (a minute to 30 days); the item then returns to the queue",
    )


class EscalateRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    reason: Reason


class ReviewDecisionRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    action: Literal["allow", "block"]
    reason_code: NonBlankText = Field(
        max_length=64, description="one of the policy's review.reason_codes for this action"
    )
    policy_clause: NonBlankText | None = Field(
        default=None, max_length=200, description="default: the reason code's or the decision's"
    )
    note: NoNulText = Field(default="", max_length=MAX_REASON_CHARS)


class QaVerdictRequest(ReviewDecisionRequest):
    """A QA audit's verdict: the action and reason code QA would have taken, and per label
    whether the listing violates it."""

    violations: dict[str, bool] = Field(
        max_length=64, description="for every label of the model: whether it is violated"
    )


class WithdrawRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    reason: Reason


class QueueItemOut(BaseModel):
    id: str
    kind: Kind
    decision_id: str
    listing_id: str
    seller_id: str | None
    parent_id: str | None = Field(description="the escalated item a senior item continues")
    title: str
    status: Status
    priority: float = Field(description="hours ahead of its SLA deadline the item is served")
    priority_factors: dict[str, float]
    due_at: datetime
    sla_breached: bool
    model_action: str
    scores: dict[str, float]
    created_at: datetime
    claimed_by: str | None
    claimed_at: datetime | None
    lease_expires_at: datetime | None
    held_until: datetime | None
    decided_by: str | None
    human_action: str | None
    reason_code: str | None
    policy_clause: str | None
    note: str | None
    decided_at: datetime | None
    turnaround_seconds: float | None
    inclusion_probability: float | None = Field(
        description="qa items: the probability this decision had of being audited"
    )
    qa_labels: dict[str, bool] | None = Field(description="qa items: the verdict per label")
    blind: bool = Field(
        description="true: an undecided qa item, shown without scores or the original decision"
    )


class QueueItemDetailOut(QueueItemOut):
    """An item with what a reviewer needs to decide it."""

    listing: dict[str, object]
    bands: dict[str, str]
    reasons: dict[str, list[ReasonOut]]
    rules: list[str]
    model_policy_clause: str | None
    market: str
    model_version: str
    policy_version: str


class QueuePage(BaseModel):
    items: list[QueueItemOut]
    total: int
    limit: int
    offset: int


class HistoryEntryOut(BaseModel):
    at: datetime
    actor: str
    event: str
    from_status: str | None
    to_status: str
    reason: str | None


class ItemHistoryOut(BaseModel):
    item_id: str
    history: list[HistoryEntryOut]


class EventOut(BaseModel):
    id: int
    at: datetime
    type: Literal[
        "human_decision",
        "escalated",
        "listing_withdrawn",
        "appeal_filed",
        "appeal_outcome",
        "penalty",
    ]
    listing_id: str | None
    seller_id: str | None
    item_id: str | None
    payload: dict[str, object]


class EventsPage(BaseModel):
    events: list[EventOut]
    next_after: int = Field(description="pass as ?after= to read on")


class WithdrawOut(BaseModel):
    listing_id: str
    closed_items: list[str]


class ReadinessOut(BaseModel):
    ready: bool
    bundle_loaded: bool
    database_reachable: bool
    schema_current: bool
    model_version: str | None


class AppealRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    listing_id: NonBlankText = Field(max_length=200)
    reason: Reason = Field(description="the seller's grounds, as they gave them")


class OverturnRateOut(BaseModel):
    group: str
    appeals: int
    overturned: int
    rate: float


class OverturnStatsOut(BaseModel):
    by: Literal["label", "reviewer", "model_version", "policy_version"]
    groups: list[OverturnRateOut]


class StrikeOut(BaseModel):
    id: int
    listing_id: str
    labels: list[str]
    severity: int
    source: Literal["human", "appeal", "automatic"]
    created_at: datetime
    expires_at: datetime
    removed_at: datetime | None
    removed_reason: str | None
    active: bool


class SellerOut(BaseModel):
    seller_id: str
    points: int = Field(description="severity of the active strikes")
    penalty: str = Field(description="the highest rung of the policy's ladder reached, or none")
    forced_review: bool = Field(description="automatic allows of this seller go to review")
    strikes: list[StrikeOut]
