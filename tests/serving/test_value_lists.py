"""Lists bound at run time: an expanding IN on SQLite, an unnested array on PostgreSQL."""

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from serving.decision_lookups import BatchLookups
from serving.decision_store import record_decisions, stored_keys
from serving.tables import DecisionRecord, utc_now
from serving.value_lists import PerDialect
from tests.factories import make_new_decision, make_review_decision

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
