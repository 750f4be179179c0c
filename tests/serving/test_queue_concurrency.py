"""Eight reviewers working one queue on real PostgreSQL: no item twice, none lost."""

import threading
from collections import Counter
from collections.abc import Iterator

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from serving.db import create_db_engine, make_session_factory, upgrade_database
from serving.decision_store import record_decisions
from serving.outcome_events import events_after
from serving.review_actions import claim_next
from serving.tables import WorkItem, WorkItemHistory
from tests.factories import make_review_decision
from tests.serving.review_steps import decide_as

pytestmark = pytest.mark.slow
ITEMS = 2000
WORKERS = 8


@pytest.fixture
def pg_factory(postgres_url: str) -> Iterator[sessionmaker[Session]]:
    upgrade_database(postgres_url)
    engine = create_db_engine(postgres_url)
    yield make_session_factory(engine)
    engine.dispose()


def test_eight_workers_claim_and_decide_thousands_of_items_exactly_once(
    pg_factory: sessionmaker[Session],
) -> None:
    batch = [make_review_decision(risk=(n % 97) / 97) for n in range(ITEMS)]
    for start in range(0, ITEMS, 500):
        record_decisions(pg_factory, batch[start : start + 500])
    barrier = threading.Barrier(WORKERS)
    decided: dict[str, list[str]] = {f"reviewer-{n}": [] for n in range(WORKERS)}
    failures: list[BaseException] = []

    def work(reviewer: str) -> None:
        try:
            barrier.wait()
            while (item := claim_next(pg_factory, reviewer)) is not None:
                decide_as(pg_factory, item.id, reviewer, "allow" if len(item.id) % 2 else "block")
                decided[reviewer].append(item.id)
        except BaseException as error:  # reported below; a thread cannot fail the test itself
            failures.append(error)

    threads = [threading.Thread(target=work, args=(name,)) for name in decided]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=600)
    assert not failures, failures[:3]
    taken = [item_id for ids in decided.values() for item_id in ids]
    assert len(taken) == ITEMS and len(set(taken)) == ITEMS, "every item once, none twice"
    assert all(decided.values()), "every worker got work: the claims ran concurrently"
    with pg_factory() as session:
        statuses = Counter(session.scalars(select(WorkItem.status)))
        claims = session.scalar(
            select(func.count())
            .select_from(WorkItemHistory)
            .where(WorkItemHistory.event == "claim")
        )
        holders = dict(session.execute(select(WorkItem.id, WorkItem.decided_by)).all())
    assert statuses == {"decided": ITEMS}
    assert claims == ITEMS, "no claim was written twice"
    assert all(holders[item_id] == reviewer for reviewer, ids in decided.items() for item_id in ids)
    events, after = [], 0
    while page := events_after(pg_factory, after, limit=1000):
        events, after = events + page, page[-1].id
    assert len(events) == ITEMS and len({e.item_id for e in events}) == ITEMS
