"""Recording decisions: idempotency, one transaction with the queue, detached read models."""

import dataclasses
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC

import pytest
from sqlalchemy import event, func, select
from sqlalchemy.orm import Session, sessionmaker

from serving.decision_store import (
    NewDecision,
    StoredDecision,
    get_decision,
    record_decision,
    record_decisions,
    replay_stored,
)
from serving.errors import InvalidDecisionError
from serving.review_actions import claim_next
from serving.review_queue import count_items, get_item, list_items
from serving.tables import DecisionRecord
from tests.factories import make_new_decision, make_review_decision, urgency
from tests.serving.review_steps import decide_as


def _decision_rows(session_factory: sessionmaker[Session]) -> int:
    with session_factory() as session:
        return int(session.scalar(select(func.count()).select_from(DecisionRecord)) or 0)


def test_allow_decision_is_stored_without_a_queue_item(
    session_factory: sessionmaker[Session],
) -> None:
    new = make_new_decision(explanation={"rules": [], "reasons": {"fraud": []}})
    stored, created = record_decision(session_factory, new)
    assert created
    assert len(stored.id) == 32
    assert stored.review_item_id is None
    assert stored.created_at.tzinfo is not None
    assert stored.created_at.utcoffset() == UTC.utcoffset(None)
    assert (stored.listing, stored.scores, stored.explanation) == (
        new.listing,
        new.scores,
        new.explanation,
    )
    assert get_decision(session_factory, stored.id) == stored
    assert count_items(session_factory) == 0


def test_same_idempotency_key_returns_the_stored_decision_and_writes_nothing(
    session_factory: sessionmaker[Session],
) -> None:
    first, first_created = record_decision(session_factory, make_review_decision())
    retry = make_review_decision(
        idempotency_key=first.idempotency_key, listing_id=first.listing_id, action="block"
    )
    again, again_created = record_decision(session_factory, retry)
    assert (first_created, again_created) == (True, False)
    assert again == first
    assert _decision_rows(session_factory) == 1
    assert count_items(session_factory) == 1


def test_concurrent_identical_requests_store_one_decision(
    session_factory: sessionmaker[Session],
) -> None:
    new = make_review_decision()
    barrier = threading.Barrier(4)
    outcomes: list[tuple[str, bool]] = []

    def submit() -> None:
        barrier.wait()
        stored, created = record_decision(session_factory, new)
        outcomes.append((stored.id, created))

    threads = [threading.Thread(target=submit) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert len(outcomes) == 4
    assert len({decision_id for decision_id, _ in outcomes}) == 1
    assert sorted(created for _, created in outcomes) == [False, False, False, True]
    assert _decision_rows(session_factory) == 1
    assert count_items(session_factory, status="open") == 1


def test_concurrent_reviews_of_one_listing_share_one_open_item(
    session_factory: sessionmaker[Session],
) -> None:
    barrier = threading.Barrier(4)
    stored: list[str] = []

    def submit() -> None:
        barrier.wait()
        decision, _ = record_decision(session_factory, make_review_decision(listing_id="hot-1"))
        stored.append(decision.id)

    threads = [threading.Thread(target=submit) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert len(set(stored)) == 4
    assert _decision_rows(session_factory) == 4
    items = list_items(session_factory)
    assert len(items) == 1
    assert items[0].decision_id in stored


def test_review_decision_opens_exactly_one_item(session_factory: sessionmaker[Session]) -> None:
    stored, _ = record_decision(session_factory, make_review_decision(title="Rolex Submariner"))
    items = list_items(session_factory)
    assert [item.id for item in items] == [stored.review_item_id]
    item = items[0]
    assert (item.status, item.decision_id, item.listing_id) == (
        "open",
        stored.id,
        stored.listing_id,
    )
    assert (item.title, item.model_action) == ("Rolex Submariner", "review")
    assert item.priority_factors["risk"] == 0.55
    assert item.scores == stored.scores
    assert item.explanation == stored.explanation


def test_second_review_for_a_listing_repoints_its_open_item(
    session_factory: sessionmaker[Session],
) -> None:
    first, _ = record_decision(session_factory, make_review_decision(listing_id="listing-7"))
    second, _ = record_decision(
        session_factory, make_review_decision(listing_id="listing-7", risk=0.9)
    )
    assert second.review_item_id == first.review_item_id
    assert count_items(session_factory) == 1
    item = list_items(session_factory)[0]
    assert (item.status, item.decision_id) == ("open", second.id)
    assert item.priority_factors["risk"] == 0.9
    refreshed_first = get_decision(session_factory, first.id)
    assert refreshed_first is not None
    assert refreshed_first.review_item_id is None


def test_a_claimed_item_keeps_its_content_and_deciding_it_queues_the_newer(
    session_factory: sessionmaker[Session],
) -> None:
    first, _ = record_decision(session_factory, make_review_decision(listing_id="listing-8"))
    claimed = claim_next(session_factory, "ana")
    assert claimed is not None
    second, _ = record_decision(session_factory, make_review_decision(listing_id="listing-8"))
    item = get_item(session_factory, claimed.id)
    assert item is not None
    assert (item.status, item.claimed_by, item.decision_id) == ("claimed", "ana", first.id)
    decide_as(session_factory, claimed.id, "ana", "allow")
    [follow_up] = list_items(session_factory, status="open")
    assert (follow_up.decision_id, follow_up.listing_id) == (second.id, "listing-8")


def test_review_after_a_decided_item_opens_a_new_one(
    session_factory: sessionmaker[Session],
) -> None:
    record_decision(session_factory, make_review_decision(listing_id="listing-9"))
    claimed = claim_next(session_factory, "ana")
    assert claimed is not None
    decide_as(session_factory, claimed.id, "ana", "allow", "genuine, receipt attached")
    later, _ = record_decision(session_factory, make_review_decision(listing_id="listing-9"))
    assert later.review_item_id not in (None, claimed.id)
    assert count_items(session_factory) == 2
    assert count_items(session_factory, status="open") == 1


def test_rescoring_to_allow_supersedes_the_open_item(
    session_factory: sessionmaker[Session],
) -> None:
    queued, _ = record_decision(session_factory, make_review_decision(listing_id="listing-10"))
    record_decision(session_factory, make_new_decision(listing_id="listing-10"))
    item = get_item(session_factory, str(queued.review_item_id))
    assert item is not None
    assert (item.status, item.decision_id) == ("superseded", queued.id)
    assert count_items(session_factory, status="open") == 0
    again, _ = record_decision(session_factory, make_review_decision(listing_id="listing-10"))
    assert again.review_item_id not in (None, queued.review_item_id)


def test_rescoring_to_allow_leaves_a_claimed_item_with_its_reviewer(
    session_factory: sessionmaker[Session],
) -> None:
    record_decision(session_factory, make_review_decision(listing_id="listing-11"))
    claimed = claim_next(session_factory, "ana")
    assert claimed is not None
    record_decision(session_factory, make_new_decision(listing_id="listing-11"))
    item = get_item(session_factory, claimed.id)
    assert item is not None
    assert (item.status, item.claimed_by) == ("claimed", "ana")


def test_batch_records_in_order_with_replays_and_queue_effects(
    session_factory: sessionmaker[Session],
) -> None:
    earlier, _ = record_decision(session_factory, make_new_decision(listing_id="b-0"))
    replay = make_new_decision(listing_id="b-0", idempotency_key=earlier.idempotency_key)
    review = make_review_decision(listing_id="b-1")
    batch = [replay, review, make_new_decision(listing_id="b-2"), review]
    results = record_decisions(session_factory, batch)
    assert [created for _, created in results] == [False, True, True, False]
    assert results[0][0].id == earlier.id
    assert results[3][0].id == results[1][0].id
    assert [stored.listing_id for stored, _ in results] == ["b-0", "b-1", "b-2", "b-1"]
    assert results[1][0].review_item_id is not None
    assert _decision_rows(session_factory) == 3
    assert count_items(session_factory, status="open") == 1


def test_batch_repoints_and_supersedes_like_single_decisions(
    session_factory: sessionmaker[Session],
) -> None:
    queued, _ = record_decision(session_factory, make_review_decision(listing_id="b-5"))
    record_decisions(
        session_factory,
        [make_review_decision(listing_id="b-5", risk=0.9), make_new_decision(listing_id="b-5")],
    )
    item = get_item(session_factory, str(queued.review_item_id))
    assert item is not None
    assert item.status == "superseded"
    assert count_items(session_factory, status="open") == 0


def test_reverted_content_replays_its_decision_and_requeues_it(
    session_factory: sessionmaker[Session],
) -> None:
    review = make_review_decision(listing_id="listing-12")
    first, _ = record_decision(session_factory, review)
    record_decision(session_factory, make_new_decision(listing_id="listing-12"))
    assert count_items(session_factory, status="open") == 0
    replayed, created = record_decision(session_factory, review)
    assert (created, replayed.id) == (False, first.id)
    open_items = list_items(session_factory, status="open")
    assert [(item.listing_id, item.decision_id) for item in open_items] == [
        ("listing-12", first.id)
    ]
    assert replayed.review_item_id == open_items[0].id


def test_replaying_a_reviewed_decision_does_not_requeue_it(
    session_factory: sessionmaker[Session],
) -> None:
    review = make_review_decision(listing_id="listing-13")
    record_decision(session_factory, review)
    claimed = claim_next(session_factory, "ana")
    assert claimed is not None
    decide_as(session_factory, claimed.id, "ana", "block", "replica")
    replayed, created = record_decision(session_factory, review)
    assert not created
    assert replayed.review_item_id == claimed.id
    assert (replayed.action, replayed.model_action) == ("block", "review")
    assert replayed.human is not None and replayed.human.decided_by == "ana"
    assert count_items(session_factory, status="open") == 0


def test_get_decision_of_an_unknown_id_is_none(session_factory: sessionmaker[Session]) -> None:
    assert get_decision(session_factory, "f" * 32) is None


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"action": "maybe"}, "action = 'maybe'"),
        ({"idempotency_key": "k" * 65}, "idempotency_key must be 1 to 64"),
        ({"idempotency_key": ""}, "idempotency_key must be 1 to 64"),
        ({"listing_id": ""}, "listing_id must be 1 to 200"),
        ({"bands": {"fraud": "maybe"}}, "bands['fraud'] = 'maybe'"),
        ({"scores": {"fraud": 1.5}}, "scores['fraud'] = 1.5"),
        ({"category_scores": {"weapons": float("nan")}}, "category_scores['weapons'] = nan"),
        ({"urgency": urgency(1.5)}, "urgency factor risk = 1.5"),
    ],
)
def test_invalid_decisions_are_refused_naming_the_field(
    overrides: dict[str, object], message: str
) -> None:
    with pytest.raises(InvalidDecisionError) as raised:
        make_new_decision(**overrides)
    assert message in str(raised.value)


def test_new_decision_is_immutable() -> None:
    new: NewDecision = make_new_decision()
    with pytest.raises(AttributeError):
        new.action = "block"  # type: ignore[misc]


@contextmanager
def _statements_sent(session_factory: sessionmaker[Session]) -> Iterator[list[str]]:
    """The statements sent to the database inside the block."""
    engine = session_factory.kw["bind"]
    statements: list[str] = []

    def seen(_conn: object, _cursor: object, statement: str, *_args: object) -> None:
        statements.append(statement)

    event.listen(engine, "before_cursor_execute", seen)
    try:
        yield statements
    finally:
        event.remove(engine, "before_cursor_execute", seen)


def _key_reads(session_factory: sessionmaker[Session], batch: list[NewDecision]) -> int:
    """Statements reading ``decisions`` by idempotency key while ``batch`` is recorded."""
    with _statements_sent(session_factory) as statements:
        record_decisions(session_factory, batch)
    return sum("FROM decisions" in s and "idempotency_key" in s for s in statements)


def test_keys_checked_absent_before_scoring_are_not_looked_up_again(
    session_factory: sessionmaker[Session],
) -> None:
    assert _key_reads(session_factory, [make_new_decision(), make_review_decision()]) == 1
    unseen = [make_new_decision(unseen_key=True), make_review_decision(unseen_key=True)]
    assert _key_reads(session_factory, unseen) == 0
    assert _decision_rows(session_factory) == 4


def test_a_key_stored_after_it_was_checked_absent_replays_the_stored_decision(
    session_factory: sessionmaker[Session],
) -> None:
    """An identical request stored between this one's check and its write: the batch fails
    whole on the key's unique index and is recorded one decision at a time, by key."""
    earlier = make_review_decision()
    stored, _ = record_decision(session_factory, earlier)
    racing = dataclasses.replace(earlier, unseen_key=True, request_id="req-racing")
    fresh = make_new_decision(unseen_key=True)
    results = record_decisions(session_factory, [racing, fresh])
    assert results[0] == (stored, False)
    assert results[1][1] is True and results[1][0].listing_id == fresh.listing_id
    assert _decision_rows(session_factory) == 2
    assert count_items(session_factory) == 1


def _replayed(
    session_factory: sessionmaker[Session], path: str, batch: list[NewDecision]
) -> tuple[list[StoredDecision], int]:
    """``batch`` sent again (``path``: answered before scoring, or within a batch holding one
    new decision): its answers, and how many statements that sent to the database."""
    with _statements_sent(session_factory) as statements:
        if path == "before scoring":
            urgency_by_listing = {new.listing_id: new.urgency for new in batch}
            answers = replay_stored(
                session_factory,
                [new.idempotency_key for new in batch],
                urgency_of=lambda record: urgency_by_listing[record.listing_id],
                seller_rules=batch[0].seller_rules,
            )
            assert answers is not None
        else:
            recorded = record_decisions(session_factory, [*batch, make_new_decision()])
            assert [created for _, created in recorded] == [False] * len(batch) + [True]
            answers = [answer for answer, _ in recorded[:-1]]
    return answers, len(statements)


def _stored_batch(
    session_factory: sessionmaker[Session], size: int
) -> tuple[list[NewDecision], list[StoredDecision]]:
    """``size`` decisions recorded in one batch, every other one a review (queued), the most
    urgent of those then blocked by a human; with each decision as read back now."""
    batch = [
        make_review_decision(risk=0.5 + n / 100) if n % 2 else make_new_decision()
        for n in range(size)
    ]
    recorded = record_decisions(session_factory, batch)
    claimed = claim_next(session_factory, "ana")
    assert claimed is not None
    decide_as(session_factory, claimed.id, "ana", "block", "replica")
    now = [get_decision(session_factory, stored.id) for stored, _ in recorded]
    return batch, [stored for stored in now if stored is not None]


@pytest.mark.parametrize("path", ["before scoring", "within a batch"])
def test_replaying_a_batch_reads_the_same_few_statements_whatever_its_size(
    session_factory: sessionmaker[Session], path: str
) -> None:
    """A retried batch is answered from the store in a fixed number of statements (its records,
    the batch's lookups, the items of its decisions) and one more per decision still waiting in
    the queue (its open item, locked to be re-pointed) — not several per decision — and answers
    what the store holds."""
    counts, waiting = {}, {}
    for size in (4, 12):
        batch, stored = _stored_batch(session_factory, size)
        open_before = count_items(session_factory, status="open")
        waiting[size] = sum(d.action == "review" and d.human is None for d in stored)
        answers, counts[size] = _replayed(session_factory, path, batch)
        assert [(a.id, a.action, a.review_item_id, a.human) for a in answers] == [
            (d.id, d.action, d.review_item_id, d.human) for d in stored
        ]
        assert sum(a.human is not None and a.action == "block" for a in answers) == 1
        assert sum(a.review_item_id is not None for a in answers) == size // 2
        assert count_items(session_factory, status="open") == open_before, "queue unchanged"
    assert counts[12] - counts[4] == waiting[12] - waiting[4], (counts, waiting)
    assert counts[4] - waiting[4] <= 4, counts


def test_a_decision_requeued_at_its_own_time_answers_its_live_item(
    session_factory: sessionmaker[Session],
) -> None:
    """A reverted edit (A, then B, then A again) re-queues A's decision with an item created at
    the decision's time — the same time as the item B superseded. Once a human decides the new
    item, every answer for A (replayed alone, in a batch, read by id) names that item."""
    review = make_review_decision(listing_id="tie-1")
    first, _ = record_decision(session_factory, review)
    record_decision(session_factory, make_new_decision(listing_id="tie-1"))  # B supersedes
    requeued, _ = record_decision(session_factory, review)
    assert requeued.review_item_id not in (None, first.review_item_id)
    claimed = claim_next(session_factory, "ana")
    assert claimed is not None and claimed.id == requeued.review_item_id
    decide_as(session_factory, claimed.id, "ana", "block", "replica")
    alone, _ = record_decision(session_factory, review)
    (in_batch, _), _ = record_decisions(session_factory, [review, make_new_decision()])
    read = get_decision(session_factory, first.id)
    assert read is not None
    for answer in (alone, in_batch, read):
        assert answer.review_item_id == claimed.id
        assert answer.human is not None and answer.human.item_id == claimed.id
