"""Group commit: concurrent requests' decisions share a transaction; a failure stays its own."""

import asyncio
from collections.abc import Iterator, Sequence
from pathlib import Path

import pytest
from sqlalchemy import func, select
from sqlalchemy.exc import DBAPIError, StatementError
from sqlalchemy.orm import Session, sessionmaker

from serving.database_calls import DatabaseCalls
from serving.db import create_db_engine, make_session_factory
from serving.decision_store import NewDecision, get_decision
from serving.group_commit import GroupCommit, Recorded
from serving.review_queue import count_items
from serving.tables import DecisionRecord
from tests.factories import make_new_decision, make_review_decision


@pytest.fixture
def database() -> Iterator[DatabaseCalls]:
    calls = DatabaseCalls(threads=2, deadline_s=30.0)
    yield calls
    calls.shutdown()


def _record_concurrently(
    writes: GroupCommit, batches: Sequence[Sequence[NewDecision]]
) -> list[Recorded | BaseException]:
    async def all_at_once() -> list[Recorded | BaseException]:
        return await asyncio.gather(
            *(writes.record(batch) for batch in batches), return_exceptions=True
        )

    return asyncio.run(all_at_once())


def _rows(session_factory: sessionmaker[Session]) -> int:
    with session_factory() as session:
        return int(session.scalar(select(func.count()).select_from(DecisionRecord)) or 0)


def test_concurrent_requests_share_transactions_and_get_their_own_decisions(
    session_factory: sessionmaker[Session], database: DatabaseCalls
) -> None:
    writes = GroupCommit(database, session_factory, max_group_listings=512)
    batches = [[make_new_decision()] for _ in range(12)]
    batches += [[make_review_decision(), make_new_decision(action="block")] for _ in range(4)]
    results = _record_concurrently(writes, batches)
    assert writes.requests_written == len(batches)
    assert writes.groups_written < len(batches)  # at least two requests shared a commit
    for batch, result in zip(batches, results, strict=True):
        assert not isinstance(result, BaseException)
        assert [(s.listing_id, s.action, created) for s, created in result] == [
            (new.listing_id, new.action, True) for new in batch
        ]
        for stored, _created in result:
            assert get_decision(session_factory, stored.id) == stored
    assert _rows(session_factory) == 12 + 8
    assert count_items(session_factory) == 4  # each review decision queued once


@pytest.mark.parametrize("unseen", [False, True], ids=["looked-up", "checked-absent"])
def test_the_same_key_in_two_concurrent_requests_is_stored_once(
    session_factory: sessionmaker[Session], database: DatabaseCalls, unseen: bool
) -> None:
    """Also when both requests found the key absent before scoring (``unseen_key``): the
    group's write does not look it up, and the second still gets the first's decision."""
    writes = GroupCommit(database, session_factory, max_group_listings=512)
    new = make_review_decision(unseen_key=unseen)
    first, second = _record_concurrently(writes, [[new], [new]])
    assert not isinstance(first, BaseException) and not isinstance(second, BaseException)
    assert [created for _s, created in first + second] == [True, False]
    assert first[0][0] == second[0][0]
    assert _rows(session_factory) == 1
    assert count_items(session_factory) == 1


def test_a_failing_request_fails_alone(
    session_factory: sessionmaker[Session], database: DatabaseCalls
) -> None:
    writes = GroupCommit(database, session_factory, max_group_listings=512)
    # A listing document that cannot be stored as JSON: its flush fails, the whole group's
    # transaction rolls back, and each request is written again alone.
    broken = make_new_decision(listing={"listing_id": "x", "title": {1, 2}})
    batches = [[make_new_decision()], [broken], [make_new_decision(), make_review_decision()]]
    results = _record_concurrently(writes, batches)
    assert isinstance(results[1], StatementError | TypeError)  # the driver wraps it, or not
    for index in (0, 2):
        result = results[index]
        assert not isinstance(result, BaseException)
        assert [created for _s, created in result] == [True] * len(batches[index])
    assert _rows(session_factory) == 3


def test_a_database_error_answers_every_request_of_the_group(
    tmp_path: Path, database: DatabaseCalls
) -> None:
    engine = create_db_engine(f"sqlite:///{tmp_path / 'never-migrated.db'}")
    writes = GroupCommit(database, make_session_factory(engine), max_group_listings=512)
    results = _record_concurrently(writes, [[make_new_decision()] for _ in range(3)])
    engine.dispose()
    assert all(isinstance(result, DBAPIError) for result in results)


def test_groups_stay_within_the_listing_limit_and_a_large_request_goes_whole(
    session_factory: sessionmaker[Session], database: DatabaseCalls
) -> None:
    writes = GroupCommit(database, session_factory, max_group_listings=2)
    batches = [[make_new_decision() for _ in range(5)]] + [[make_new_decision()] for _ in range(4)]
    results = _record_concurrently(writes, batches)
    assert all(not isinstance(result, BaseException) for result in results)
    # The five-listing request alone, then the four singles two by two.
    assert (writes.groups_written, writes.requests_written) == (3, 5)
    assert _rows(session_factory) == 9


def test_requests_waiting_behind_a_stuck_write_answer_within_the_deadline(
    sqlite_url: str, tmp_path: Path
) -> None:
    """Another connection holds SQLite's write lock: the first group waits on it (busy timeout
    5 s), and every request — the one in that group and those queued behind it — gets the
    deadline error after 0.5 s instead of waiting for the lock."""
    import sqlite3
    import time

    from serving.db import upgrade_database
    from serving.errors import DatabaseDeadlineError

    upgrade_database(sqlite_url)
    engine = create_db_engine(sqlite_url)
    calls = DatabaseCalls(threads=2, deadline_s=0.5)
    holder = sqlite3.connect(sqlite_url.removeprefix("sqlite:///"), isolation_level=None)
    holder.execute("BEGIN IMMEDIATE")
    try:
        writes = GroupCommit(calls, make_session_factory(engine), max_group_listings=1)
        began = time.monotonic()
        results = _record_concurrently(writes, [[make_new_decision()] for _ in range(4)])
        waited = time.monotonic() - began
    finally:
        holder.execute("ROLLBACK")
        holder.close()
        calls.shutdown()
    assert all(isinstance(result, DatabaseDeadlineError) for result in results)
    assert waited < 3.0
    engine.dispose()


def test_a_group_waits_for_a_request_still_being_scored(
    session_factory: sessionmaker[Session], database: DatabaseCalls
) -> None:
    """A write waits (up to the linger) for a request that is scoring: both share one commit."""
    writes = GroupCommit(database, session_factory, max_group_listings=512, linger_s=30.0)
    first, second = make_new_decision(), make_new_decision()

    async def scenario() -> tuple[Recorded, Recorded]:
        with writes.scoring():  # the second request is being scored
            waiting = asyncio.create_task(writes.record([first]))
            await asyncio.sleep(0.2)
            assert not waiting.done(), "the first request is held for its sibling"
        done = await writes.record([second])
        return await waiting, done

    recorded = asyncio.run(scenario())
    assert [[s.listing_id for s, _ in r] for r in recorded] == [
        [first.listing_id],
        [second.listing_id],
    ]
    assert (writes.groups_written, writes.requests_written) == (1, 2)


def test_nothing_waits_without_a_sibling_and_a_wait_is_bounded(
    session_factory: sessionmaker[Session], database: DatabaseCalls
) -> None:
    alone = GroupCommit(database, session_factory, max_group_listings=512, linger_s=30.0)

    async def lone_request() -> float:
        began = asyncio.get_running_loop().time()
        await alone.record([make_new_decision()])
        return asyncio.get_running_loop().time() - began

    assert asyncio.run(lone_request()) < 10.0  # far below the 30 s linger: it never lingered

    bounded = GroupCommit(database, session_factory, max_group_listings=512, linger_s=0.05)

    async def sibling_never_arrives() -> int:
        with bounded.scoring():  # a request scoring for longer than the linger
            [(stored, created)] = await bounded.record([make_new_decision()])
            assert created and get_decision(session_factory, stored.id) == stored
        return bounded.groups_written

    assert asyncio.run(sibling_never_arrives()) == 1
