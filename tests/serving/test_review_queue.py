"""The review queue: ordering, leases, concurrent claims, reviewer decisions and validation."""

import threading
from collections.abc import Callable
from datetime import timedelta

import pytest
from sqlalchemy.orm import Session, sessionmaker

from serving.decision_store import StoredDecision, record_decision
from serving.errors import (
    InvalidReviewError,
    ItemAlreadyDecidedError,
    ItemNotClaimedError,
    ItemNotFoundError,
)
from serving.review_queue import (
    QueueItem,
    claim_next,
    count_items,
    decide,
    get_item,
    list_items,
)
from serving.tables import utc_now
from tests.factories import make_review_decision


@pytest.fixture
def unbound_factory() -> sessionmaker[Session]:
    """Sessions with no database: any query fails, so validation must come first."""
    return sessionmaker()


def _queue(session_factory: sessionmaker[Session], priority: float) -> StoredDecision:
    stored, _ = record_decision(session_factory, make_review_decision(priority=priority))
    return stored


def _claim(session_factory: sessionmaker[Session], reviewer: str) -> QueueItem:
    item = claim_next(session_factory, reviewer)
    assert item is not None
    return item


def test_claim_takes_highest_priority_then_oldest(session_factory: sessionmaker[Session]) -> None:
    old_low = _queue(session_factory, 0.3)
    old_high = _queue(session_factory, 0.8)
    new_high = _queue(session_factory, 0.8)
    claimed = [_claim(session_factory, "ana").decision_id for _ in range(3)]
    assert claimed == [old_high.id, new_high.id, old_low.id]
    assert claim_next(session_factory, "ana") is None


def test_claim_marks_the_item_claimed_by_the_reviewer(
    session_factory: sessionmaker[Session],
) -> None:
    queued = _queue(session_factory, 0.5)
    item = _claim(session_factory, "  ana  ")
    assert (item.id, item.status, item.claimed_by) == (queued.review_item_id, "claimed", "ana")
    assert item.claimed_at is not None
    assert item.updated_at == item.claimed_at
    assert count_items(session_factory, status="claimed") == 1
    assert count_items(session_factory, status="open") == 0


def test_an_expired_claim_can_be_taken_over(session_factory: sessionmaker[Session]) -> None:
    _queue(session_factory, 0.5)
    first = _claim(session_factory, "ana")
    assert claim_next(session_factory, "ben", lease_seconds=60) is None
    later = utc_now() + timedelta(seconds=61)
    taken = claim_next(session_factory, "ben", lease_seconds=60, now=later)
    assert taken is not None
    assert (taken.id, taken.claimed_by, taken.claimed_at) == (first.id, "ben", later)
    with pytest.raises(ItemNotClaimedError, match="claimed by 'ben'"):
        decide(session_factory, first.id, "ana", "allow", "")


def test_open_items_come_before_lower_priority_expired_claims(
    session_factory: sessionmaker[Session],
) -> None:
    _queue(session_factory, 0.9)
    stale = _claim(session_factory, "ana")
    fresh = _queue(session_factory, 0.5)
    later = utc_now() + timedelta(hours=1)
    first = claim_next(session_factory, "ben", now=later)
    second = claim_next(session_factory, "ben", now=later)
    assert first is not None and second is not None
    assert [first.id, second.id] == [stale.id, fresh.review_item_id]


def test_concurrent_reviewers_never_get_the_same_item(
    session_factory: sessionmaker[Session],
) -> None:
    queued = [str(_queue(session_factory, 0.1 * (n % 3)).review_item_id) for n in range(10)]
    barrier = threading.Barrier(4)
    claims: dict[str, list[str]] = {f"reviewer-{n}": [] for n in range(4)}

    def work(reviewer: str) -> None:
        barrier.wait()
        while (item := claim_next(session_factory, reviewer)) is not None:
            claims[reviewer].append(item.id)

    threads = [threading.Thread(target=work, args=(name,)) for name in claims]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    taken = [item_id for ids in claims.values() for item_id in ids]
    assert sorted(taken) == sorted(queued)
    for reviewer, ids in claims.items():
        for item_id in ids:
            item = get_item(session_factory, item_id)
            assert item is not None
            assert item.claimed_by == reviewer


def test_decide_records_the_reviewer_action(session_factory: sessionmaker[Session]) -> None:
    _queue(session_factory, 0.5)
    claimed = _claim(session_factory, "ana")
    decided = decide(session_factory, claimed.id, "ana", "block", "replica dial, no serial")
    assert (decided.status, decided.decided_by, decided.reviewer_action) == (
        "decided",
        "ana",
        "block",
    )
    assert decided.reviewer_reason == "replica dial, no serial"
    assert decided.decided_at is not None and claimed.claimed_at is not None
    assert decided.decided_at >= claimed.claimed_at
    assert get_item(session_factory, claimed.id) == decided
    assert claim_next(session_factory, "ben") is None


def test_decide_by_someone_else_names_the_holder(session_factory: sessionmaker[Session]) -> None:
    _queue(session_factory, 0.5)
    claimed = _claim(session_factory, "ana")
    with pytest.raises(ItemNotClaimedError) as raised:
        decide(session_factory, claimed.id, "ben", "allow", "")
    assert claimed.id in str(raised.value)
    assert "claimed by 'ana'" in str(raised.value)
    assert raised.value.holder == "ana"
    item = get_item(session_factory, claimed.id)
    assert item is not None
    assert item.status == "claimed"


def test_decide_an_unclaimed_item_is_refused(session_factory: sessionmaker[Session]) -> None:
    queued = _queue(session_factory, 0.5)
    assert queued.review_item_id is not None
    with pytest.raises(ItemNotClaimedError, match="not claimed by anyone"):
        decide(session_factory, queued.review_item_id, "ana", "allow", "")


def test_decide_an_unknown_item_is_refused(session_factory: sessionmaker[Session]) -> None:
    with pytest.raises(ItemNotFoundError, match="'missing-item'"):
        decide(session_factory, "missing-item", "ana", "allow", "")


def test_deciding_twice_is_refused(session_factory: sessionmaker[Session]) -> None:
    _queue(session_factory, 0.5)
    claimed = _claim(session_factory, "ana")
    decide(session_factory, claimed.id, "ana", "escalate", "needs legal")
    with pytest.raises(ItemAlreadyDecidedError, match=f"'{claimed.id}' was already decided by"):
        decide(session_factory, claimed.id, "ana", "block", "")


def test_list_filters_by_status_and_pages(session_factory: sessionmaker[Session]) -> None:
    decisions = [_queue(session_factory, priority) for priority in (0.9, 0.7, 0.5)]
    _claim(session_factory, "ana")
    open_items = list_items(session_factory, status="open")
    assert [item.decision_id for item in open_items] == [decisions[1].id, decisions[2].id]
    page = list_items(session_factory, limit=1, offset=1)
    assert [item.decision_id for item in page] == [decisions[1].id]
    assert count_items(session_factory) == 3
    assert list_items(session_factory, status="decided") == []


@pytest.mark.parametrize(
    ("reviewer", "action", "reason", "message"),
    [
        ("", "allow", "", "reviewer must be 1 to 100"),
        ("   ", "allow", "", "reviewer must be 1 to 100"),
        ("r" * 101, "allow", "", "reviewer must be 1 to 100"),
        ("ana", "restrict", "", "action = 'restrict'"),
        ("ana", "allow", "x" * 2001, "the limit is 2000"),
    ],
)
def test_invalid_review_input_is_refused(
    unbound_factory: sessionmaker[Session],
    reviewer: str,
    action: str,
    reason: str,
    message: str,
) -> None:
    with pytest.raises(InvalidReviewError) as raised:
        decide(unbound_factory, "any-item", reviewer, action, reason)
    assert message in str(raised.value)


@pytest.mark.parametrize(
    ("call", "message"),
    [
        (lambda factory: claim_next(factory, ""), "reviewer must be"),
        (lambda factory: claim_next(factory, "ana", lease_seconds=0), "lease_seconds"),
        (lambda factory: list_items(factory, status="closed"), "status = 'closed'"),
        (lambda factory: list_items(factory, limit=0), "limit must be between 1 and 500"),
        (lambda factory: list_items(factory, offset=-1), "offset must be between 0 and"),
        (lambda factory: list_items(factory, offset=2**63), "offset must be between 0 and"),
        (lambda factory: count_items(factory, status="closed"), "status = 'closed'"),
    ],
)
def test_invalid_queue_arguments_are_refused(
    unbound_factory: sessionmaker[Session],
    call: Callable[[sessionmaker[Session]], object],
    message: str,
) -> None:
    with pytest.raises(InvalidReviewError, match=message):
        call(unbound_factory)
