"""The outcome feed: human decisions, appeals, penalties, withdrawals, in commit order.

Pipelines poll ``GET /v1/events?after=ID`` with the last id they processed. Ids are assigned in
commit order: on PostgreSQL each writer takes a transaction-scoped advisory lock before its
insert, so a transaction that took a lower id has committed (or rolled back) before a higher one
becomes visible — a consumer never skips an event that commits late. SQLite has one writer at a
time, which gives the same order.
"""

from dataclasses import dataclass
from datetime import datetime
from typing import Any, Final

from sqlalchemy import event, select, text
from sqlalchemy.orm import Session, SessionTransaction, sessionmaker

from serving.decision_rows import add_dependent
from serving.errors import InvalidReviewError
from serving.tables import OutcomeEvent

EVENT_TYPES: Final = (
    "human_decision",
    "escalated",
    "listing_withdrawn",
    "appeal_filed",
    "appeal_outcome",
    "penalty",
)
MAX_EVENTS_PAGE: Final = 1000
FEED_LOCK_KEY: Final = 7_365_001
"""The advisory-lock key that serializes feed writers on PostgreSQL."""
_LOCK: Final = text("SELECT pg_advisory_xact_lock(:key)")
_LOCKED: Final = "listingguard.feed_locked"


@dataclass(frozen=True, slots=True)
class FeedEvent:
    id: int
    at: datetime
    type: str
    listing_id: str | None
    seller_id: str | None
    item_id: str | None
    payload: dict[str, Any]


def append_event(
    session: Session,
    type_: str,
    *,
    listing_id: str | None,
    item_id: str | None,
    at: datetime,
    payload: dict[str, Any],
    seller_id: str | None = None,
) -> None:
    """Add an event to the feed in the caller's transaction (inserted with its other pending
    rows, after the lock: its id still follows every event committed before)."""
    if type_ not in EVENT_TYPES:
        raise ValueError(f"event type {type_!r}; expected one of {', '.join(EVENT_TYPES)}")
    _lock_feed(session)
    add_dependent(
        session,
        OutcomeEvent,
        {
            "at": at,
            "type": type_,
            "listing_id": listing_id,
            "seller_id": seller_id,
            "item_id": item_id,
            "payload": payload,
        },
    )


def _lock_feed(session: Session) -> None:
    """On PostgreSQL, the feed's advisory lock, once per transaction (held to its end). The
    memo is dropped whenever a transaction or savepoint ends (a savepoint's rollback releases a
    lock taken inside it): at worst the lock is asked for again."""
    if session.get_bind().dialect.name != "postgresql":
        return
    # On the connection, not through the ORM: the lock alone, pending rows stay pending. The
    # connection first: it begins the transaction the memo names.
    connection = session.connection()
    if session.info.get(_LOCKED) is True:
        return
    connection.execute(_LOCK, {"key": FEED_LOCK_KEY})
    session.info[_LOCKED] = True


@event.listens_for(Session, "after_transaction_end")
def _forget_lock(session: Session, _transaction: SessionTransaction) -> None:
    session.info.pop(_LOCKED, None)


def events_after(
    session_factory: sessionmaker[Session], after: int, *, limit: int = 100
) -> list[FeedEvent]:
    """Events with an id above ``after``, oldest first, at most ``limit``."""
    if after < 0:
        raise InvalidReviewError(f"after must be 0 or more, got {after}")
    if not 1 <= limit <= MAX_EVENTS_PAGE:
        raise InvalidReviewError(f"limit must be between 1 and {MAX_EVENTS_PAGE}, got {limit}")
    query = select(OutcomeEvent).where(OutcomeEvent.id > after).order_by(OutcomeEvent.id)
    with session_factory() as session:
        return [
            FeedEvent(e.id, e.at, e.type, e.listing_id, e.seller_id, e.item_id, dict(e.payload))
            for e in session.scalars(query.limit(limit))
        ]
