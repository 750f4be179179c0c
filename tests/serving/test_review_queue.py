"""The work queues: ordering, leases, concurrent claims, transitions, history and validation."""

import threading
from collections.abc import Callable
from datetime import timedelta

import pytest
from sqlalchemy.orm import Session, sessionmaker

from models.review_policy import ReviewPolicy
from serving.decision_store import StoredDecision, get_decision, record_decision
from serving.errors import (
    IllegalTransitionError,
    InvalidReviewError,
    ItemNotClaimedError,
    ItemNotFoundError,
)
from serving.outcome_events import events_after
from serving.review_actions import (
    claim_next,
    decide,
    escalate,
    hold,
    release,
    withdraw_listing,
)
from serving.review_queue import count_items, get_item, item_history, list_items
from serving.tables import WorkItem, utc_now
from serving.work_items import move
from tests.factories import make_new_decision, make_review_decision, urgency
from tests.serving.review_steps import REVIEW, claim, decide_as


@pytest.fixture
def unbound_factory() -> sessionmaker[Session]:
    """Sessions with no database: any query fails, so validation must come first."""
    return sessionmaker()


def _queue(session_factory: sessionmaker[Session], risk: float, **kwargs: object) -> StoredDecision:
    stored, _ = record_decision(session_factory, make_review_decision(risk=risk, **kwargs))
    return stored


def _events(session_factory: sessionmaker[Session]) -> list[tuple[str, str]]:
    return [(e.type, e.listing_id) for e in events_after(session_factory, 0)]


def test_claim_takes_the_riskiest_then_the_oldest(session_factory: sessionmaker[Session]) -> None:
    old_low = _queue(session_factory, 0.3)
    old_high = _queue(session_factory, 0.8)
    new_high = _queue(session_factory, 0.8)
    claimed = [claim(session_factory, "ana").decision_id for _ in range(3)]
    assert claimed == [old_high.id, new_high.id, old_low.id]
    assert claim_next(session_factory, "ana") is None


@pytest.mark.parametrize(
    ("factor", "low", "high"),
    [("risk", 0.2, 0.9), ("uncertainty", 0.0, 1.0), ("exposure", 0.1, 0.9)],
)
def test_each_urgency_factor_moves_the_order(
    session_factory: sessionmaker[Session], factor: str, low: float, high: float
) -> None:
    base = {"risk": 0.5, "uncertainty": 0.5, "exposure": 0.5}
    calm = _queue(session_factory, 0.5, urgency=urgency(**(base | {factor: low})))
    urgent = _queue(session_factory, 0.5, urgency=urgency(**(base | {factor: high})))
    assert [claim(session_factory, "ana").decision_id for _ in range(2)] == [urgent.id, calm.id]


def test_seller_history_moves_the_order(session_factory: sessionmaker[Session]) -> None:
    _queue(session_factory, 0.9, listing={"listing_id": "x-1", "title": "t", "seller_id": "s-bad"})
    decide_as(session_factory, claim(session_factory, "ana").id, "ana", "block")
    clean = _queue(
        session_factory, 0.5, listing={"listing_id": "c", "title": "t", "seller_id": "ok"}
    )
    repeat = _queue(
        session_factory, 0.5, listing={"listing_id": "r", "title": "t", "seller_id": "s-bad"}
    )
    assert [claim(session_factory, "ben").decision_id for _ in range(2)] == [repeat.id, clean.id]
    item = get_item(session_factory, str(repeat.review_item_id))
    # violation-confirmed strikes 2 points; 2 / (2 + the reference of 2 points)
    assert item is not None and item.priority_factors["seller_history"] == pytest.approx(0.5)


def test_time_left_before_the_sla_moves_the_order(session_factory: sessionmaker[Session]) -> None:
    relaxed = _queue(session_factory, 0.9, urgency=urgency(0.9, sla_hours=48))
    pressing = _queue(session_factory, 0.2, urgency=urgency(0.2, sla_hours=2))
    assert [claim(session_factory, "ana").decision_id for _ in range(2)] == [
        pressing.id,
        relaxed.id,
    ]


def test_claim_marks_the_item_claimed_with_a_lease(session_factory: sessionmaker[Session]) -> None:
    queued = _queue(session_factory, 0.5)
    item = claim(session_factory, "  ana  ")
    assert (item.id, item.status, item.claimed_by) == (queued.review_item_id, "claimed", "ana")
    assert item.claimed_at is not None and item.lease_expires_at is not None
    assert item.lease_expires_at - item.claimed_at == timedelta(seconds=900)
    assert count_items(session_factory, status="claimed") == 1
    assert count_items(session_factory, status="open") == 0


def test_an_expired_claim_returns_to_the_queue_and_says_so(
    session_factory: sessionmaker[Session],
) -> None:
    _queue(session_factory, 0.5)
    first = claim_next(session_factory, "ana", lease_seconds=60)
    assert first is not None
    assert claim_next(session_factory, "ben", lease_seconds=60) is None
    later = utc_now() + timedelta(seconds=61)
    [shown] = list_items(session_factory, now=later)
    assert (shown.status, shown.claimed_by) == ("open", None)
    taken = claim_next(session_factory, "ben", lease_seconds=60, now=later)
    assert taken is not None and (taken.id, taken.claimed_by) == (first.id, "ben")
    with pytest.raises(ItemNotClaimedError, match="claimed by 'ben'"):
        decide_as(session_factory, first.id, "ana", "allow")
    events = [(h.event, h.actor, h.to_status) for h in item_history(session_factory, first.id)]
    assert events == [
        ("open", "system", "open"),
        ("claim", "ana", "claimed"),
        ("expire", "system", "open"),
        ("claim", "ben", "claimed"),
    ]


def test_release_returns_the_item_for_someone_else(session_factory: sessionmaker[Session]) -> None:
    _queue(session_factory, 0.5)
    item = claim(session_factory, "ana")
    with pytest.raises(ItemNotClaimedError, match="claimed by 'ana'"):
        release(session_factory, item.id, "ben")
    released = release(session_factory, item.id, "ana", reason="conflict of interest")
    assert (released.status, released.claimed_by, released.lease_expires_at) == ("open", None, None)
    assert claim(session_factory, "ben").id == item.id
    history = item_history(session_factory, item.id)
    assert (history[2].event, history[2].reason) == ("release", "conflict of interest")


def test_hold_parks_the_item_until_its_due_time(session_factory: sessionmaker[Session]) -> None:
    _queue(session_factory, 0.5)
    item = claim(session_factory, "ana")
    until = utc_now() + timedelta(hours=2)
    held = hold(session_factory, item.id, "ana", reason="asked seller for invoice", until=until)
    assert (held.status, held.claimed_by, held.held_until) == ("held", "ana", until)
    assert claim_next(session_factory, "ben") is None
    later = until + timedelta(seconds=1)
    back = claim_next(session_factory, "ben", now=later)
    assert back is not None and back.id == item.id
    assert [h.event for h in item_history(session_factory, item.id)][-2:] == ["hold_due", "claim"]


@pytest.mark.parametrize("hours", [-1, 24 * 31])
def test_a_hold_must_end_within_thirty_days(
    session_factory: sessionmaker[Session], hours: int
) -> None:
    _queue(session_factory, 0.5)
    item = claim(session_factory, "ana")
    with pytest.raises(InvalidReviewError, match=r"until = .* must be in the future"):
        hold(session_factory, item.id, "ana", reason="x", until=utc_now() + timedelta(hours=hours))


def test_escalation_opens_a_senior_item_that_resolves_the_original(
    session_factory: sessionmaker[Session],
) -> None:
    queued = _queue(session_factory, 0.5)
    item = claim(session_factory, "ana")
    senior = escalate(session_factory, item.id, "ana", reason="needs legal", review=REVIEW)
    assert (senior.kind, senior.status, senior.parent_id) == ("senior", "open", item.id)
    escalated = get_item(session_factory, item.id)
    assert escalated is not None and escalated.status == "escalated"
    assert claim_next(session_factory, "ben") is None, "the review queue does not serve it"
    taken = claim(session_factory, "sam", kind="senior")
    decide(
        session_factory,
        taken.id,
        "sam",
        action="block",
        reason_code="prohibited-item",
        review=REVIEW,
        note="ivory",
    )
    resolved = get_item(session_factory, item.id)
    assert resolved is not None
    assert (resolved.status, resolved.decided_by, resolved.human_action) == (
        "decided",
        "sam",
        "block",
    )
    assert [h.event for h in item_history(session_factory, item.id)][-1] == "resolve"
    answer = get_decision(session_factory, queued.id)
    assert answer is not None and (answer.action, answer.model_action) == ("block", "review")
    assert _events(session_factory) == [
        ("escalated", queued.listing_id),
        ("human_decision", queued.listing_id),
    ]


def test_a_senior_item_cannot_be_escalated_again(session_factory: sessionmaker[Session]) -> None:
    _queue(session_factory, 0.5)
    escalate(session_factory, claim(session_factory, "ana").id, "ana", reason="x", review=REVIEW)
    senior = claim(session_factory, "sam", kind="senior")
    with pytest.raises(IllegalTransitionError, match="cannot escalate"):
        escalate(session_factory, senior.id, "sam", reason="y", review=REVIEW)


def test_decide_records_code_clause_note_and_announces_it(
    session_factory: sessionmaker[Session],
) -> None:
    queued = _queue(session_factory, 0.5)
    claimed = claim(session_factory, "ana")
    decided = decide_as(session_factory, claimed.id, "ana", "block", "replica dial, no serial")
    assert (decided.status, decided.decided_by, decided.human_action) == ("decided", "ana", "block")
    assert (decided.reason_code, decided.note) == ("violation-confirmed", "replica dial, no serial")
    assert decided.policy_clause == "bands.review", "the decision's clause when none is named"
    assert decided.decided_at is not None and claimed.claimed_at is not None
    assert decided.turnaround_seconds is not None and decided.turnaround_seconds >= 0
    assert not decided.sla_breached(utc_now())
    assert get_item(session_factory, claimed.id) == decided
    [event] = events_after(session_factory, 0)
    assert (event.type, event.item_id, event.payload["action"]) == (
        "human_decision",
        claimed.id,
        "block",
    )
    assert event.payload["decision_id"] == queued.id


@pytest.mark.parametrize(
    ("action", "code", "message"),
    [
        ("block", "no-violation", "not one of the policy's codes for block"),
        ("allow", "made-up", "not one of the policy's codes for allow: allowed-with-"),
        ("escalate", "no-violation", "action = 'escalate'"),
    ],
)
def test_decide_needs_a_reason_code_of_the_policy_for_the_action(
    session_factory: sessionmaker[Session], action: str, code: str, message: str
) -> None:
    _queue(session_factory, 0.5)
    item = claim(session_factory, "ana")
    with pytest.raises(InvalidReviewError, match=message):
        decide(session_factory, item.id, "ana", action=action, reason_code=code, review=REVIEW)
    assert get_item(session_factory, item.id) is not None


def test_policy_reason_codes_are_the_ones_accepted(session_factory: sessionmaker[Session]) -> None:
    review = ReviewPolicy.model_validate(
        {
            "reason_codes": {
                "fake-brand": {"action": "block", "description": "replica", "severity": 3},
                "genuine": {"action": "allow", "description": "authentic", "severity": 0},
            }
        }
    )
    _queue(session_factory, 0.5)
    item = claim(session_factory, "ana")
    with pytest.raises(InvalidReviewError, match="codes for block: fake-brand"):
        decide(session_factory, item.id, "ana", action="block", reason_code="violation-confirmed",
               review=review)  # fmt: skip
    decided = decide(
        session_factory, item.id, "ana", action="block", reason_code="fake-brand", review=review
    )
    assert decided.reason_code == "fake-brand"


def test_decide_by_someone_else_names_the_holder(session_factory: sessionmaker[Session]) -> None:
    _queue(session_factory, 0.5)
    claimed = claim(session_factory, "ana")
    with pytest.raises(ItemNotClaimedError) as raised:
        decide_as(session_factory, claimed.id, "ben", "allow")
    assert claimed.id in str(raised.value) and raised.value.holder == "ana"
    item = get_item(session_factory, claimed.id)
    assert item is not None and item.status == "claimed"


def test_decide_an_unclaimed_item_is_refused(session_factory: sessionmaker[Session]) -> None:
    queued = _queue(session_factory, 0.5)
    with pytest.raises(ItemNotClaimedError, match="not claimed by anyone"):
        decide_as(session_factory, str(queued.review_item_id), "ana", "allow")


def test_acting_on_an_unknown_item_is_refused(session_factory: sessionmaker[Session]) -> None:
    with pytest.raises(ItemNotFoundError, match="'missing-item'"):
        decide_as(session_factory, "missing-item", "ana", "allow")
    with pytest.raises(ItemNotFoundError):
        item_history(session_factory, "f" * 32)


def test_deciding_twice_is_an_illegal_transition(session_factory: sessionmaker[Session]) -> None:
    _queue(session_factory, 0.5)
    claimed = claim(session_factory, "ana")
    decide_as(session_factory, claimed.id, "ana", "allow")
    with pytest.raises(IllegalTransitionError, match="cannot decide an item that is decided"):
        decide_as(session_factory, claimed.id, "ana", "block")
    with pytest.raises(IllegalTransitionError, match="cannot release"):
        release(session_factory, claimed.id, "ana")


def test_withdrawal_closes_every_active_item_of_the_listing(
    session_factory: sessionmaker[Session],
) -> None:
    queued = _queue(session_factory, 0.5)
    item = claim(session_factory, "ana")
    senior = escalate(session_factory, item.id, "ana", reason="x", review=REVIEW)
    closed = withdraw_listing(session_factory, queued.listing_id, "pipeline", reason="seller")
    assert sorted(closed) == sorted([item.id, senior.id])
    for item_id in closed:
        found = get_item(session_factory, item_id)
        assert found is not None and found.status == "withdrawn"
    assert _events(session_factory)[-1] == ("listing_withdrawn", queued.listing_id)
    again, _ = record_decision(session_factory, make_review_decision(listing_id=queued.listing_id))
    assert again.review_item_id not in closed, "a resubmitted listing is queued afresh"


def test_rescoring_to_allow_supersedes_a_held_item_but_not_an_escalated_one(
    session_factory: sessionmaker[Session],
) -> None:
    held = _queue(session_factory, 0.5)
    item = claim(session_factory, "ana")
    hold(session_factory, item.id, "ana", reason="x", until=utc_now() + timedelta(hours=1))
    record_decision(session_factory, make_new_decision(listing_id=held.listing_id))
    found = get_item(session_factory, item.id)
    assert found is not None and found.status == "superseded"
    escalated = _queue(session_factory, 0.5)
    other = claim(session_factory, "ana")
    escalate(session_factory, other.id, "ana", reason="x", review=REVIEW)
    record_decision(session_factory, make_new_decision(listing_id=escalated.listing_id))
    kept = get_item(session_factory, other.id)
    assert kept is not None and kept.status == "escalated"


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
            assert item is not None and item.claimed_by == reviewer


def test_list_filters_by_kind_and_status_and_pages(
    session_factory: sessionmaker[Session],
) -> None:
    decisions = [_queue(session_factory, risk) for risk in (0.9, 0.7, 0.5)]
    claim(session_factory, "ana")
    open_items = list_items(session_factory, status="open")
    assert [item.decision_id for item in open_items] == [decisions[1].id, decisions[2].id]
    page = list_items(session_factory, limit=1, offset=1)
    assert [item.decision_id for item in page] == [decisions[1].id]
    assert count_items(session_factory) == 3
    assert count_items(session_factory, kind="senior") == 0
    assert list_items(session_factory, status="decided") == []


@pytest.mark.parametrize(
    ("call", "message"),
    [
        (lambda factory: claim_next(factory, ""), "reviewer must be"),
        (lambda factory: claim_next(factory, "r" * 101), "reviewer must be 1 to 100"),
        (lambda factory: claim_next(factory, "ana", lease_seconds=0), "lease_seconds"),
        (lambda factory: claim_next(factory, "ana", kind="boss"), "kind = 'boss'"),
        (lambda factory: list_items(factory, status="closed"), "status = 'closed'"),
        (lambda factory: list_items(factory, kind="boss"), "kind = 'boss'"),
        (lambda factory: list_items(factory, limit=0), "limit must be between 1 and 500"),
        (lambda factory: list_items(factory, offset=-1), "offset must be between 0 and"),
        (lambda factory: list_items(factory, offset=2**63), "offset must be between 0 and"),
        (lambda factory: count_items(factory, status="closed"), "status = 'closed'"),
        (lambda factory: decide_as(factory, "x", "ana", "allow", "n" * 2001), "limit is 2000"),
        (lambda factory: escalate(factory, "x", "ana", reason=" ", review=REVIEW), "blank"),
        (lambda factory: release(factory, "x", "ana", reason="r" * 2001), "limit is 2000"),
        (lambda factory: withdraw_listing(factory, "l", "ana", reason=""), "reason must not"),
    ],
)
def test_invalid_queue_arguments_are_refused(
    unbound_factory: sessionmaker[Session],
    call: Callable[[sessionmaker[Session]], object],
    message: str,
) -> None:
    with pytest.raises(InvalidReviewError, match=message):
        call(unbound_factory)


def test_a_stale_sweep_cannot_expire_a_fresh_claim(session_factory: sessionmaker[Session]) -> None:
    _queue(session_factory, 0.5)
    first = claim_next(session_factory, "ana", lease_seconds=60)
    assert first is not None
    with session_factory() as session:
        stale = session.get_one(WorkItem, first.id)  # read while ana's lease ran out
    later = utc_now() + timedelta(seconds=61)
    taken = claim_next(session_factory, "ben", lease_seconds=60, now=later)
    assert taken is not None and taken.claimed_by == "ben"
    with session_factory.begin() as session:
        assert not move(session, stale, "expire", actor="system", now=later)
    kept = get_item(session_factory, first.id)
    assert kept is not None and (kept.status, kept.claimed_by) == ("claimed", "ben")


def test_a_human_block_holds_for_its_content_whatever_is_decided_on_other_content(
    session_factory: sessionmaker[Session],
) -> None:
    content_a = make_review_decision(listing_id="flip", content_hash="a" * 64)
    record_decision(session_factory, content_a)
    decide_as(session_factory, claim(session_factory, "ana").id, "ana", "block")
    edited = make_new_decision(listing_id="flip", content_hash="b" * 64)
    to_review, _ = record_decision(session_factory, edited)
    assert (to_review.action, to_review.explanation["clause"]) == (
        "review",
        "human.edited_after_block",
    )
    back, _ = record_decision(session_factory, content_a)
    assert back.action == "block", "reverting to blocked content answers the block"
    item = get_item(session_factory, str(to_review.review_item_id))
    assert item is not None and item.status == "superseded"


def test_a_stored_allow_replayed_after_a_human_block_goes_to_review(
    session_factory: sessionmaker[Session],
) -> None:
    clean = make_new_decision(listing_id="revert", content_hash="c" * 64)
    record_decision(session_factory, clean)
    record_decision(session_factory, make_review_decision(listing_id="revert"))
    decide_as(session_factory, claim(session_factory, "ana").id, "ana", "block")
    replayed, created = record_decision(session_factory, clean)
    assert not created and (replayed.action, replayed.model_action) == ("review", "allow")
    assert replayed.review_item_id is not None
