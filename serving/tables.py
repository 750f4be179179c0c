"""Database tables of the serving layer: recorded decisions and the human review queue.

The schema is created and changed only by the Alembic migrations in ``serving/migrations``;
this module is their ``target_metadata`` and the ORM mapping the stores use.
"""

import uuid
from datetime import UTC, datetime
from typing import Any, ClassVar, Final

from sqlalchemy import (
    JSON,
    CheckConstraint,
    DateTime,
    Dialect,
    Float,
    ForeignKey,
    Index,
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

REVIEW_STATUSES: Final = ("open", "claimed", "decided", "superseded")
"""Life cycle of a review item: waiting, held by a reviewer, closed with a reviewer action, or
closed because the listing was re-scored to a decision that needs no review."""

ACTIVE_REVIEW_STATUSES: Final = ("open", "claimed")
"""Statuses of an item still in the queue; a listing has at most one such item."""

REVIEW_ACTIONS: Final = ("allow", "block", "escalate")
"""What a reviewer may decide for a queued listing."""

ID_LENGTH: Final = 32
REQUEST_ID_LENGTH: Final = 100
IDEMPOTENCY_KEY_LENGTH: Final = 64
LISTING_ID_LENGTH: Final = 200
SELLER_ID_LENGTH: Final = 200
REVIEWER_LENGTH: Final = 100
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
    """A fresh 32-character hexadecimal identifier."""
    return uuid.uuid4().hex


def is_record_id(value: str) -> bool:
    """Whether ``value`` could be an id :func:`new_id` made; others need no database lookup."""
    return len(value) == ID_LENGTH and all(char in "0123456789abcdef" for char in value)


def utc_now() -> datetime:
    """The current time, timezone-aware in UTC."""
    return datetime.now(UTC)


def _in_clause(column: str, values: tuple[str, ...]) -> str:
    return f"{column} IN ({', '.join(repr(value) for value in values)})"


ACTIVE_ITEM_WHERE: Final = _in_clause("status", ACTIVE_REVIEW_STATUSES)
"""SQL predicate of the partial unique index allowing one active item per listing."""


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


class Base(DeclarativeBase):
    """Declarative base holding the metadata that Alembic migrates."""

    metadata = MetaData(naming_convention=NAMING_CONVENTION)
    type_annotation_map: ClassVar[dict[Any, Any]] = {
        datetime: UtcDateTime(),
        dict[str, Any]: JsonDocument,
        dict[str, float]: JsonDocument,
        dict[str, str]: JsonDocument,
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
    listing: Mapped[dict[str, Any]]
    scores: Mapped[dict[str, float]]
    bands: Mapped[dict[str, str]]
    regulated_category: Mapped[str | None] = mapped_column(String(64))
    category_scores: Mapped[dict[str, float]]
    action: Mapped[str] = mapped_column(String(16))
    explanation: Mapped[dict[str, Any]]
    model_version: Mapped[str] = mapped_column(String(VERSION_LENGTH))
    threshold_set_id: Mapped[str] = mapped_column(String(VERSION_LENGTH))
    policy_version: Mapped[str] = mapped_column(String(VERSION_LENGTH))
    created_at: Mapped[datetime] = mapped_column(default=utc_now, index=True)
    seller_id: Mapped[str | None] = mapped_column(String(SELLER_ID_LENGTH), index=True)
    """Copied from the listing so that one seller's data can be found and erased."""
    anonymized_at: Mapped[datetime | None]
    """Set when retention stripped the listing's content and free text from this decision."""


class ReviewItem(Base):
    """A listing waiting for, held by, or decided by a human reviewer."""

    __tablename__ = "review_items"
    __table_args__ = (
        CheckConstraint(_in_clause("status", REVIEW_STATUSES), name="status"),
        CheckConstraint(
            "reviewer_action IS NULL OR " + _in_clause("reviewer_action", REVIEW_ACTIONS),
            name="reviewer_action",
        ),
        Index("ix_review_items_status_priority_created_at", "status", "priority", "created_at"),
        Index(
            "uq_review_items_listing_id_active",
            "listing_id",
            unique=True,
            sqlite_where=text(ACTIVE_ITEM_WHERE),
            postgresql_where=text(ACTIVE_ITEM_WHERE),
        ),
    )

    id: Mapped[str] = mapped_column(String(ID_LENGTH), primary_key=True, default=new_id)
    decision_id: Mapped[str] = mapped_column(ForeignKey("decisions.id"), index=True)
    listing_id: Mapped[str] = mapped_column(String(LISTING_ID_LENGTH))
    status: Mapped[str] = mapped_column(String(16), default="open")
    priority: Mapped[float] = mapped_column(Float)
    created_at: Mapped[datetime] = mapped_column(default=utc_now)
    updated_at: Mapped[datetime] = mapped_column(default=utc_now)
    claimed_by: Mapped[str | None] = mapped_column(String(REVIEWER_LENGTH))
    claimed_at: Mapped[datetime | None]
    decided_by: Mapped[str | None] = mapped_column(String(REVIEWER_LENGTH))
    reviewer_action: Mapped[str | None] = mapped_column(String(16))
    reviewer_reason: Mapped[str | None] = mapped_column(Text)
    decided_at: Mapped[datetime | None]
