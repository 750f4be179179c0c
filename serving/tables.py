"""Database tables of the serving layer: decisions, work items, history, verdicts, feed, keys,
strikes, gold cases.

The schema is created and changed only by the Alembic migrations in ``serving/migrations``;
this module is their ``target_metadata`` and the ORM mapping the stores use.
"""

import os
from datetime import UTC, datetime
from typing import Any, ClassVar, Final

from sqlalchemy import (
    JSON,
    BigInteger,
    CheckConstraint,
    DateTime,
    Dialect,
    Float,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    Text,
    TypeDecorator,
    text,
)
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

ACTIONS: Final = ("allow", "review", "block")
"""What the service decided for a listing."""

BANDS: Final = ("allow", "review", "enforce")
"""Where one label's calibrated probability fell relative to its thresholds."""

WORK_ITEM_KINDS: Final = ("review", "senior", "appeal", "qa", "gold", "second")
"""What a work item asks of a human: first review, an escalation for a senior, a seller's appeal,
a QA audit of a sampled decision, a gold item with a known answer, or a blind second review of
a decided review item."""

GOLD_SOURCES: Final = ("qa", "appeal", "senior")
"""Where a gold case's answer was confirmed: a QA verdict, an appeal's decision, a senior's."""

WORK_ITEM_STATUSES: Final = (
    "open",
    "claimed",
    "held",
    "escalated",
    "decided",
    "superseded",
    "withdrawn",
)
"""Life cycle of a work item (:mod:`serving.work_item_states` says which moves are legal)."""

ACTIVE_STATUSES: Final = ("open", "claimed", "held", "escalated")
"""Statuses of an item not yet closed; a listing has at most one such item per kind."""
CLOSED_UNDECIDED_STATUSES: Final = ("superseded", "withdrawn")
"""Statuses of an item closed without a human's decision: among a decision's review items of the
same time, the one still active or decided is its review item."""

KEY_ROLES: Final = ("pipeline", "reviewer", "senior_reviewer", "qa", "admin")
"""Roles an API key can carry (:mod:`serving.roles` says what each may do)."""

STRIKE_SOURCES: Final = ("human", "appeal", "automatic")
"""What confirmed a strike: a human block, an upheld appeal, a certified automatic block."""

HUMAN_ACTIONS: Final = ("allow", "block")
"""What a human may decide for a listing."""

ID_LENGTH: Final = 32
REQUEST_ID_LENGTH: Final = 100
IDEMPOTENCY_KEY_LENGTH: Final = 64
LISTING_ID_LENGTH: Final = 200
SELLER_ID_LENGTH: Final = 200
REVIEWER_LENGTH: Final = 100
REASON_CODE_LENGTH: Final = 64
CLAUSE_LENGTH: Final = 200
AUDIT_STRATUM_LENGTH: Final = 40
VERSION_LENGTH: Final = 200

# Explicit names keep migrations, batch-mode SQLite rebuilds and autogenerate diffs stable.
NAMING_CONVENTION: Final = {
    "ix": "ix_%(table_name)s_%(column_0_N_name)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


def new_id() -> str:
    """A fresh 32-character hexadecimal identifier (128 random bits; a third of the cost of
    ``uuid.uuid4().hex``, which builds a UUID object first)."""
    return os.urandom(16).hex()


def is_record_id(value: str) -> bool:
    """Whether ``value`` could be an id :func:`new_id` made; others need no database lookup."""
    return len(value) == ID_LENGTH and all(char in "0123456789abcdef" for char in value)


def utc_now() -> datetime:
    """The current time, timezone-aware in UTC."""
    return datetime.now(UTC)


def _in_clause(column: str, values: tuple[str, ...]) -> str:
    return f"{column} IN ({', '.join(repr(value) for value in values)})"


ACTIVE_ITEM_WHERE: Final = _in_clause("status", ACTIVE_STATUSES) + " AND kind NOT IN ('qa', 'gold')"
"""SQL predicate of the partial unique index allowing one active item per listing and kind;
qa and gold items are outside it: each audit judges one past decision, and one gold case is
served to several reviewers at once."""


class UtcDateTime(TypeDecorator[datetime]):
    """A timezone-aware UTC timestamp on every dialect.

    PostgreSQL keeps the offset itself; SQLite stores text without one, so values are normalized
    to UTC on the way in (which also keeps SQLite's text comparison chronological) and marked UTC
    on the way out. Naive datetimes are refused rather than guessed.
    """

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError(f"naive datetime {value.isoformat()} given; pass a timezone-aware one")
        return value.astimezone(UTC)

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            return value.replace(tzinfo=UTC)
        return value.astimezone(UTC)


JsonDocument = JSON().with_variant(JSONB(), "postgresql")
WrittenDocument = JSON()
"""A document only ever read back whole, on a table written on every scoring: ``json`` on
PostgreSQL (stored as written, no conversion to ``jsonb`` on insert; migration 0010)."""


class Base(DeclarativeBase):
    """Declarative base holding the metadata that Alembic migrates."""

    metadata = MetaData(naming_convention=NAMING_CONVENTION)
    type_annotation_map: ClassVar[dict[Any, Any]] = {
        datetime: UtcDateTime(),
        dict[str, Any]: JsonDocument,
        dict[str, float]: JsonDocument,
        dict[str, str]: JsonDocument,
        dict[str, bool]: JsonDocument,
        dict[str, bool | None]: JsonDocument,
        list[str]: JsonDocument,
    }


class DecisionRecord(Base):
    """One scoring decision, with everything needed to explain and replay it."""

    __tablename__ = "decisions"
    __table_args__ = (CheckConstraint(_in_clause("action", ACTIONS), name="action"),)

    id: Mapped[str] = mapped_column(String(ID_LENGTH), primary_key=True, default=new_id)
    idempotency_key: Mapped[str] = mapped_column(String(IDEMPOTENCY_KEY_LENGTH), unique=True)
    listing_id: Mapped[str] = mapped_column(String(LISTING_ID_LENGTH), index=True)
    content_hash: Mapped[str] = mapped_column(String(128))
    request_id: Mapped[str] = mapped_column(String(REQUEST_ID_LENGTH))
    market: Mapped[str] = mapped_column(String(16))
    listing: Mapped[dict[str, Any]] = mapped_column(WrittenDocument)
    scores: Mapped[dict[str, float]] = mapped_column(WrittenDocument)
    bands: Mapped[dict[str, str]] = mapped_column(WrittenDocument)
    regulated_category: Mapped[str | None] = mapped_column(String(64))
    category_scores: Mapped[dict[str, float]] = mapped_column(WrittenDocument)
    action: Mapped[str] = mapped_column(String(16))
    explanation: Mapped[dict[str, Any]] = mapped_column(WrittenDocument)
    model_version: Mapped[str] = mapped_column(String(VERSION_LENGTH))
    threshold_set_id: Mapped[str] = mapped_column(String(VERSION_LENGTH))
    policy_version: Mapped[str] = mapped_column(String(VERSION_LENGTH))
    created_at: Mapped[datetime] = mapped_column(default=utc_now, index=True)
    audit_stratum: Mapped[str | None] = mapped_column(String(AUDIT_STRATUM_LENGTH))
    """An automatic decision's audit stratum (``auto_allow:US``); None when a human answered."""
    seller_id: Mapped[str | None] = mapped_column(String(SELLER_ID_LENGTH), index=True)
    """Copied from the listing so that one seller's data can be found and erased."""
    anonymized_at: Mapped[datetime | None]
    """Set when retention stripped the listing's content and free text from this decision."""


class WorkItem(Base):
    """A listing waiting for, held by, or decided by a human: review, senior, appeal, qa, gold.

    Only :mod:`serving.work_items` changes ``status``; each change is a row of
    :class:`WorkItemHistory`.
    """

    __tablename__ = "work_items"
    __table_args__ = (
        CheckConstraint(_in_clause("status", WORK_ITEM_STATUSES), name="status"),
        CheckConstraint(_in_clause("kind", WORK_ITEM_KINDS), name="kind"),
        CheckConstraint(
            "human_action IS NULL OR " + _in_clause("human_action", HUMAN_ACTIONS),
            name="human_action",
        ),
        Index("ix_work_items_kind_status_order_at", "kind", "status", "order_at"),
        Index("ix_work_items_status_lease_expires_at", "status", "lease_expires_at"),
        # A listing's active items, read on every scoring that queues or supersedes: without
        # it SQLite walks every active item through the status index.
        Index("ix_work_items_listing_id_status", "listing_id", "status"),
        Index(
            "uq_work_items_listing_id_kind_active",
            "listing_id",
            "kind",
            unique=True,
            sqlite_where=text(ACTIVE_ITEM_WHERE),
            postgresql_where=text(ACTIVE_ITEM_WHERE),
        ),
    )

    id: Mapped[str] = mapped_column(String(ID_LENGTH), primary_key=True, default=new_id)
    kind: Mapped[str] = mapped_column(String(16), default="review")
    decision_id: Mapped[str] = mapped_column(ForeignKey("decisions.id"), index=True)
    listing_id: Mapped[str] = mapped_column(String(LISTING_ID_LENGTH))
    seller_id: Mapped[str | None] = mapped_column(String(SELLER_ID_LENGTH), index=True)
    parent_id: Mapped[str | None] = mapped_column(String(ID_LENGTH), index=True)
    """The item this one continues (a senior item's escalated item; an appeal's decided item)."""
    excluded_reviewer: Mapped[str | None] = mapped_column(String(REVIEWER_LENGTH))
    """Who may not work this item (an appeal's original decider)."""
    status: Mapped[str] = mapped_column(String(16), default="open")
    priority: Mapped[float] = mapped_column(Float)
    """Hours ahead of its deadline the item is served (the weighted urgency factors)."""
    priority_factors: Mapped[dict[str, float]]
    due_at: Mapped[datetime]
    """The SLA deadline."""
    order_at: Mapped[datetime]
    """``due_at`` minus ``priority`` hours: the queue serves the earliest first."""
    created_at: Mapped[datetime] = mapped_column(default=utc_now)
    updated_at: Mapped[datetime] = mapped_column(default=utc_now)
    claimed_by: Mapped[str | None] = mapped_column(String(REVIEWER_LENGTH))
    claimed_at: Mapped[datetime | None]
    lease_expires_at: Mapped[datetime | None]
    held_until: Mapped[datetime | None]
    decided_by: Mapped[str | None] = mapped_column(String(REVIEWER_LENGTH))
    human_action: Mapped[str | None] = mapped_column(String(16))
    reason_code: Mapped[str | None] = mapped_column(String(REASON_CODE_LENGTH))
    policy_clause: Mapped[str | None] = mapped_column(String(CLAUSE_LENGTH))
    note: Mapped[str | None] = mapped_column(Text)
    decided_at: Mapped[datetime | None]
    audit_stratum: Mapped[str | None] = mapped_column(String(AUDIT_STRATUM_LENGTH), index=True)
    """A decided human item: the audit stratum it was drawn from. A qa item: the audited one's."""
    inclusion_probability: Mapped[float | None] = mapped_column(Float)
    """A qa item: the probability its decision had of being audited (1 / its design weight)."""
    qa_labels: Mapped[dict[str, bool] | None]
    """A qa item's verdict per label: violated or not."""


class WorkItemHistory(Base):
    """One status change of a work item: append-only (who, when, from, to, why)."""

    __tablename__ = "work_item_history"

    id: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"), primary_key=True)
    item_id: Mapped[str] = mapped_column(ForeignKey("work_items.id"), index=True)
    at: Mapped[datetime]
    actor: Mapped[str] = mapped_column(String(REVIEWER_LENGTH))
    event: Mapped[str] = mapped_column(String(32))
    from_status: Mapped[str | None] = mapped_column(String(16))
    to_status: Mapped[str] = mapped_column(String(16))
    reason: Mapped[str | None] = mapped_column(Text)


class HumanVerdict(Base):
    """The latest human decision on one content of a listing: authoritative for that content."""

    __tablename__ = "human_verdicts"

    listing_id: Mapped[str] = mapped_column(String(LISTING_ID_LENGTH), primary_key=True)
    content_hash: Mapped[str] = mapped_column(String(128), primary_key=True)
    action: Mapped[str] = mapped_column(String(16))
    item_id: Mapped[str] = mapped_column(String(ID_LENGTH))
    decided_by: Mapped[str] = mapped_column(String(REVIEWER_LENGTH))
    reason_code: Mapped[str] = mapped_column(String(REASON_CODE_LENGTH))
    decided_at: Mapped[datetime]


class OutcomeEvent(Base):
    """An outcome pipelines hear about (human decision, withdrawal, ...), in commit order."""

    __tablename__ = "events"

    id: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"), primary_key=True)
    at: Mapped[datetime]
    type: Mapped[str] = mapped_column(String(32))
    listing_id: Mapped[str | None] = mapped_column(String(LISTING_ID_LENGTH), index=True)
    seller_id: Mapped[str | None] = mapped_column(String(SELLER_ID_LENGTH), index=True)
    item_id: Mapped[str | None] = mapped_column(String(ID_LENGTH))
    payload: Mapped[dict[str, Any]]


class ApiKey(Base):
    """An API key: the name it stands for, its role, a digest of its secret (never the secret)."""

    __tablename__ = "api_keys"
    __table_args__ = (CheckConstraint(_in_clause("role", KEY_ROLES), name="role"),)

    id: Mapped[str] = mapped_column(String(16), primary_key=True)
    name: Mapped[str] = mapped_column(String(REVIEWER_LENGTH))
    role: Mapped[str] = mapped_column(String(32))
    rate_per_minute: Mapped[int] = mapped_column(Integer)
    digest: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime]
    revoked_at: Mapped[datetime | None]


class AuditEntry(Base):
    """One action outside the work items' own history: append-only."""

    __tablename__ = "audit_log"

    id: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"), primary_key=True)
    at: Mapped[datetime] = mapped_column(index=True)
    actor: Mapped[str] = mapped_column(String(REVIEWER_LENGTH))
    role: Mapped[str | None] = mapped_column(String(32))
    action: Mapped[str] = mapped_column(String(64))
    target: Mapped[str | None] = mapped_column(String(LISTING_ID_LENGTH))
    detail: Mapped[dict[str, Any]]
    request_id: Mapped[str | None] = mapped_column(String(REQUEST_ID_LENGTH))


class Strike(Base):
    """A confirmed violation counted against a seller until it expires or is lifted."""

    __tablename__ = "strikes"
    __table_args__ = (CheckConstraint(_in_clause("source", STRIKE_SOURCES), name="source"),)

    id: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"), primary_key=True)
    seller_id: Mapped[str] = mapped_column(String(SELLER_ID_LENGTH), index=True)
    listing_id: Mapped[str] = mapped_column(String(LISTING_ID_LENGTH))
    decision_id: Mapped[str] = mapped_column(String(ID_LENGTH))
    item_id: Mapped[str | None] = mapped_column(String(ID_LENGTH))
    labels: Mapped[list[str]]
    severity: Mapped[int] = mapped_column(Integer)
    source: Mapped[str] = mapped_column(String(16))
    created_at: Mapped[datetime]
    expires_at: Mapped[datetime]
    removed_at: Mapped[datetime | None]
    removed_reason: Mapped[str | None] = mapped_column(Text)


class GoldCase(Base):
    """A listing whose right answer QA confirmed: served to reviewers at a set rate, looking
    like any review item, to measure each reviewer's accuracy; a case of the case library."""

    __tablename__ = "gold_cases"
    __table_args__ = (
        CheckConstraint(_in_clause("action", HUMAN_ACTIONS), name="action"),
        CheckConstraint(_in_clause("source", GOLD_SOURCES), name="source"),
    )

    id: Mapped[str] = mapped_column(String(ID_LENGTH), primary_key=True, default=new_id)
    decision_id: Mapped[str] = mapped_column(ForeignKey("decisions.id"), index=True)
    source_item_id: Mapped[str] = mapped_column(ForeignKey("work_items.id"), unique=True)
    source: Mapped[str] = mapped_column(String(16))
    action: Mapped[str] = mapped_column(String(16))
    violations: Mapped[dict[str, bool | None]]
    reason_code: Mapped[str] = mapped_column(String(REASON_CODE_LENGTH))
    policy_clause: Mapped[str | None] = mapped_column(String(CLAUSE_LENGTH))
    rationale: Mapped[str] = mapped_column(Text)
    answered_by: Mapped[str] = mapped_column(String(REVIEWER_LENGTH))
    """Who decided the source item: never served this case."""
    created_by: Mapped[str] = mapped_column(String(REVIEWER_LENGTH))
    created_at: Mapped[datetime]
    retired_at: Mapped[datetime | None]


class ShadowScore(Base):
    """What a challenger scored in shadow for a decision: same request, the champion decided."""

    __tablename__ = "shadow_scores"
    __table_args__ = (CheckConstraint(_in_clause("action", ACTIONS), name="action"),)

    decision_id: Mapped[str] = mapped_column(ForeignKey("decisions.id"), primary_key=True)
    model_version: Mapped[str] = mapped_column(String(VERSION_LENGTH))
    threshold_set_id: Mapped[str] = mapped_column(String(VERSION_LENGTH))
    scores: Mapped[dict[str, float]]
    bands: Mapped[dict[str, str]]
    action: Mapped[str] = mapped_column(String(16))
    """What the challenger's scores and edges, under the same policy, would have done."""
    created_at: Mapped[datetime] = mapped_column(index=True)


class ThresholdSetRecord(Base):
    """A model's band edges and what they promise, per label, stored once for every decision
    made with them (a decision keeps ``model_version`` and ``threshold_set_id``; its answer
    shows the edges). Written by :mod:`serving.threshold_sets`; never changed."""

    __tablename__ = "threshold_sets"

    model_version: Mapped[str] = mapped_column(String(VERSION_LENGTH), primary_key=True)
    threshold_set_id: Mapped[str] = mapped_column(String(VERSION_LENGTH), primary_key=True)
    edges: Mapped[dict[str, Any]]
    """Per label: ``allow``, ``enforce`` and ``guarantee`` (as a decision's answer shows them)."""
    created_at: Mapped[datetime]
