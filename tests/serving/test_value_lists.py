"""Lists bound at run time: an expanding IN on SQLite, an unnested array on PostgreSQL."""

from datetime import datetime, timedelta

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from serving import decision_lookups
from serving.decision_lookups import BatchLookups, KnownVerdict
from serving.decision_store import record_decisions, stored_keys
from serving.seller_health import active_points
from serving.tables import DecisionRecord, HumanVerdict, Strike, utc_now
from serving.value_lists import PerDialect
from tests.factories import make_new_decision, make_review_decision, make_work_item
from tests.serving.review_steps import claim, decide_as

_KEYS = PerDialect.build(
    lambda one_of: select(DecisionRecord.listing_id).where(
        one_of(DecisionRecord.idempotency_key, "keys")
    )
)


def test_each_database_gets_its_form_and_both_find_exactly_the_listed_rows(
    session_factory: sessionmaker[Session],
) -> None:
    decisions = [make_new_decision() for _ in range(5)]
    record_decisions(session_factory, decisions)
    wanted = [decisions[0].idempotency_key, decisions[3].idempotency_key, "not-a-stored-key"]
    with session_factory() as session:
        statement = _KEYS.for_session(session)
        text = str(statement.compile(session.get_bind()))
        postgres = session.get_bind().dialect.name == "postgresql"
        assert ("unnest" in text) is postgres
        found = set(session.scalars(statement, {"keys": wanted}))
        assert found == {decisions[0].listing_id, decisions[3].listing_id}
        assert list(session.scalars(statement, {"keys": []})) == []


def test_batch_lookups_and_the_stored_key_check_on_either_form(
    session_factory: sessionmaker[Session],
) -> None:
    queued = make_review_decision(listing={"seller_id": "seller-q", "title": "Replica watch"})
    allowed = make_new_decision()
    record_decisions(session_factory, [queued, allowed])
    with session_factory() as session:
        lookups = BatchLookups.fetch(
            session,
            [queued.listing_id, allowed.listing_id, "unseen"],
            ["seller-q", None],
            utc_now(),
        )
    assert lookups.may_have_items(queued.listing_id)
    assert not lookups.may_have_items(allowed.listing_id)
    assert not lookups.may_have_items("unseen")
    both = {queued.idempotency_key, allowed.idempotency_key}
    assert stored_keys(session_factory, [*both, "never-stored"]) == both


def test_one_lookup_reads_verdicts_items_and_strikes_as_the_tables_hold_them(
    session_factory: sessionmaker[Session],
) -> None:
    """The batch's single UNION ALL read: a human block's verdict with every field as stored
    (its time zone-aware decision time included), the listing blocked, the seller's points as
    the strikes table sums them, active items only where an item is still active."""
    first = make_review_decision(listing={"seller_id": "seller-u", "title": "Replica watch"})
    second = make_review_decision(listing={"seller_id": "seller-u", "title": "Replica bag"})
    record_decisions(session_factory, [first, second])
    decided = claim(session_factory, "ana")
    decide_as(session_factory, decided.id, "ana", "block")
    blocked, queued = (first, second) if decided.listing_id == first.listing_id else (second, first)
    now = utc_now()
    with session_factory() as session:
        lookups = BatchLookups.fetch(
            session,
            [blocked.listing_id, queued.listing_id],
            ["seller-u", "seller-none"],
            now,
        )
        verdict = session.get(HumanVerdict, (decided.listing_id, blocked.content_hash))
        points = active_points(session, "seller-u", now)
    assert verdict is not None
    known = lookups.verdict(decided.listing_id, blocked.content_hash)
    assert known == KnownVerdict(
        verdict.listing_id,
        verdict.content_hash,
        verdict.action,
        verdict.item_id,
        verdict.decided_by,
        verdict.reason_code,
        verdict.decided_at,
    )
    assert known.decided_at.tzinfo is not None
    assert lookups.blocked == {decided.listing_id}
    assert points > 0 and lookups.seller_points("seller-u") == points
    assert lookups.seller_points("seller-none") == 0
    assert lookups.listing_struck("seller-u", decided.listing_id)
    assert not lookups.may_have_items(decided.listing_id)
    assert lookups.may_have_items(queued.listing_id)


def test_lookups_in_several_chunks_match_what_the_tables_hold(
    session_factory: sessionmaker[Session], monkeypatch: pytest.MonkeyPatch
) -> None:
    """Chunks of two values, five listings against three sellers (and a batch without
    sellers): every seller's points summed over its active strikes only (expired and lifted
    ones left out), across chunks; a listing with two active items found once."""
    monkeypatch.setattr(decision_lookups, "IN_LIST_CHUNK", 2)
    now = utc_now()
    decisions = [make_new_decision(listing={"seller_id": f"seller-{n % 3}"}) for n in range(5)]
    ids = [stored.id for stored, _ in record_decisions(session_factory, decisions)]
    listings = [new.listing_id for new in decisions]
    severities = {"seller-0": [2, 3], "seller-1": [1], "seller-2": []}
    with session_factory.begin() as session:
        for seller, values in severities.items():
            for severity in values:
                session.add(_strike(ids[0], listings[0], seller, severity, now))
            session.add(_strike(ids[1], listings[1], seller, 7, now, expires_at=now - timedelta(1)))
            session.add(_strike(ids[1], listings[1], seller, 11, now, removed_at=now))
        for kind in ("review", "qa"):
            session.add(make_work_item(ids[4], listings[4], "open", kind))
    with session_factory() as session:
        lookups = BatchLookups.fetch(session, listings, list(severities), now)
        alone = BatchLookups.fetch(session, listings, [], now)
        expected = {seller: active_points(session, seller, now) for seller in severities}
    assert expected == {"seller-0": 5, "seller-1": 1, "seller-2": 0}
    assert {seller: lookups.seller_points(seller) for seller in severities} == expected
    assert lookups.struck_listings == {("seller-0", listings[0]), ("seller-1", listings[0])}
    for found in (lookups, alone):
        assert [found.may_have_items(listing) for listing in listings] == [False] * 4 + [True]
    assert alone.points == {} and alone.struck_listings == set()


def _strike(
    decision_id: str,
    listing_id: str,
    seller_id: str,
    severity: int,
    now: datetime,
    **changes: datetime,
) -> Strike:
    values = {"expires_at": now + timedelta(days=30), "removed_at": None, **changes}
    return Strike(
        seller_id=seller_id,
        listing_id=listing_id,
        decision_id=decision_id,
        item_id=None,
        labels=["fraud"],
        severity=severity,
        source="automatic",
        created_at=now,
        **values,
    )
