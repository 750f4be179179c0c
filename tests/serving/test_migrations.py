"""The packaged Alembic migrations: reversible, complete, and enforcing the queue invariants."""

from pathlib import Path

import pytest
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import Engine, inspect
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
from serving.decision_store import record_decision
from serving.tables import Base, ReviewItem, utc_now
from tests.factories import make_new_decision


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
        assert {"decisions", "review_items"} <= _tables(engine)
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


def _add_item(engine: Engine, decision_id: str, listing_id: str, status: str) -> None:
    now = utc_now()
    item = ReviewItem(
        decision_id=decision_id,
        listing_id=listing_id,
        status=status,
        priority=0.5,
        created_at=now,
        updated_at=now,
    )
    with make_session_factory(engine).begin() as session:
        session.add(item)


def test_schema_allows_one_open_or_claimed_item_per_listing(database_url: str) -> None:
    upgrade_database(database_url)
    engine = create_db_engine(database_url)
    try:
        decision_id = _add_decision(engine, "listing-1")
        _add_item(engine, decision_id, "listing-1", "decided")
        _add_item(engine, decision_id, "listing-1", "open")
        with pytest.raises(IntegrityError):
            _add_item(engine, decision_id, "listing-1", "claimed")
        _add_item(engine, decision_id, "listing-1", "decided")
    finally:
        engine.dispose()


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
