"""The human review queue: listing, claiming and deciding queued listings.

Claims are leases: an item claimed longer ago than ``lease_seconds`` can be claimed by another
reviewer. Concurrent reviewers never receive the same item. On PostgreSQL the candidate row is
locked with ``FOR UPDATE SKIP LOCKED``, so each reviewer skips rows another is taking; SQLite has
no row locks, so every state change is a compare-and-set ``UPDATE`` that only succeeds if the row
still looks as it was read, and a lost race moves on to the next candidate.
"""

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Final, NoReturn, cast

from sqlalchemy import ColumnElement, CursorResult, Select, and_, func, or_, select, update
from sqlalchemy.orm import QueryableAttribute, Session, sessionmaker

from data.schema import ASCII_WHITESPACE
from serving.errors import (
    InvalidReviewError,
    ItemAlreadyDecidedError,
    ItemNotClaimedError,
    ItemNotFoundError,
    QueueContentionError,
)
from serving.tables import (
    REVIEW_ACTIONS,
    REVIEW_STATUSES,
    REVIEWER_LENGTH,
    DecisionRecord,
    ReviewItem,
    is_record_id,
    utc_now,
)

MAX_REASON_CHARS: Final = 2000
MAX_PAGE_SIZE: Final = 500
MAX_OFFSET: Final = 1_000_000_000
"""Far beyond any queue, and inside every database's 64-bit OFFSET."""
DEFAULT_LEASE_SECONDS: Final = 900
MAX_CLAIM_ATTEMPTS: Final = 50
"""Each lost race means another reviewer took an item, so this bound is only ever a safeguard."""


@dataclass(frozen=True, slots=True)
class QueueItem:
    """A review item with what a reviewer needs from its decision, detached from any session."""

    id: str
    decision_id: str
    listing_id: str
    status: str
    priority: float
    created_at: datetime
    updated_at: datetime
    claimed_by: str | None
    claimed_at: datetime | None
    decided_by: str | None
    reviewer_action: str | None
    reviewer_reason: str | None
    decided_at: datetime | None
    title: str
    scores: dict[str, float]
    action: str
    explanation: dict[str, Any]


def list_items(
    session_factory: sessionmaker[Session],
    *,
    status: str | None = None,
    limit: int = 50,
    offset: int = 0,
) -> list[QueueItem]:
    """Items (optionally of one ``status``), highest priority first, then oldest first."""
    _check_status(status)
    if not 1 <= limit <= MAX_PAGE_SIZE:
        raise InvalidReviewError(f"limit must be between 1 and {MAX_PAGE_SIZE}, got {limit}")
    if not 0 <= offset <= MAX_OFFSET:
        raise InvalidReviewError(f"offset must be between 0 and {MAX_OFFSET}, got {offset}")
    query = _queue_query().order_by(*_queue_order()).limit(limit).offset(offset)
    if status is not None:
        query = query.where(ReviewItem.status == status)
    with session_factory() as session:
        rows = session.execute(query).all()
        return [_to_queue_item(item, decision) for item, decision in rows]


def count_items(session_factory: sessionmaker[Session], *, status: str | None = None) -> int:
    """How many items there are (optionally of one ``status``)."""
    _check_status(status)
    query = select(func.count()).select_from(ReviewItem)
    if status is not None:
        query = query.where(ReviewItem.status == status)
    with session_factory() as session:
        return int(session.scalar(query) or 0)


def get_item(session_factory: sessionmaker[Session], item_id: str) -> QueueItem | None:
    """The item with ``item_id``, or ``None`` if there is none."""
    with session_factory() as session:
        return _load_item(session, item_id)


def claim_next(
    session_factory: sessionmaker[Session],
    reviewer: str,
    *,
    lease_seconds: int = DEFAULT_LEASE_SECONDS,
    now: datetime | None = None,
) -> QueueItem | None:
    """Claim the most urgent claimable item for ``reviewer``; ``None`` when nothing is claimable.

    Claimable: open, or claimed longer than ``lease_seconds`` before ``now`` (default: the current
    time). Among those, the highest priority wins, then the oldest.
    """
    reviewer = _check_reviewer(reviewer)
    if lease_seconds <= 0:
        raise InvalidReviewError(f"lease_seconds must be positive, got {lease_seconds}")
    if now is not None and now.tzinfo is None:
        raise InvalidReviewError(f"now = {now.isoformat()} is naive; pass a timezone-aware time")
    claimed_at = now or utc_now()
    stale_before = claimed_at - timedelta(seconds=lease_seconds)
    for _ in range(MAX_CLAIM_ATTEMPTS):
        with session_factory.begin() as session:
            candidate = session.scalars(_candidate_query(stale_before)).first()
            if candidate is None:
                return None
            if _claim(session, candidate, reviewer, claimed_at):
                return _require_item(session, candidate.id)
    raise QueueContentionError(MAX_CLAIM_ATTEMPTS)


def decide(
    session_factory: sessionmaker[Session],
    item_id: str,
    reviewer: str,
    action: str,
    reason: str,
) -> QueueItem:
    """Record ``reviewer``'s ``action`` on an item they hold a claim on, closing it.

    Raises :class:`ItemNotFoundError`, :class:`ItemAlreadyDecidedError` or
    :class:`ItemNotClaimedError` (someone else, or nobody, holds it).
    """
    reviewer = _check_reviewer(reviewer)
    if action not in REVIEW_ACTIONS:
        raise InvalidReviewError(
            f"action = {action!r}; expected one of {', '.join(REVIEW_ACTIONS)}"
        )
    if len(reason) > MAX_REASON_CHARS:
        raise InvalidReviewError(
            f"reason is {len(reason)} characters; the limit is {MAX_REASON_CHARS}"
        )
    if not is_record_id(item_id):
        raise ItemNotFoundError(item_id)
    with session_factory.begin() as session:
        decided = _close(session, item_id, reviewer, action, reason)
        if not decided:
            _raise_why_not_decidable(session, item_id, reviewer)
        return _require_item(session, item_id)


def _check_reviewer(reviewer: str) -> str:
    # ASCII whitespace only: the same notion of blank as the API's NON_BLANK_PATTERN.
    cleaned = reviewer.strip(ASCII_WHITESPACE)
    if not cleaned or len(cleaned) > REVIEWER_LENGTH:
        raise InvalidReviewError(
            f"reviewer must be 1 to {REVIEWER_LENGTH} non-blank characters, "
            f"got {len(cleaned)}: {reviewer[:40]!r}"
        )
    return cleaned


def _check_status(status: str | None) -> None:
    if status is not None and status not in REVIEW_STATUSES:
        raise InvalidReviewError(
            f"status = {status!r}; expected one of {', '.join(REVIEW_STATUSES)}"
        )


def _queue_query() -> Select[ReviewItem, DecisionRecord]:
    return select(ReviewItem, DecisionRecord).join(
        DecisionRecord, ReviewItem.decision_id == DecisionRecord.id
    )


def _queue_order() -> tuple[ColumnElement[Any], ...]:
    return (ReviewItem.priority.desc(), ReviewItem.created_at.asc(), ReviewItem.id.asc())


def _candidate_query(stale_before: datetime) -> Select[ReviewItem]:
    claimable = or_(
        ReviewItem.status == "open",
        and_(ReviewItem.status == "claimed", ReviewItem.claimed_at < stale_before),
    )
    return (
        select(ReviewItem)
        .where(claimable)
        .order_by(*_queue_order())
        .limit(1)
        .with_for_update(skip_locked=True)
    )


def _claim(session: Session, seen: ReviewItem, reviewer: str, claimed_at: datetime) -> bool:
    """Compare-and-set: claim ``seen`` only if its status and claim are still as read."""
    statement = (
        update(ReviewItem)
        .where(
            ReviewItem.id == seen.id,
            ReviewItem.status == seen.status,
            _same_or_null(ReviewItem.claimed_by, seen.claimed_by),
            _same_or_null(ReviewItem.claimed_at, seen.claimed_at),
        )
        .values(status="claimed", claimed_by=reviewer, claimed_at=claimed_at, updated_at=claimed_at)
        .execution_options(synchronize_session=False)
    )
    return _changed_one_row(session, statement)


def _close(session: Session, item_id: str, reviewer: str, action: str, reason: str) -> bool:
    """Compare-and-set: decide the item only while ``reviewer`` holds its claim."""
    decided_at = utc_now()
    statement = (
        update(ReviewItem)
        .where(
            ReviewItem.id == item_id,
            ReviewItem.status == "claimed",
            ReviewItem.claimed_by == reviewer,
        )
        .values(
            status="decided",
            decided_by=reviewer,
            reviewer_action=action,
            reviewer_reason=reason,
            decided_at=decided_at,
            updated_at=decided_at,
        )
        .execution_options(synchronize_session=False)
    )
    return _changed_one_row(session, statement)


def _changed_one_row(session: Session, statement: Any) -> bool:
    result = cast("CursorResult[Any]", session.execute(statement))
    return result.rowcount == 1


def _same_or_null(column: QueryableAttribute[Any], value: object) -> ColumnElement[bool]:
    return column.is_(None) if value is None else column == value


def _raise_why_not_decidable(session: Session, item_id: str, reviewer: str) -> NoReturn:
    item = session.get(ReviewItem, item_id)
    if item is None:
        raise ItemNotFoundError(item_id)
    if item.status == "decided":
        raise ItemAlreadyDecidedError(item_id, item.decided_by)
    holder = item.claimed_by if item.status == "claimed" else None
    raise ItemNotClaimedError(item_id, reviewer, holder)


def _load_item(session: Session, item_id: str) -> QueueItem | None:
    query = _queue_query().where(ReviewItem.id == item_id)
    row = session.execute(query.execution_options(populate_existing=True)).first()
    return None if row is None else _to_queue_item(row[0], row[1])


def _require_item(session: Session, item_id: str) -> QueueItem:
    item = _load_item(session, item_id)
    if item is None:
        raise ItemNotFoundError(item_id)
    return item


def _to_queue_item(item: ReviewItem, decision: DecisionRecord) -> QueueItem:
    return QueueItem(
        id=item.id,
        decision_id=item.decision_id,
        listing_id=item.listing_id,
        status=item.status,
        priority=item.priority,
        created_at=item.created_at,
        updated_at=item.updated_at,
        claimed_by=item.claimed_by,
        claimed_at=item.claimed_at,
        decided_by=item.decided_by,
        reviewer_action=item.reviewer_action,
        reviewer_reason=item.reviewer_reason,
        decided_at=item.decided_at,
        title=str(decision.listing.get("title", "")),
        scores=dict(decision.scores),
        action=decision.action,
        explanation=dict(decision.explanation),
    )
