"""The one writer of work-item status: every move is a compare-and-set plus a history row.

Callers pass the row as they read it; the ``UPDATE`` only applies while the row still has that
status (and, for a reviewer's move, that claim holder), so two racing moves cannot both apply:
the loser sees ``False`` and decides what to tell its user. On PostgreSQL the claim query
additionally locks its candidate (``FOR UPDATE SKIP LOCKED``). The move and its history row
are written in the caller's transaction, so neither exists without the other.
"""

from collections.abc import Mapping
from datetime import datetime, timedelta
from typing import Any, Final, cast

from sqlalchemy import CursorResult, select, update
from sqlalchemy.orm import Session

from models.review_policy import Urgency
from serving.decision_rows import DecisionFacts, add_dependent
from serving.tables import (
    ACTIVE_STATUSES,
    HumanVerdict,
    WorkItem,
    WorkItemHistory,
    new_id,
)
from serving.work_item_states import next_status

SYSTEM_ACTOR: Final = "system"
MAX_SWEEP: Final = 200
"""Expired leases and due holds returned to the queue per sweep; the next sweep takes the rest."""


def open_item(
    session: Session,
    decision: DecisionFacts,
    urgency: Urgency,
    *,
    kind: str,
    now: datetime,
    actor: str = SYSTEM_ACTOR,
    parent_id: str | None = None,
    reason: str | None = None,
) -> WorkItem:
    """Queue a new ``open`` item of ``kind`` for ``decision``'s listing (history: ``open``).

    Its id is drawn here, so item and history row are inserted at the session's next flush,
    with the rest of the transaction's rows (a batch of decisions flushes its items together);
    a second active item of the listing and kind fails there, on the unique index.
    """
    item = WorkItem(id=new_id(), kind=kind, decision_id=decision.id, listing_id=decision.listing_id)
    item.seller_id = decision.seller_id
    item.parent_id = parent_id
    item.status = "open"
    item.created_at = item.updated_at = now
    _set_urgency(item, urgency, now)
    session.add(item)
    _write_history(session, item.id, now, actor, "open", None, "open", reason)
    return item


def repoint(session: Session, item: WorkItem, decision: DecisionFacts, urgency: Urgency) -> None:
    """Point an active item at a newer decision of its listing (the content was re-scored).

    Its deadline stays where it was: re-scoring does not buy a listing more time.
    """
    item.decision_id = decision.id
    item.priority = urgency.advance_hours
    item.priority_factors = dict(urgency.factors)
    item.order_at = item.due_at - timedelta(hours=urgency.advance_hours)
    item.updated_at = decision.created_at


def move(
    session: Session,
    seen: WorkItem,
    event: str,
    *,
    actor: str,
    now: datetime,
    reason: str | None = None,
    holder: str | None = None,
    values: Mapping[str, Any] | None = None,
) -> bool:
    """Apply ``event`` to ``seen`` if it is still as read (and held by ``holder``, if given).

    "As read" is the status and ``updated_at``, which every move and re-point sets: a row that
    left the read status and came back to it (a lapsed claim taken by someone else) no longer
    matches, so a stale reader can neither expire a fresh claim nor decide someone else's.
    Raises :class:`~serving.errors.IllegalTransitionError` when the state machine forbids the
    move from ``seen.status``; returns ``False`` when another writer changed the row first.
    """
    target = next_status(event, seen.status, kind=seen.kind)
    conditions = [
        WorkItem.id == seen.id,
        WorkItem.status == seen.status,
        WorkItem.updated_at == seen.updated_at,
    ]
    if holder is not None:
        conditions.append(WorkItem.claimed_by == holder)
    changes = {**(values or {}), "status": target, "updated_at": now}
    if target == "open":
        changes |= {"claimed_by": None, "claimed_at": None, "lease_expires_at": None}
        changes |= {"held_until": None}
    statement = (
        update(WorkItem)
        .where(*conditions)
        .values(**changes)
        .execution_options(synchronize_session=False)
    )
    result = cast("CursorResult[Any]", session.execute(statement))
    if result.rowcount != 1:
        return False
    _write_history(session, seen.id, now, actor, event, seen.status, target, reason)
    return True


def sweep(session: Session, now: datetime) -> int:
    """Return expired claims and due holds to the queue (history: ``expire`` / ``hold_due``);
    a lapsed gold item closes instead."""
    expired = session.scalars(
        select(WorkItem)
        .where(WorkItem.status == "claimed", WorkItem.lease_expires_at < now)
        .limit(MAX_SWEEP)
    ).all()
    due = session.scalars(
        select(WorkItem)
        .where(WorkItem.status == "held", WorkItem.held_until < now)
        .limit(MAX_SWEEP)
    ).all()
    moved = 0
    for item, event, why in [(i, "expire", "claim lease expired") for i in expired] + [
        (i, "hold_due", "hold time reached") for i in due
    ]:
        if item.kind == "gold":  # a gold case is not real work: it closes, nobody else gets it
            event = "withdraw"
        moved += move(session, item, event, actor=SYSTEM_ACTOR, now=now, reason=why)
    return moved


def active_items(session: Session, listing_id: str, *, lock: bool = False) -> list[WorkItem]:
    """The listing's items not yet closed (at most one per kind)."""
    query = select(WorkItem).where(
        WorkItem.listing_id == listing_id, WorkItem.status.in_(ACTIVE_STATUSES)
    )
    return list(session.scalars(query.with_for_update() if lock else query))


def record_verdict(
    session: Session,
    item: WorkItem,
    content_hash: str,
    *,
    action: str,
    reviewer: str,
    code: str,
    at: datetime,
) -> None:
    """Make a human decision authoritative for the listing's current content."""
    verdict = session.get(HumanVerdict, (item.listing_id, content_hash), with_for_update=True)
    if verdict is None:
        verdict = HumanVerdict(listing_id=item.listing_id, content_hash=content_hash)
        session.add(verdict)
    verdict.action = action
    verdict.item_id = item.id
    verdict.decided_by = reviewer
    verdict.reason_code = code
    verdict.decided_at = at
    session.flush()


def _set_urgency(item: WorkItem, urgency: Urgency, now: datetime) -> None:
    item.priority = urgency.advance_hours
    item.priority_factors = dict(urgency.factors)
    item.due_at = now + timedelta(hours=urgency.sla_hours)
    item.order_at = item.due_at - timedelta(hours=urgency.advance_hours)


def _write_history(
    session: Session,
    item_id: str,
    at: datetime,
    actor: str,
    event: str,
    from_status: str | None,
    to_status: str,
    reason: str | None,
) -> None:
    add_dependent(
        session,
        WorkItemHistory,
        {
            "item_id": item_id,
            "at": at,
            "actor": actor,
            "event": event,
            "from_status": from_status,
            "to_status": to_status,
            "reason": reason,
        },
    )
