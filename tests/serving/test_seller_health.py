"""Seller health in the store: which blocks strike, expiry, forced review, an upheld appeal."""

import dataclasses
from datetime import timedelta

from sqlalchemy.orm import Session, sessionmaker

from models.review_policy import StrikePolicy
from serving.appeals import file_appeal
from serving.decision_store import RESTRICTED_SELLER, record_decision, record_decisions
from serving.outcome_events import events_after
from serving.review_actions import claim_next
from serving.seller_health import active_points, add_strike, seller_standing
from serving.tables import utc_now
from tests.factories import make_new_decision
from tests.serving.review_steps import REVIEW, decide_as

RULES = StrikePolicy()


def _listing(listing_id: str, seller: str) -> dict[str, object]:
    return {"listing_id": listing_id, "title": "t", "seller_id": seller}


def _block(session_factory: sessionmaker[Session], listing_id: str, seller: str, **kw: object):  # type: ignore[no-untyped-def]
    new = make_new_decision(
        listing_id=listing_id, listing=_listing(listing_id, seller), action="block", **kw
    )
    return record_decision(session_factory, new)[0]


def _restrict(session_factory: sessionmaker[Session], seller: str) -> None:
    """Three human strikes of 2 points: the seller is under the restriction that forces review."""
    with session_factory.begin() as session:
        for n in range(3):
            add_strike(
                session, seller_id=seller, listing_id=f"{seller}-{n}", decision_id="d",
                item_id=None, labels=["fraud"], severity=2, source="human", policy=RULES,
                now=utc_now(),
            )  # fmt: skip


def test_only_a_certified_automatic_block_strikes(session_factory: sessionmaker[Session]) -> None:
    _block(session_factory, "u-1", "s-auto")
    assert seller_standing(session_factory, "s-auto", RULES).strikes == []
    _block(session_factory, "c-1", "s-auto", strike_labels=("fraud",))
    [strike] = seller_standing(session_factory, "s-auto", RULES).strikes
    assert (strike.source, strike.labels, strike.severity) == ("automatic", ["fraud"], 1)


def test_strikes_expire_and_one_listing_strikes_once(
    session_factory: sessionmaker[Session],
) -> None:
    long_ago = utc_now() - timedelta(days=RULES.expire_days + 1)
    with session_factory.begin() as session:
        for listing, at in (("e-1", long_ago), ("e-2", utc_now()), ("e-2", utc_now())):
            add_strike(
                session, seller_id="s-exp", listing_id=listing, decision_id="d", item_id=None,
                labels=["fraud"], severity=2, source="human", policy=RULES, now=at,
            )  # fmt: skip
    with session_factory() as session:
        assert active_points(session, "s-exp", utc_now()) == 2
    standing = seller_standing(session_factory, "s-exp", RULES)
    assert len(standing.strikes) == 2 and standing.penalty == "warning"


def test_a_restricted_seller_never_gets_an_automatic_allow(
    session_factory: sessionmaker[Session],
) -> None:
    _restrict(session_factory, "s-bad")
    assert seller_standing(session_factory, "s-bad", RULES).penalty == "feature_restriction"
    new = make_new_decision(listing_id="fresh", listing=_listing("fresh", "s-bad"))
    stored, _ = record_decision(session_factory, new)
    assert (stored.model_action, stored.explanation["clause"]) == (
        "review",
        "strikes.force_review_from",
    )
    assert stored.review_item_id is not None
    clean, _ = record_decision(
        session_factory, make_new_decision(listing=_listing("other", "s-good"))
    )
    assert clean.action == "allow"


def test_an_upheld_appeal_confirms_an_uncertified_block(
    session_factory: sessionmaker[Session],
) -> None:
    _block(session_factory, "up-1", "s-up")
    appeal = file_appeal(session_factory, "up-1", reason="not mine", filed_by="pipe", review=REVIEW)
    assert appeal.parent_id is None, "an automatic enforcement has no human original"
    taken = claim_next(session_factory, "ana", kind="appeal")
    assert taken is not None and taken.id == appeal.id
    decide_as(session_factory, taken.id, "ana", "block")
    [strike] = seller_standing(session_factory, "s-up", RULES).strikes
    assert (strike.source, strike.severity) == ("appeal", 2)


def test_a_batch_strikes_as_one_decision_at_a_time_would(
    session_factory: sessionmaker[Session],
) -> None:
    """A batch adds its strikes to the points it read (no read per decision): the strikes, the
    points, the penalty events and the forced review after them are what the database holds."""
    with session_factory.begin() as session:
        add_strike(
            session, seller_id="s-batch", listing_id="k-0", decision_id="d", item_id=None,
            labels=["fraud"], severity=2, source="human", policy=RULES, now=utc_now(),
        )  # fmt: skip
    # k-0 is struck already; k-1..k-4 strike once each, k-2 twice in the batch: 2 + 4 = 6 points.
    blocks = ["k-0", "k-1", "k-2", "k-2", "k-3", "k-4"]
    batch = [
        make_new_decision(
            listing_id=listing,
            listing=_listing(listing, "s-batch"),
            action="block",
            strike_labels=("fraud",),
            idempotency_key=f"key-{n}".ljust(64, "0"),
        )
        for n, listing in enumerate(blocks)
    ]
    batch.append(make_new_decision(listing_id="k-5", listing=_listing("k-5", "s-batch")))
    recorded = record_decisions(session_factory, batch)
    standing = seller_standing(session_factory, "s-batch", RULES)
    assert sorted(s.listing_id for s in standing.strikes) == ["k-0", "k-1", "k-2", "k-3", "k-4"]
    with session_factory() as session:
        assert active_points(session, "s-batch", utc_now()) == 6
    penalties = [e.payload for e in events_after(session_factory, 0) if e.type == "penalty"]
    assert [(p["from"], p["to"], p["points"]) for p in penalties] == [
        ("none", "warning", 2),
        ("warning", "listing_removal", 3),
        ("listing_removal", "feature_restriction", 6),
    ]
    # The batch's own strikes restrict the seller: its later model allow goes to review.
    last, _ = recorded[-1]
    assert (last.model_action, last.explanation["clause"]) == ("review", RESTRICTED_SELLER)


def test_a_retry_naming_no_seller_is_replayed_under_the_stored_sellers_strikes(
    session_factory: sessionmaker[Session],
) -> None:
    """The seller is no part of a decision's key: a retry that leaves it out (or names another)
    replays the stored decision, and the stored seller's restriction since still forces review —
    within a batch holding a new listing as before it is scored."""
    stored_allow = make_new_decision(listing_id="r-1", listing=_listing("r-1", "s-late"))
    first, _ = record_decision(session_factory, stored_allow)
    assert first.action == "allow"
    _restrict(session_factory, "s-late")
    retry = dataclasses.replace(stored_allow, listing={"listing_id": "r-1", "title": "t"})
    recorded = record_decisions(session_factory, [retry, make_new_decision()])
    (replayed, created), _ = recorded
    assert not created and replayed.id == first.id
    assert replayed.action == "review" and replayed.model_action == "allow"
    assert replayed.review_item_id is not None
