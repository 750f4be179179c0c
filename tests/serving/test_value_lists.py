"""Lists bound at run time: an expanding IN on SQLite, an unnested array on PostgreSQL."""

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from serving.decision_lookups import BatchLookups, KnownVerdict
from serving.decision_store import record_decisions, stored_keys
from serving.seller_health import active_points
from serving.tables import DecisionRecord, HumanVerdict, utc_now
from serving.value_lists import PerDialect
from tests.factories import make_new_decision, make_review_decision
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
