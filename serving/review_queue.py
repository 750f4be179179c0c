"""Reading the work queues: pages of items, one item with its listing and decision, history.

Items are served earliest ``order_at`` first (the SLA deadline advanced by the item's urgency;
:mod:`models.review_policy`). Reading first returns expired claims and due holds to the queue
(:func:`serving.work_items.sweep`), so a page never shows a lapsed claim as held. Every change of
status is in :mod:`serving.review_actions` through :mod:`serving.work_items`.
"""

from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any, Final

from sqlalchemy import ColumnElement, Select, func, select
from sqlalchemy.orm import Session, sessionmaker

from serving.errors import InvalidReviewError, ItemNotFoundError
from serving.tables import (
    WORK_ITEM_KINDS,
    WORK_ITEM_STATUSES,
    DecisionRecord,
    WorkItem,
    WorkItemHistory,
    is_record_id,
    utc_now,
)
from serving.work_items import sweep

MAX_PAGE_SIZE: Final = 500
MAX_OFFSET: Final = 1_000_000_000
"""Far beyond any queue, and inside every database's 64-bit OFFSET."""


@dataclass(frozen=True, slots=True)
class QueueItem:
    """A work item with what a reviewer needs from its decision, detached from any session."""

    id: str
    kind: str
    decision_id: str
    listing_id: str
    seller_id: str | None
    parent_id: str | None
    status: str
    priority: float
    priority_factors: dict[str, float]
    due_at: datetime
    created_at: datetime
    updated_at: datetime
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
    listing: dict[str, Any]
    scores: dict[str, float]
    bands: dict[str, str]
    model_action: str
    explanation: dict[str, Any]
    market: str
    content_hash: str
    model_version: str
    policy_version: str
    inclusion_probability: float | None = None
    qa_labels: dict[str, bool] | None = None

    @property
    def title(self) -> str:
        return str(self.listing.get("title", ""))

    def sla_breached(self, now: datetime) -> bool:
        """Decided after its deadline, or still undecided past it."""
        return (self.decided_at or now) > self.due_at

    @property
    def turnaround_seconds(self) -> float | None:
        """Seconds from queueing to the human decision (None while undecided)."""
        if self.decided_at is None:
            return None
        return (self.decided_at - self.created_at).total_seconds()


DISGUISED_KINDS: Final = frozenset({"gold", "second"})
"""Kinds a reviewer sees as plain review items: gold cases and blind second reviews."""
ESCALATED_GOLD_NOTE: Final = "escalated:"
"""How an escalated gold item's note starts (it closes instead of reaching a senior)."""


def as_review_item(item: QueueItem) -> QueueItem:
    """A gold or second item as a reviewer sees it: a review item, with nothing pointing at the
    gold case or the first review."""
    if item.kind not in DISGUISED_KINDS:
        return item
    shown = replace(item, kind="review", parent_id=None, inclusion_probability=None)
    if item.kind == "gold" and item.status == "withdrawn" and item.human_action is None:
        # Released, escalated or lapsed, a gold item closes; to its reviewer it went where a
        # review item goes: back to the queue, or (escalated) to the senior queue.
        escalated = (item.note or "").startswith(ESCALATED_GOLD_NOTE)
        shown = replace(
            shown, kind="senior" if escalated else "review", status="open", claimed_by=None,
            claimed_at=None, lease_expires_at=None, held_until=None, note=None,
        )  # fmt: skip
    return shown


@dataclass(frozen=True, slots=True)
class HistoryEntry:
    at: datetime
    actor: str
    event: str
    from_status: str | None
    to_status: str
    reason: str | None


def list_items(
    session_factory: sessionmaker[Session],
    *,
    kind: str | None = None,
    status: str | None = None,
    limit: int = 50,
    offset: int = 0,
    now: datetime | None = None,
) -> list[QueueItem]:
    """Items (optionally of one ``kind`` and ``status``), most urgent first."""
    _check_filters(kind, status)
    if not 1 <= limit <= MAX_PAGE_SIZE:
        raise InvalidReviewError(f"limit must be between 1 and {MAX_PAGE_SIZE}, got {limit}")
    if not 0 <= offset <= MAX_OFFSET:
        raise InvalidReviewError(f"offset must be between 0 and {MAX_OFFSET}, got {offset}")
    query = _filtered(item_query(), kind, status).order_by(*queue_order())
    with session_factory.begin() as session:
        sweep(session, now or utc_now())
        rows = session.execute(query.limit(limit).offset(offset)).all()
        return [to_queue_item(item, decision) for item, decision in rows]


def count_items(
    session_factory: sessionmaker[Session], *, kind: str | None = None, status: str | None = None
) -> int:
    """How many items there are (optionally of one ``kind`` and ``status``)."""
    _check_filters(kind, status)
    query = _filtered(select(func.count()).select_from(WorkItem), kind, status)
    with session_factory() as session:
        return int(session.scalar(query) or 0)


def get_item(session_factory: sessionmaker[Session], item_id: str) -> QueueItem | None:
    """The item with ``item_id``, or ``None`` if there is none."""
    if not is_record_id(item_id):
        return None
    with session_factory() as session:
        return load_item(session, item_id)


def item_history(session_factory: sessionmaker[Session], item_id: str) -> list[HistoryEntry]:
    """Every status change of the item, oldest first; raises if there is no such item."""
    if not is_record_id(item_id):
        raise ItemNotFoundError(item_id)
    with session_factory() as session:
        if session.get(WorkItem, item_id) is None:
            raise ItemNotFoundError(item_id)
        rows = session.scalars(
            select(WorkItemHistory)
            .where(WorkItemHistory.item_id == item_id)
            .order_by(WorkItemHistory.id)
        )
        return [
            HistoryEntry(r.at, r.actor, r.event, r.from_status, r.to_status, r.reason) for r in rows
        ]


def item_query() -> Select[WorkItem, DecisionRecord]:
    return select(WorkItem, DecisionRecord).join(
        DecisionRecord, WorkItem.decision_id == DecisionRecord.id
    )


def queue_order() -> tuple[ColumnElement[Any], ...]:
    return (WorkItem.order_at.asc(), WorkItem.id.asc())


def load_item(session: Session, item_id: str) -> QueueItem | None:
    query = item_query().where(WorkItem.id == item_id)
    row = session.execute(query.execution_options(populate_existing=True)).first()
    return None if row is None else to_queue_item(row[0], row[1])


def require_item(session: Session, item_id: str) -> QueueItem:
    item = load_item(session, item_id)
    if item is None:
        raise ItemNotFoundError(item_id)
    return item


def to_queue_item(item: WorkItem, decision: DecisionRecord) -> QueueItem:
    return QueueItem(
        id=item.id,
        kind=item.kind,
        decision_id=item.decision_id,
        listing_id=item.listing_id,
        seller_id=item.seller_id,
        parent_id=item.parent_id,
        status=item.status,
        priority=item.priority,
        priority_factors=dict(item.priority_factors),
        due_at=item.due_at,
        created_at=item.created_at,
        updated_at=item.updated_at,
        claimed_by=item.claimed_by,
        claimed_at=item.claimed_at,
        lease_expires_at=item.lease_expires_at,
        held_until=item.held_until,
        decided_by=item.decided_by,
        human_action=item.human_action,
        reason_code=item.reason_code,
        policy_clause=item.policy_clause,
        note=item.note,
        decided_at=item.decided_at,
        listing=dict(decision.listing),
        scores=dict(decision.scores),
        bands=dict(decision.bands),
        model_action=decision.action,
        explanation=dict(decision.explanation),
        market=decision.market,
        content_hash=decision.content_hash,
        model_version=decision.model_version,
        policy_version=decision.policy_version,
        inclusion_probability=item.inclusion_probability,
        qa_labels=dict(item.qa_labels) if item.qa_labels is not None else None,
    )


def _filtered(query: Any, kind: str | None, status: str | None) -> Any:
    if kind is not None:
        query = query.where(WorkItem.kind == kind)
    if status is not None:
        query = query.where(WorkItem.status == status)
    return query


def _check_filters(kind: str | None, status: str | None) -> None:
    if kind is not None and kind not in WORK_ITEM_KINDS:
        raise InvalidReviewError(f"kind = {kind!r}; expected one of {', '.join(WORK_ITEM_KINDS)}")
    if status is not None and status not in WORK_ITEM_STATUSES:
        raise InvalidReviewError(
            f"status = {status!r}; expected one of {', '.join(WORK_ITEM_STATUSES)}"
        )


def holds_measurement(
    session_factory: sessionmaker[Session], reviewer: str, decision_id: str
) -> bool:
    """Whether ``reviewer`` holds an undecided gold or second item on ``decision_id``."""
    with session_factory() as session:
        found = session.scalar(
            select(WorkItem.id)
            .where(WorkItem.decision_id == decision_id, WorkItem.kind.in_(DISGUISED_KINDS))
            .where(WorkItem.claimed_by == reviewer, WorkItem.status.in_(("claimed", "held")))
            .limit(1)
        )
    return found is not None
