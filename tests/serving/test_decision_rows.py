"""Fresh decisions inserted as plain rows: one statement per transaction, before anything that
points at them, and never after a rollback."""

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import fields
from typing import Any

import pytest
from sqlalchemy import event, func, select
from sqlalchemy.orm import Session, sessionmaker

from serving.decision_rows import DecisionRow, PendingDecisionsError, add_pending
from serving.decision_store import record_decisions
from serving.review_queue import count_items
from serving.tables import DecisionRecord, new_id, utc_now
from tests.factories import make_new_decision, make_review_decision


@contextmanager
def _decision_inserts(session_factory: sessionmaker[Session]) -> Iterator[list[int]]:
    """The number of parameter sets of each INSERT INTO decisions while the block runs."""
    engine = session_factory.kw["bind"]
    seen: list[int] = []

    def before(
        _conn: Any, _cursor: Any, statement: str, parameters: Any, _c: Any, many: bool
    ) -> None:
        if statement.lstrip().upper().startswith("INSERT INTO DECISIONS"):
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
    # statement per decision.
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
