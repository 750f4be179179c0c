"""Fresh decisions inserted as plain rows: one statement per transaction, before anything that
points at them, and never after a rollback; the rows beside them (history, strikes, events)
likewise, after the ORM rows they point at, visible to the transaction's own queries."""

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import fields
from typing import Any

import pytest
from sqlalchemy import event, func, select, text
from sqlalchemy.exc import IntegrityError, OperationalError
from sqlalchemy.orm import Session, sessionmaker

from models.review_policy import StrikePolicy
from serving.decision_rows import DecisionRow, PendingDecisionsError, add_dependent, add_pending
from serving.decision_store import record_decisions
from serving.outcome_events import append_event, events_after
from serving.review_queue import count_items
from serving.seller_health import active_points, insert_strike
from serving.tables import DecisionRecord, WorkItemHistory, new_id, utc_now
from tests.factories import make_new_decision, make_review_decision


@contextmanager
def _decision_inserts(
    session_factory: sessionmaker[Session], table: str = "decisions"
) -> Iterator[list[int]]:
    """The number of parameter sets of each INSERT INTO ``table`` while the block runs."""
    engine = session_factory.kw["bind"]
    seen: list[int] = []
    prefix = f"INSERT INTO {table.upper()} "

    def before(
        _conn: Any, _cursor: Any, statement: str, parameters: Any, _c: Any, many: bool
    ) -> None:
        if statement.lstrip().upper().startswith(prefix):
            seen.append(len(parameters) if many else 1)

    event.listen(engine, "before_cursor_execute", before)
    try:
        yield seen
    finally:
        event.remove(engine, "before_cursor_execute", before)


def _stored(session_factory: sessionmaker[Session]) -> int:
    with session_factory() as session:
        return int(session.scalar(select(func.count()).select_from(DecisionRecord)) or 0)


def test_a_row_has_a_field_for_every_column() -> None:
    columns = set(DecisionRecord.__table__.columns.keys())
    assert {field.name for field in fields(DecisionRow)} == columns


def test_a_batch_inserts_its_decisions_in_one_statement_before_their_queue_items(
    session_factory: sessionmaker[Session],
) -> None:
    batch = [make_new_decision(explanation={"rules": [], "reasons": {}}) for _ in range(5)]
    batch += [make_review_decision() for _ in range(3)]  # queue items point at their decisions
    with _decision_inserts(session_factory) as inserts:
        recorded = record_decisions(session_factory, batch)
    assert all(created for _stored_decision, created in recorded)
    # The autoflush before the first queue lookup may write the decisions so far; never one
    # statement per decision. PostgreSQL takes them through COPY (no INSERT at all).
    if session_factory.kw["bind"].dialect.name == "postgresql":
        assert inserts == []
    else:
        assert sum(inserts) == 8 and len(inserts) <= 2, inserts
    assert _stored(session_factory) == 8
    assert count_items(session_factory) == 3


def _row() -> DecisionRow:
    new = make_new_decision()
    return DecisionRow(
        id=new_id(),
        idempotency_key=new.idempotency_key,
        listing_id=new.listing_id,
        content_hash=new.content_hash,
        request_id=new.request_id,
        market=new.market,
        listing=dict(new.listing),
        scores=dict(new.scores),
        bands=dict(new.bands),
        regulated_category=None,
        category_scores={},
        action="allow",
        explanation={},
        model_version=new.model_version,
        threshold_set_id=new.threshold_set_id,
        policy_version=new.policy_version,
        created_at=utc_now(),
        seller_id=None,
    )


def test_a_rolled_back_transaction_writes_none_of_its_rows_later(
    session_factory: sessionmaker[Session],
) -> None:
    with session_factory() as session:
        with pytest.raises(RuntimeError), session.begin():
            add_pending(session, _row())
            raise RuntimeError("the request failed")
        with session.begin():
            add_pending(session, kept := _row())
    with session_factory() as session:
        assert session.scalars(select(DecisionRecord.id)).all() == [kept.id]


def test_a_session_closed_without_a_commit_drops_its_rows(
    session_factory: sessionmaker[Session],
) -> None:
    session = session_factory()
    session.begin()
    add_pending(session, _row())
    session.close()  # no commit, no rollback event
    with session.begin():
        add_pending(session, kept := _row())
    session.close()
    with session_factory() as reader:
        assert reader.scalars(select(DecisionRecord.id)).all() == [kept.id]


def test_a_savepoint_cannot_begin_while_decisions_are_pending(
    session_factory: sessionmaker[Session],
) -> None:
    with session_factory.begin() as session:
        with session.begin_nested():  # nothing pending: fine
            pass
        add_pending(session, _row())
        with pytest.raises(PendingDecisionsError, match="savepoint"):
            session.begin_nested()
        session.rollback()
    assert _stored(session_factory) == 0


def test_a_batch_writes_its_queue_history_in_one_statement_after_the_items(
    session_factory: sessionmaker[Session],
) -> None:
    """As ORM entities, SQLite inserted history rows one statement each (it cannot return the
    keys of a multi-row insert in order); their items are inserted first (foreign keys)."""
    batch = [make_review_decision() for _ in range(6)]
    with _decision_inserts(session_factory, "work_item_history") as inserts:
        record_decisions(session_factory, batch)
    assert inserts == [6]
    with session_factory() as session:
        events = session.scalars(select(WorkItemHistory.event)).all()
    assert events == ["open"] * 6


def test_a_transaction_reads_its_pending_strikes(session_factory: sessionmaker[Session]) -> None:
    """A strike waits as a plain row; the seller's points read in the same transaction count it
    (the session writes pending rows before its next statement) — the penalty ladder relies
    on it."""
    now = utc_now()
    with session_factory.begin() as session:
        add_pending(session, decision := _row())
        insert_strike(
            session,
            seller_id="seller-1",
            listing_id=decision.listing_id,
            decision_id=decision.id,
            item_id=None,
            labels=["counterfeit"],
            severity=3,
            source="automatic",
            policy=StrikePolicy(),
            now=now,
            points_before=0,
        )
        assert active_points(session, "seller-1", now) == 3
    with session_factory() as session:
        assert active_points(session, "seller-1", now) == 3


def test_events_keep_the_order_they_were_appended_in(
    session_factory: sessionmaker[Session],
) -> None:
    """... written with one statement for the five (the feed's lock: test_feed_lock)."""
    now = utc_now()
    with (
        _decision_inserts(session_factory, "events") as inserts,
        session_factory.begin() as session,
    ):
        for number in range(5):
            append_event(
                session, "penalty", listing_id=None, item_id=None, at=now,
                payload={"number": number}, seller_id="seller-2",
            )  # fmt: skip
    assert inserts == [5]
    feed = events_after(session_factory, 0)
    assert [event.payload["number"] for event in feed] == [0, 1, 2, 3, 4]
    assert [event.id for event in feed] == sorted(event.id for event in feed)


def test_a_rollback_drops_pending_dependent_rows_and_a_savepoint_waits_for_none(
    session_factory: sessionmaker[Session],
) -> None:
    now = utc_now()
    with session_factory() as session:
        with pytest.raises(RuntimeError), session.begin():
            append_event(
                session, "penalty", listing_id=None, item_id=None, at=now, payload={},
                seller_id="seller-3",
            )  # fmt: skip
            raise RuntimeError("the request failed")
        with session.begin():
            add_dependent(session, WorkItemHistory, {"item_id": "x"})
            with pytest.raises(PendingDecisionsError, match="savepoint"):
                session.begin_nested()
            session.rollback()
    assert events_after(session_factory, 0) == []


def test_a_repeated_key_fails_the_write_as_an_integrity_error(
    session_factory: sessionmaker[Session],
) -> None:
    """The batch's fallback (one decision at a time) waits for SQLAlchemy's IntegrityError: the
    PostgreSQL COPY raises the driver's error translated into it, and rolls back whole."""
    first, second = _row(), _row()
    second.idempotency_key = first.idempotency_key
    with pytest.raises(IntegrityError), session_factory.begin() as session:
        add_pending(session, first)
        add_pending(session, second)
    with session_factory.begin() as session:
        add_pending(session, kept := _row())
    with session_factory() as session:
        stored = session.get(DecisionRecord, kept.id)
        assert stored is not None and stored.created_at == kept.created_at
        assert stored.listing == kept.listing and stored.scores == kept.scores
    assert _stored(session_factory) == 1


def test_a_connection_lost_during_the_copy_is_an_outage_and_the_pool_recovers(
    session_factory: sessionmaker[Session],
) -> None:
    """PostgreSQL: the backend killed before the COPY — SQLAlchemy's OperationalError (what the
    service answers 503 for) with the dead connection invalidated; the next transaction fine."""
    engine = session_factory.kw["bind"]
    if engine.dialect.name != "postgresql":
        pytest.skip("the COPY path is PostgreSQL's")
    session = session_factory()
    session.begin()
    pid = session.scalar(text("SELECT pg_backend_pid()"))
    with engine.connect() as other:
        other.execute(text("SELECT pg_terminate_backend(:pid)"), {"pid": pid})
        other.commit()
    add_pending(session, _row())
    with pytest.raises(OperationalError) as raised:
        session.scalars(select(DecisionRecord.id)).all()  # the pending row first: the COPY
    assert raised.value.connection_invalidated
    session.close()
    with session_factory.begin() as session:
        add_pending(session, kept := _row())
    with session_factory() as session:
        assert session.scalars(select(DecisionRecord.id)).all() == [kept.id]
