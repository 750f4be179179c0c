"""Response and request bodies of the QA endpoints: estimates, agreement, gold cases."""

from datetime import datetime
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from data.schema import NonBlankText
from serving.gold_set import MAX_RATIONALE_CHARS
from serving.tables import ID_LENGTH


class EstimateOut(BaseModel):
    value: float | None = Field(description="the design-weighted estimate; null: nothing audited")
    low: float
    high: float
    confidence: float
    audited: int


class LabelCheckOut(BaseModel):
    label: str
    violations_let_through: EstimateOut
    let_through_promise: float | None
    wrong_enforcements: EstimateOut
    wrong_enforcements_promise: float | None
    violations_among_auto_allowed: EstimateOut = Field(
        description="automatic allows that violate the label"
    )
    prevalence: EstimateOut = Field(
        description="decided listings (automatic or human) that violate the label"
    )
    breached: list[str] = Field(description="promises whose whole interval lies above them")


class FigureOut(BaseModel):
    value: float | None = Field(description="null below the minimum count of rated units")
    low: float | None
    high: float | None
    units: int


class AgreementOut(BaseModel):
    raw: FigureOut
    positive: FigureOut = Field(description="share of positive ratings the other rater shared")
    krippendorff_alpha: FigureOut
    prevalence: float | None = Field(
        description="share of positive ratings: at a few percent alpha collapses even when "
        "raters almost always agree; read positive agreement beside it"
    )


class AuditReportOut(BaseModel):
    since: datetime
    until: datetime
    market: str | None = Field(description="the market estimated; null: all markets")
    audited: int = Field(description="audited decisions with a verdict in the period")
    pending: int = Field(description="audits of the period still waiting for a verdict")
    labels: list[LabelCheckOut]
    reviewer_accuracy: EstimateOut = Field(description="human decisions QA confirmed")
    reviewer_agreement: AgreementOut = Field(description="reviewer against QA (block or not)")
    gold_accuracy: list["ReviewerGoldOut"] = Field(
        description="per reviewer, gold items answered as the case says"
    )
    second_review_agreement: AgreementOut = Field(
        description="first against second reviewer on blind double reviews (block or not)"
    )


class ReviewerGoldOut(BaseModel):
    reviewer: str
    answered: int
    correct: int
    accuracy: EstimateOut


class GoldCaseRequest(BaseModel):
    """Make the answer of a decided qa, appeal or senior item a gold case."""

    model_config = ConfigDict(extra="forbid")

    item_id: str = Field(min_length=1, max_length=ID_LENGTH)
    rationale: NonBlankText = Field(max_length=MAX_RATIONALE_CHARS)


class GoldCaseOut(BaseModel):
    id: str
    decision_id: str
    listing_id: str
    title: str
    market: str
    source: Literal["qa", "appeal", "senior"]
    source_item_id: str
    action: Literal["allow", "block"]
    violations: dict[str, bool | None] = Field(description="null: a label not judged")
    reason_code: str
    policy_clause: str | None
    rationale: str
    created_by: str
    created_at: datetime
    retired_at: datetime | None
    served: int = Field(description="gold items made of it so far")
    answered: int
    correct: int


class GoldCasesOut(BaseModel):
    cases: list[GoldCaseOut]


class StatementOut(BaseModel):
    """A statement of reasons, as owed to the seller of a restricted listing."""

    decision_id: str
    listing_id: str
    market: str
    decided_at: str
    action: Literal["allow", "review", "block"]
    restriction: str
    facts: list[str]
    ground: str
    policy_clause: str | None
    policy_version: str
    automated_detection: bool
    automated_decision: bool
    decided_by: str
    redress: str
