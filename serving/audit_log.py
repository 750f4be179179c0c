"""The append-only audit log: who did what, when — scores excluded.

Work-item moves are already written, in their own transaction, to ``work_item_history``; every
other action (key management, withdrawals, console sign-ins, policy reloads, data commands) is a
row here. :func:`export_audit` writes both streams, merged in time order, as JSON lines.
"""

import heapq
import json
from collections.abc import Iterator
from datetime import datetime
from typing import IO, Any, Final

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from serving.tables import AuditEntry, WorkItemHistory, utc_now

CHUNK: Final = 1000


def record_action(
    session: Session,
    action: str,
    *,
    actor: str,
    role: str | None,
    target: str | None = None,
    detail: dict[str, Any] | None = None,
    request_id: str | None = None,
) -> None:
    """Append one action to the log in the caller's transaction."""
    session.add(
        AuditEntry(
            at=utc_now(),
            actor=actor,
            role=role,
            action=action,
            target=target,
            detail=detail or {},
            request_id=request_id,
        )
    )


def log_action(session_factory: sessionmaker[Session], action: str, **fields: Any) -> None:
    """:func:`record_action` in a transaction of its own."""
    with session_factory.begin() as session:
        record_action(session, action, **fields)


def export_audit(
    session_factory: sessionmaker[Session], out: IO[str], *, since: datetime | None = None
) -> int:
    """Write audit rows and work-item moves after ``since`` as JSON lines, oldest first."""
    written = 0
    merged = heapq.merge(
        _actions(session_factory, since), _moves(session_factory, since), key=lambda r: r["at"]
    )
    for row in merged:
        out.write(json.dumps(row, default=str) + "\n")
        written += 1
    return written


def _in_time_order(
    session_factory: sessionmaker[Session], table: Any, since: datetime | None
) -> Iterator[Any]:
    """Rows of ``table`` ordered by (at, id), read in chunks (keyset pagination)."""
    last: tuple[datetime, int] | None = None
    while True:
        query = select(table).order_by(table.at, table.id).limit(CHUNK)
        if since is not None:
            query = query.where(table.at >= since)
        if last is not None:
            query = query.where(
                (table.at > last[0]) | ((table.at == last[0]) & (table.id > last[1]))
            )
        with session_factory() as session:
            rows = list(session.scalars(query))
        if not rows:
            return
        yield from rows
        last = (rows[-1].at, rows[-1].id)


def _actions(
    session_factory: sessionmaker[Session], since: datetime | None
) -> Iterator[dict[str, Any]]:
    for row in _in_time_order(session_factory, AuditEntry, since):
        yield {
            "at": row.at,
            "kind": "action",
            "actor": row.actor,
            "role": row.role,
            "action": row.action,
            "target": row.target,
            "detail": row.detail,
            "request_id": row.request_id,
        }


def _moves(
    session_factory: sessionmaker[Session], since: datetime | None
) -> Iterator[dict[str, Any]]:
    for row in _in_time_order(session_factory, WorkItemHistory, since):
        yield {
            "at": row.at,
            "kind": "work_item",
            "actor": row.actor,
            "action": f"item.{row.event}",
            "target": row.item_id,
            "detail": {"from": row.from_status, "to": row.to_status, "reason": row.reason},
        }
