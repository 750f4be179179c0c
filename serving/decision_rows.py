"""Rows inserted together at the next flush or commit: new decisions, and the rows written
beside them that nothing reads back by id (work-item history, strikes, outcome events).

A batch of decisions was recorded as ORM entities through the unit of work, which cost about as
much as scoring them (building an instrumented entity per row, then sorting and collecting every
row at the flush). A fresh decision is only ever inserted in its transaction, never updated, so
it is kept as a :class:`DecisionRow` and the rows pending are written with one statement (an
``executemany`` on SQLite, a ``COPY`` on PostgreSQL) — once per transaction, unless the
transaction reads in between (below). History rows, strikes and
events have integer keys the database assigns; as ORM entities SQLite inserted them one
statement per row (it cannot return generated keys of a multi-row insert in order), so they are
plain values too (:func:`add_dependent`), inserted with one statement per table.

Rows that point at a decision (its review or audit item, its shadow score) stay ORM entities:
the session's flush writes them. Decisions go first — before the ORM's rows at every flush
(``before_flush``), so a foreign key always finds its decision — and dependent rows right after
the ORM's (``after_flush``), so theirs always find their work item. Any ORM statement of the
session (a query, an ORM update) first writes what is pending (``do_orm_execute``), so the
transaction reads its own rows (a Core read on the session's connection calls
:func:`write_everything` first); the commit writes the rest (``before_commit``); a rollback, or
the end of a transaction without a commit, drops them. A savepoint cannot begin while rows are
pending (its rollback could not tell theirs from the outer transaction's). Values are read when
written, not when added: a caller must not change a document after adding it.
"""

from dataclasses import dataclass, fields
from datetime import UTC, datetime
from typing import Any, Final, Protocol, cast

from sqlalchemy import JSON, Connection, event, insert
from sqlalchemy.exc import DBAPIError
from sqlalchemy.orm import ORMExecuteState, Session, SessionTransaction

from serving.db import json_text
from serving.tables import Base, DecisionRecord

_PENDING: Final = "listingguard.pending_decisions"
_DEPENDENT: Final = "listingguard.pending_dependent_rows"
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
_DOCUMENTS: Final = frozenset(
    column.name for column in DecisionRecord.__table__.columns if isinstance(column.type, JSON)
)
_COPY: Final = f"COPY decisions ({', '.join(_COLUMNS)}) FROM STDIN"


AnyDecision = DecisionRecord | DecisionRow
"""A decision stored, or inserted by this transaction."""


def add_pending(session: Session, row: DecisionRow) -> None:
    """Insert ``row`` at the session's next flush, ORM statement or commit, whichever is first."""
    session.info.setdefault(_PENDING, []).append(row)


def add_dependent(session: Session, entity: type[Base], values: dict[str, Any]) -> None:
    """Insert a row of ``entity``'s table (``values`` by column; the database assigns its key)
    after the session's next flush of ORM rows, before its next ORM statement, or at its
    commit."""
    session.info.setdefault(_DEPENDENT, []).append((entity, values))


def write_pending(session: Session) -> None:
    """Insert the decisions added since the last write, in one statement."""
    rows: list[DecisionRow] | None = session.info.pop(_PENDING, None)
    if not rows:
        return
    connection = session.connection()
    if connection.dialect.name == "postgresql":
        _copy_rows(connection, rows)
    else:
        connection.execute(
            _INSERT, [{name: getattr(row, name) for name in _COLUMNS} for row in rows]
        )


def _copy_rows(connection: Connection, rows: list[DecisionRow]) -> None:
    """PostgreSQL: the rows through ``COPY`` (half the time of psycopg's pipelined executemany
    for a batch of 256, measured), with the values the column types would bind: documents as
    JSON text, times in UTC. A driver error is raised as SQLAlchemy raises it (a repeated key
    as :class:`~sqlalchemy.exc.IntegrityError`; a lost connection invalidated)."""
    import psycopg  # the PostgreSQL driver: imported where PostgreSQL is used

    driver: Any = connection.connection.driver_connection
    try:
        with driver.cursor() as cursor, cursor.copy(_COPY) as copy:
            for row in rows:
                copy.write_row([_copy_value(name, getattr(row, name)) for name in _COLUMNS])
    except psycopg.Error as error:
        lost = connection.dialect.is_disconnect(cast(Any, error), driver, None)
        if lost:
            connection.invalidate(error)
        raise DBAPIError.instance(
            _COPY, None, error, psycopg.Error, connection_invalidated=lost,
            dialect=connection.dialect,
        ) from error  # fmt: skip


def _copy_value(name: str, value: Any) -> Any:
    if value is None:
        return None
    if name in _DOCUMENTS:
        return json_text(value)
    if isinstance(value, datetime):
        if value.tzinfo is None:
            raise ValueError(f"naive datetime in {name}; pass a timezone-aware one")
        return value.astimezone(UTC)
    return value


def _write_dependent(session: Session) -> None:
    """Insert the dependent rows added since the last write: one statement per table (and set
    of columns), each table's rows in the order they were added."""
    pending: list[tuple[type[Base], dict[str, Any]]] | None = session.info.pop(_DEPENDENT, None)
    if not pending:
        return
    groups: dict[tuple[type[Base], tuple[str, ...]], list[dict[str, Any]]] = {}
    for entity, values in pending:
        groups.setdefault((entity, tuple(values)), []).append(values)
    connection = session.connection()
    for (entity, _), rows in groups.items():
        connection.execute(insert(entity), rows)


def write_everything(session: Session) -> None:
    """Decisions, the ORM's rows, then dependent rows: the order their foreign keys need. For a
    Core read on the session's connection, which no ORM hook sees, so that it reads the
    transaction's own rows."""
    write_pending(session)
    if session.info.get(_DEPENDENT):
        session.flush()  # its after_flush writes them when there are ORM rows to flush
        _write_dependent(session)


@event.listens_for(Session, "before_flush")
def _before_flush(session: Session, _context: object, _instances: object) -> None:
    write_pending(session)


@event.listens_for(Session, "after_flush")
def _after_flush(session: Session, _context: object) -> None:
    _write_dependent(session)


@event.listens_for(Session, "do_orm_execute")
def _before_statement(state: ORMExecuteState) -> None:
    session = state.session
    if session.info.get(_PENDING) or session.info.get(_DEPENDENT):
        write_everything(session)


@event.listens_for(Session, "before_commit")
def _before_commit(session: Session) -> None:
    write_everything(session)


@event.listens_for(Session, "after_rollback")
def _after_rollback(session: Session) -> None:
    _drop_pending(session)  # the transaction is gone: none of its rows may be written


@event.listens_for(Session, "after_transaction_create")
def _refuse_savepoint(session: Session, transaction: SessionTransaction) -> None:
    if transaction.nested and (session.info.get(_PENDING) or session.info.get(_DEPENDENT)):
        raise PendingDecisionsError(
            "a savepoint began while rows were pending (decisions, history, strikes or events): "
            "write them before it or outside savepoints"
        )


@event.listens_for(Session, "after_transaction_end")
def _after_transaction_end(session: Session, transaction: SessionTransaction) -> None:
    if transaction.parent is None:  # the outermost: a session closed without a commit
        _drop_pending(session)


def _drop_pending(session: Session) -> None:
    session.info.pop(_PENDING, None)
    session.info.pop(_DEPENDENT, None)


class PendingDecisionsError(RuntimeError):
    """Rows were pending where they could be lost (a savepoint beginning)."""
