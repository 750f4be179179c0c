"""The packaged Alembic migrations: reversible, complete, and enforcing the queue invariants."""

import json
import uuid
from pathlib import Path

import pytest
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import Engine, inspect, select, text
from sqlalchemy.exc import IntegrityError

from serving.db import (
    create_db_engine,
    current_revision,
    database_reachable,
    downgrade_database,
    head_revision,
    make_session_factory,
    upgrade_database,
)
from serving.decision_store import get_decision, record_decision
from serving.tables import ACTIVE_STATUSES, Base, GoldCase, WorkItem, utc_now
from tests.factories import make_new_decision, make_work_item

pytestmark = pytest.mark.blank_database  # migrations start from an empty database


def _tables(engine: Engine) -> set[str]:
    return set(inspect(engine).get_table_names())


def _schema_diff(engine: Engine) -> list[object]:
    with engine.connect() as connection:
        context = MigrationContext.configure(connection, opts={"compare_type": True})
        return list(compare_metadata(context, Base.metadata))


def test_upgrade_downgrade_upgrade_matches_the_models(database_url: str) -> None:
    engine = create_db_engine(database_url)
    try:
        upgrade_database(database_url)
        assert {"decisions", "work_items", "work_item_history", "events"} <= _tables(engine)
        downgrade_database(database_url, "base")
        assert _tables(engine) <= {"alembic_version"}
        assert current_revision(engine) is None
        upgrade_database(database_url)
        assert current_revision(engine) == head_revision()
        assert _schema_diff(engine) == []
    finally:
        engine.dispose()


def test_migrations_run_from_any_directory_and_create_the_sqlite_folder(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    monkeypatch.chdir(elsewhere)
    database = tmp_path / "var" / "nested" / "listingguard.db"
    upgrade_database(f"sqlite:///{database}")
    engine = create_db_engine(f"sqlite:///{database}")
    try:
        assert database.is_file()
        assert current_revision(engine) == head_revision()
    finally:
        engine.dispose()


def _add_decision(engine: Engine, listing_id: str) -> str:
    new = make_new_decision(listing_id=listing_id)
    stored, _ = record_decision(make_session_factory(engine), new)
    return stored.id


def _add_item(
    engine: Engine, decision_id: str, listing_id: str, status: str, kind: str = "review"
) -> None:
    item = make_work_item(decision_id, listing_id, status, kind)
    with make_session_factory(engine).begin() as session:
        session.add(item)


@pytest.mark.parametrize("second", ["claimed", "held", "escalated"])
def test_schema_allows_one_active_item_per_listing_and_kind(database_url: str, second: str) -> None:
    upgrade_database(database_url)
    engine = create_db_engine(database_url)
    try:
        decision_id = _add_decision(engine, "listing-1")
        _add_item(engine, decision_id, "listing-1", "decided")
        _add_item(engine, decision_id, "listing-1", "open")
        with pytest.raises(IntegrityError):
            _add_item(engine, decision_id, "listing-1", second)
        _add_item(engine, decision_id, "listing-1", second, kind="senior")
        for closed in ("decided", "superseded", "withdrawn"):
            _add_item(engine, decision_id, "listing-1", closed)
    finally:
        engine.dispose()


def test_gold_cases_and_second_reviews_migrate_down_and_up(database_url: str) -> None:
    upgrade_database(database_url)
    engine = create_db_engine(database_url)
    try:
        decision_id = _add_decision(engine, "listing-g")
        for kind, status in [("gold", "claimed"), ("gold", "claimed"), ("second", "open"),
                             ("qa", "decided"), ("review", "decided")]:  # fmt: skip
            _add_item(engine, decision_id, "listing-g", status, kind=kind)
        with make_session_factory(engine).begin() as session:
            source = session.scalars(select(WorkItem).where(WorkItem.kind == "qa")).one()
            session.add(
                GoldCase(
                    decision_id=decision_id,
                    source_item_id=source.id,
                    source="qa",
                    action="block",
                    violations={"fraud": True, "counterfeit": None},
                    reason_code="scam-or-fraud",
                    rationale="r",
                    answered_by="quinn",
                    created_by="lead",
                    created_at=utc_now(),
                )
            )
        downgrade_database(database_url, "0005")
        assert "gold_cases" not in _tables(engine)
        with engine.connect() as connection:
            kinds = sorted(connection.execute(text("SELECT kind FROM work_items")).scalars())
        assert kinds == ["qa", "review"], "gold and second items go with their revision"
        upgrade_database(database_url)
        assert current_revision(engine) == head_revision() and _schema_diff(engine) == []
    finally:
        engine.dispose()


LEGACY_ITEMS = [
    # (id, listing, status, priority, claimed_by, reviewer_action, reason)
    ("a" * 32, "l-open", "open", 0.9, None, None, None),
    ("b" * 32, "l-claimed", "claimed", 0.5, "ana", None, None),
    ("c" * 32, "l-blocked", "decided", 0.7, "ana", "block", "replica"),
    ("d" * 32, "l-escalated", "decided", 0.6, "ben", "escalate", "needs legal"),
]


def test_legacy_review_items_move_to_work_items_and_back(database_url: str) -> None:
    upgrade_database(database_url, "0003")
    engine = create_db_engine(database_url)
    try:
        decisions = {listing: _legacy_decision(engine, listing) for _, listing, *_ in LEGACY_ITEMS}
        now = utc_now()
        with engine.begin() as connection:
            for item_id, listing, status, priority, holder, action, reason in LEGACY_ITEMS:
                connection.execute(
                    text(
                        "INSERT INTO review_items (id, decision_id, listing_id, status, priority,"
                        " created_at, updated_at, claimed_by, claimed_at, decided_by,"
                        " reviewer_action, reviewer_reason, decided_at) VALUES (:id, :d, :l, :s,"
                        " :p, :t, :t, :h, :c, :by, :a, :r, :dt)"
                    ),
                    {
                        "id": item_id, "d": decisions[listing], "l": listing, "s": status,
                        "p": priority, "t": now, "h": holder, "c": now if holder else None,
                        "by": holder if action else None, "a": action, "r": reason,
                        "dt": now if action else None,
                    },
                )  # fmt: skip
        upgrade_database(database_url)
        with make_session_factory(engine)() as session:
            items = {
                (item.listing_id, item.kind): item for item in session.scalars(select(WorkItem))
            }
            history = session.execute(text("SELECT count(*) FROM work_item_history")).scalar()
            verdicts = session.execute(text("SELECT listing_id, action FROM human_verdicts")).all()
        assert {key: item.status for key, item in items.items()} == {
            ("l-open", "review"): "open",
            ("l-claimed", "review"): "claimed",
            ("l-blocked", "review"): "decided",
            ("l-escalated", "review"): "escalated",
            ("l-escalated", "senior"): "open",
        }
        senior = items[("l-escalated", "senior")]
        assert senior.parent_id == "d" * 32 and senior.claimed_by is None
        assert items[("l-open", "review")].order_at < items[("l-claimed", "review")].order_at
        assert items[("l-claimed", "review")].lease_expires_at is not None
        blocked = items[("l-blocked", "review")]
        assert (blocked.human_action, blocked.note) == ("block", "replica")
        assert history == len(LEGACY_ITEMS) + 1
        assert [tuple(row) for row in verdicts] == [("l-blocked", "block")]
        downgrade_database(database_url, "0003")
        with engine.connect() as connection:
            back = connection.execute(
                text("SELECT listing_id, status, reviewer_action FROM review_items")
            ).all()
        assert sorted(tuple(row) for row in back) == [
            ("l-blocked", "decided", "block"),
            ("l-claimed", "claimed", None),
            ("l-escalated", "decided", "escalate"),
            ("l-open", "open", None),
        ], "senior items have no place in the old schema"
    finally:
        engine.dispose()


def _legacy_decision(engine: Engine, listing_id: str) -> str:
    """A decision row as revision 0003 knew it."""
    new = make_new_decision(listing_id=listing_id)
    decision_id = uuid.uuid4().hex
    with engine.begin() as connection:
        connection.execute(
            text(
                "INSERT INTO decisions (id, idempotency_key, listing_id, content_hash, request_id,"
                " market, listing, scores, bands, regulated_category, category_scores, action,"
                " explanation, model_version, threshold_set_id, policy_version, created_at,"
                " seller_id) VALUES (:id, :k, :l, :h, 'r', 'US', '{}', '{}', '{}', NULL, '{}',"
                " 'review', '{}', 'm', 't', 'p', :t, NULL)"
            ),
            {
                "id": decision_id,
                "k": new.idempotency_key,
                "l": listing_id,
                "h": "h",
                "t": utc_now(),
            },
        )
    return decision_id


def test_schema_enforces_foreign_keys(database_url: str) -> None:
    upgrade_database(database_url)
    engine = create_db_engine(database_url)
    try:
        with pytest.raises(IntegrityError):
            _add_item(engine, "0" * 32, "listing-1", "open")
    finally:
        engine.dispose()


def test_database_reachable(sqlite_url: str) -> None:
    reachable = create_db_engine(sqlite_url)
    unreachable = create_db_engine("postgresql+psycopg://nobody@127.0.0.1:1/none")
    try:
        assert database_reachable(reachable)
        assert not database_reachable(unreachable)
    finally:
        reachable.dispose()
        unreachable.dispose()


def test_a_listings_active_items_are_found_by_index(database_url: str) -> None:
    upgrade_database(database_url)
    engine = create_db_engine(database_url)
    try:
        query = select(WorkItem).where(
            WorkItem.listing_id == "l-1", WorkItem.status.in_(ACTIVE_STATUSES)
        )
        sql = str(query.compile(engine, compile_kwargs={"literal_binds": True}))
        explain = "EXPLAIN" if engine.dialect.name == "postgresql" else "EXPLAIN QUERY PLAN"
        with engine.connect() as connection:
            if engine.dialect.name == "postgresql":
                connection.exec_driver_sql("SET enable_seqscan = off")  # an empty table
            plan = " ".join(str(row) for row in connection.exec_driver_sql(f"{explain} {sql}"))
        assert "ix_work_items_listing_id_status" in plan, plan
    finally:
        engine.dispose()


def test_decision_documents_survive_0010_down_and_up(database_url: str) -> None:
    """0010 stores the decision documents as ``json`` on PostgreSQL and drops the stratum
    index; a decision's documents read back the same before, after the downgrade and after the
    upgrade again."""
    upgrade_database(database_url)
    engine = create_db_engine(database_url)
    new = make_new_decision(explanation={"rules": ["r.1"], "reasons": {"fraud": ["é ü"]}})
    try:
        stored, _ = record_decision(make_session_factory(engine), new)

        def documents() -> tuple[object, ...]:
            with engine.connect() as connection:
                row = connection.execute(
                    text(f"SELECT {', '.join(DOCUMENTS)} FROM decisions WHERE id = :id"),
                    {"id": stored.id},
                ).one()
            return tuple(json.loads(v) if isinstance(v, str) else v for v in row)

        def shape() -> tuple[set[str], bool]:
            inspector = inspect(engine)
            types = {str(c["type"]) for c in inspector.get_columns("decisions")
                     if c["name"] in DOCUMENTS}  # fmt: skip
            indexes = {ix["name"] for ix in inspector.get_indexes("decisions")}
            return types, "ix_decisions_audit_stratum" in indexes

        before = documents()
        assert before[0] == new.listing and before[1] == new.scores
        postgres = engine.dialect.name == "postgresql"
        assert shape() == ({"JSON"}, False)
        downgrade_database(database_url, "0009")
        assert shape() == ({"JSONB" if postgres else "JSON"}, True)
        assert documents() == before
        upgrade_database(database_url)
        assert shape() == ({"JSON"}, False) and documents() == before
        assert _schema_diff(engine) == []
    finally:
        engine.dispose()


DOCUMENTS = ("listing", "scores", "bands", "category_scores", "explanation")


def test_decisions_made_after_0009_get_their_edges_back_when_it_is_downgraded(
    database_url: str,
) -> None:
    """Since 0009 a decision names its threshold set instead of carrying the edges; the
    downgrade writes each set's edges back into the decisions without a copy (a decision that
    carries its own keeps it), so the code before 0009 still answers with them."""
    upgrade_database(database_url)
    engine = create_db_engine(database_url)
    edges = {"fraud": {"allow_below": 0.2, "enforce_at": 0.9, "promise": {"precision": 0.95}}}
    made_since = make_new_decision(thresholds=edges, threshold_set_id="set-since")
    own_copy = {"fraud": {"allow_below": 0.1, "enforce_at": 0.8}}
    carried = make_new_decision(
        thresholds=edges, threshold_set_id="set-since", explanation={"thresholds": own_copy}
    )
    try:
        factory = make_session_factory(engine)
        since, _ = record_decision(factory, made_since)
        kept, _ = record_decision(factory, carried)

        def explanation(decision_id: str) -> dict[str, object]:
            with engine.connect() as connection:
                value = connection.execute(
                    text("SELECT explanation FROM decisions WHERE id = :id"), {"id": decision_id}
                ).scalar_one()
            loaded: dict[str, object] = json.loads(value) if isinstance(value, str) else value
            return loaded

        assert "thresholds" not in explanation(since.id)
        downgrade_database(database_url, "0008")
        assert explanation(since.id)["thresholds"] == edges
        assert explanation(kept.id)["thresholds"] == own_copy
        upgrade_database(database_url)
        assert _schema_diff(engine) == []
        assert get_decision(factory, since.id).thresholds == edges  # type: ignore[union-attr]
    finally:
        engine.dispose()
