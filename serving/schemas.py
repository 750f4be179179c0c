"""Request and response bodies of the HTTP API."""

from datetime import datetime
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from data.schema import Listing, NonBlankText, NoNulText
from serving.tables import REVIEWER_LENGTH


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


class DecisionOut(BaseModel):
    """A scoring decision: everything needed to act on it, explain it and replay it."""

    decision_id: str
    listing_id: str
    action: Literal["allow", "review", "block"]
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


class ClaimRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    reviewer: NonBlankText = Field(min_length=1, max_length=REVIEWER_LENGTH)


class ReviewDecisionRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    reviewer: NonBlankText = Field(min_length=1, max_length=REVIEWER_LENGTH)
    action: Literal["allow", "block", "escalate"]
    reason: NoNulText = Field(default="", max_length=2000)


class QueueItemOut(BaseModel):
    id: str
    decision_id: str
    listing_id: str
    title: str
    status: str
    priority: float
    model_action: str
    scores: dict[str, float]
    created_at: datetime
    claimed_by: str | None
    claimed_at: datetime | None
    decided_by: str | None
    reviewer_action: str | None
    reviewer_reason: str | None
    decided_at: datetime | None


class QueuePage(BaseModel):
    items: list[QueueItemOut]
    total: int
    limit: int
    offset: int


class ReadinessOut(BaseModel):
    ready: bool
    bundle_loaded: bool
    database_reachable: bool
    schema_current: bool
    model_version: str | None
