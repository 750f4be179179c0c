"""The outcome feed's advisory lock on PostgreSQL: taken once per transaction, again after a
savepoint that took it rolled back, and in every transaction of a reused session (event ids
follow commit order only while every writer holds it)."""

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import pytest
from sqlalchemy import event
from sqlalchemy.orm import Session, sessionmaker

from serving.outcome_events import append_event, events_after
from serving.tables import utc_now

pytestmark = pytest.mark.postgres


@pytest.fixture
def database_url(postgres_url: str) -> str:
    return postgres_url


@contextmanager
def _locks(session_factory: sessionmaker[Session]) -> Iterator[list[str]]:
    engine = session_factory.kw["bind"]
    seen: list[str] = []

    def before(_conn: Any, _cursor: Any, statement: str, *_rest: Any) -> None:
        if "pg_advisory_xact_lock" in statement:
            seen.append(statement)

    event.listen(engine, "before_cursor_execute", before)
    try:
        yield seen
    finally:
        event.remove(engine, "before_cursor_execute", before)


def _append(session: Session, number: int) -> None:
    append_event(
        session, "penalty", listing_id=None, item_id=None, at=utc_now(),
        payload={"number": number}, seller_id="seller-lock",
    )  # fmt: skip


def test_each_transaction_of_a_reused_session_takes_the_lock(
    session_factory: sessionmaker[Session],
) -> None:
    counts = []
    with session_factory() as session:  # no begin(): the first statement begins it
        for transaction in range(3):
            with _locks(session_factory) as locks:
                _append(session, 2 * transaction)
                _append(session, 2 * transaction + 1)
                session.commit()
            counts.append(len(locks))
    assert counts == [1, 1, 1]
    assert [e.payload["number"] for e in events_after(session_factory, 0)] == list(range(6))


def test_a_savepoint_rolled_back_releases_the_lock_so_it_is_taken_again(
    session_factory: sessionmaker[Session],
) -> None:
    with _locks(session_factory) as locks, session_factory.begin() as session:
        savepoint = session.begin_nested()
        _append(session, 0)  # the lock taken inside the savepoint
        savepoint.rollback()  # releases it, and drops the event
        _append(session, 1)
    assert len(locks) == 2
    assert [e.payload["number"] for e in events_after(session_factory, 0)] == [1]
