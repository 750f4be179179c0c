"""Fixtures of the HTTP API tests: the real app on a real bundle and database."""

from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlalchemy.orm import Session, sessionmaker

from serving.db import create_db_engine, make_session_factory, upgrade_database
from serving.settings import Settings
from tests.serving.http_checks import keys_of, open_client


@pytest.fixture
def client(demo_bundle: Path, database_url: str) -> Iterator[TestClient]:
    """The app on SQLite and on PostgreSQL, with a batch limit of 5; requests carry the
    pipeline's key unless they pass another (``as_(keys["ana"])``)."""
    settings = Settings(bundle=demo_bundle, database_url=database_url, max_batch_size=5)
    with open_client(settings) as test_client:
        yield test_client


@pytest.fixture
def keys(client: TestClient) -> dict[str, str]:
    """The test keys by short name (``ana``, ``sam``, ``root``, ...)."""
    return keys_of(client)


@pytest.fixture
def session_factory(database_url: str) -> Iterator[sessionmaker[Session]]:
    """Sessions on a migrated database, SQLite and PostgreSQL."""
    upgrade_database(database_url)
    engine = create_db_engine(database_url)
    yield make_session_factory(engine)
    engine.dispose()
