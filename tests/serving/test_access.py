"""API keys: the CLI that manages them, the cache that survives an outage, rate limits, audit."""

import asyncio
import json
from pathlib import Path

import pytest
from click.testing import CliRunner
from fastapi.testclient import TestClient
from sqlalchemy.orm import Session, sessionmaker

from serving.api_errors import ApiError
from serving.api_keys import create_key, list_keys, split_key
from serving.auth import FRESH_S, STALE_S, Authenticator, RateLimiter
from serving.cli import main as serve_main
from serving.database_calls import DatabaseCalls
from serving.db import create_db_engine, make_session_factory, upgrade_database
from tests.serving.http_checks import as_, error_of


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def _serve(database_url: str, *args: str) -> str:
    result = CliRunner().invoke(serve_main, ["--database-url", database_url, *args])
    assert result.exit_code == 0, result.output
    return result.stdout


def test_keys_cli_creates_lists_and_revokes(client: TestClient, database_url: str) -> None:
    key = _serve(database_url, "keys", "create", "--name", "eve", "--role", "qa").split()[0]
    assert split_key(key) is not None
    key_id = key.split("_")[1]
    listed = _serve(database_url, "keys", "list")
    assert key_id in listed and "eve" in listed and key.split("_", 2)[2] not in listed
    _serve(database_url, "keys", "revoke", key_id)
    refused = client.get("/v1/queue", headers=as_(key))
    assert refused.status_code == 401 and "revoked" in error_of(refused)["message"]
    bad = CliRunner().invoke(serve_main, ["--database-url", database_url, "keys", "revoke", "x"])
    assert bad.exit_code != 0 and "no key with id 'x'" in bad.output


def test_audit_export_holds_key_changes_and_item_moves(
    client: TestClient, keys: dict[str, str], database_url: str, tmp_path: Path
) -> None:
    _serve(database_url, "keys", "create", "--name", "ops", "--role", "admin")
    listing = {
        "listing_id": "aud-1",
        "title": "Hand-rolling tobacco pouch 50g, menthol",
        "description": "Loose tobacco, ships discreetly.",
        "price": 14.0,
    }
    assert client.post("/v1/score", json=listing).json()["action"] == "review"
    client.post("/v1/queue/claim", json={}, headers=as_(keys["ana"]))
    out = tmp_path / "audit.jsonl"
    _serve(database_url, "audit", "export", "--out", str(out))
    rows = [json.loads(line) for line in out.read_text().splitlines()]
    actions = [row["action"] for row in rows]
    assert "key.create" in actions and "item.open" in actions and "item.claim" in actions
    assert [row["at"] for row in rows] == sorted(row["at"] for row in rows)
    assert not any("scores" in json.dumps(row) for row in rows)


@pytest.fixture
def sqlite_factory(tmp_path: Path) -> sessionmaker[Session]:
    url = f"sqlite:///{tmp_path / 'keys.db'}"
    upgrade_database(url)
    return make_session_factory(create_db_engine(url))


def test_a_cached_key_survives_an_outage_until_it_is_stale(
    sqlite_factory: sessionmaker[Session], tmp_path: Path
) -> None:
    _, key = create_key(sqlite_factory, "pipe", "pipeline")
    clock, database = Clock(), DatabaseCalls(threads=1, deadline_s=5)
    authenticator = Authenticator(sqlite_factory, database, clock=clock)
    try:
        assert asyncio.run(authenticator.caller(key)).name == "pipe"
        (tmp_path / "keys.db").rename(tmp_path / "away.db")  # the database is gone
        sqlite_factory.kw["bind"].dispose()
        clock.now += FRESH_S + 1
        assert asyncio.run(authenticator.caller(key)).role == "pipeline", "stale but trusted"
        clock.now += STALE_S
        with pytest.raises(Exception, match="no such table"):
            asyncio.run(authenticator.caller(key))
    finally:
        database.shutdown()


def test_the_rate_limiter_refills_at_its_rate() -> None:
    clock = Clock()
    limiter = RateLimiter(clock)
    assert [limiter.take("k", 60) for _ in range(60)] == [0.0] * 60
    assert limiter.take("k", 60) == pytest.approx(1.0)
    clock.now += 1.0
    assert limiter.take("k", 60) == 0.0
    assert limiter.take("other", 60) == 0.0, "buckets are per key"


@pytest.mark.parametrize(
    ("name", "role", "message"),
    [("", "qa", "name must be"), ("x" * 101, "qa", "name must be"), ("eve", "boss", "role =")],
)
def test_bad_keys_are_refused(
    sqlite_factory: sessionmaker[Session], name: str, role: str, message: str
) -> None:
    with pytest.raises(ValueError, match=message):
        create_key(sqlite_factory, name, role)
    assert list_keys(sqlite_factory) == []


def test_a_wrong_secret_for_a_known_id_is_refused(sqlite_factory: sessionmaker[Session]) -> None:
    _, key = create_key(sqlite_factory, "pipe", "pipeline")
    database = DatabaseCalls(threads=1, deadline_s=5)
    try:
        authenticator = Authenticator(sqlite_factory, database)
        with pytest.raises(ApiError, match="unknown API key"):
            asyncio.run(authenticator.caller(key[:-1] + ("A" if key[-1] != "A" else "B")))
    finally:
        database.shutdown()
