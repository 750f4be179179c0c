"""New decisions as plain rows, inserted together with one multi-row statement.

A batch of decisions was recorded as ORM entities through the unit of work, which cost about as
much as scoring them (building an instrumented entity per row, then sorting and collecting every
row at the flush). A fresh decision is only ever inserted in its transaction, never updated, so
it is kept as a :class:`DecisionRow` and written with one ``INSERT`` per transaction (an
``executemany``: SQLite's, psycopg's pipelined one on PostgreSQL).

Rows that point at a decision (its review or audit item, its strike, its shadow score) stay ORM
entities: the session's flush writes them. A flush of a session with ORM changes — the autoflush
before a query included — first inserts the decisions still pending (``before_flush``); a row
pointing at a decision is such a change, so a foreign key always finds its decision. A query of
``decisions`` in the same transaction does not see decisions still pending (no code reads back a
decision it is recording). The commit inserts the rest (``before_commit``); a rollback, or the
end of a transaction without a commit, drops them. A savepoint cannot begin while decisions are
pending (its rollback could not tell theirs from the outer transaction's).
"""

from dataclasses import dataclass, fields
from datetime import datetime
from typing import Any, Final, Protocol

from sqlalchemy import event, insert
from sqlalchemy.orm import Session, SessionTransaction

from serving.tables import DecisionRecord

_PENDING: Final = "listingguard.pending_decisions"
_INSERT: Final = insert(DecisionRecord.__table__)  # type: ignore[arg-type]


class DecisionFacts(Protocol):
    """What a queue item, an audit draw or a strike reads of its decision: a stored
    :class:`~serving.tables.DecisionRecord` or a :class:`DecisionRow` about to be inserted."""

    @property
    def id(self) -> str: ...

    @property
    def listing_id(self) -> str: ...

    @property
    def seller_id(self) -> str | None: ...

    @property
    def market(self) -> str: ...

    @property
    def created_at(self) -> datetime: ...


@dataclass(slots=True)
class DecisionRow:
    """A decision to insert: one field per column of ``decisions``."""

    id: str
    idempotency_key: str
    listing_id: str
    content_hash: str
    request_id: str
    market: str
    listing: dict[str, Any]
    scores: dict[str, float]
    bands: dict[str, str]
    regulated_category: str | None
    category_scores: dict[str, float]
    action: str
    explanation: dict[str, Any]
    model_version: str
    threshold_set_id: str
    policy_version: str
    created_at: datetime
    seller_id: str | None
    audit_stratum: str | None = None
    anonymized_at: datetime | None = None


_COLUMNS: Final = tuple(field.name for field in fields(DecisionRow))
"""Every column of ``decisions`` (a test holds the two together)."""


AnyDecision = DecisionRecord | DecisionRow
"""A decision stored, or inserted by this transaction."""


def add_pending(session: Session, row: DecisionRow) -> None:
    """Insert ``row`` at the session's next flush or commit, whichever comes first."""
    session.info.setdefault(_PENDING, []).append(row)


def write_pending(session: Session) -> None:
    """Insert the decisions added since the last write, in one statement."""
    rows: list[DecisionRow] | None = session.info.pop(_PENDING, None)
    if rows:
        values = [{name: getattr(row, name) for name in _COLUMNS} for row in rows]
        session.connection().execute(_INSERT, values)


@event.listens_for(Session, "before_flush")
def _before_flush(session: Session, _context: object, _instances: object) -> None:
    write_pending(session)


@event.listens_for(Session, "before_commit")
def _before_commit(session: Session) -> None:
    write_pending(session)


@event.listens_for(Session, "after_rollback")
def _after_rollback(session: Session) -> None:
    session.info.pop(_PENDING, None)  # the transaction is gone: none of its rows may be written


@event.listens_for(Session, "after_transaction_create")
def _refuse_savepoint(session: Session, transaction: SessionTransaction) -> None:
    if transaction.nested and session.info.get(_PENDING):
        raise PendingDecisionsError(
            "a savepoint began while decisions were pending: record decisions outside savepoints"
        )


@event.listens_for(Session, "after_transaction_end")
def _after_transaction_end(session: Session, transaction: SessionTransaction) -> None:
    if transaction.parent is None:  # the outermost: a session closed without a commit
        session.info.pop(_PENDING, None)


class PendingDecisionsError(RuntimeError):
    """Decision rows were pending where they could be lost (a savepoint beginning)."""
