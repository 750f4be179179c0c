"""Degraded but honest: database down, frozen or locked answers 503 with Retry-After, fast.

PostgreSQL faults go through a loopback proxy the test controls (never the shared server): stopped
is a database that is down, paused one that is frozen (connections open, nothing answered).
"""

import http.client
import json
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy.engine import make_url

from benchmarks.database_proxy import DatabaseProxy
from benchmarks.live_server import bearer, issue_key
from serving.api_errors import RETRY_AFTER_SECONDS
from serving.app import create_app
from serving.settings import Settings
from tests.serving.http_checks import error_of, open_client, serve_in_thread

DEADLINE_S = 3.0
FAST = {"database_timeout_seconds": 1.0, "readiness_timeout_seconds": 1.0}


def listing(n: int) -> dict[str, Any]:
    return {"listing_id": f"fault-{n}", "title": f"ceramic coffee mug {n}", "price": 9.5}


@pytest.fixture
def proxy(postgres_url: str) -> Iterator[tuple[DatabaseProxy, str]]:
    """A proxy in front of a fresh PostgreSQL database, and the URL that goes through it."""
    url = make_url(postgres_url)
    with DatabaseProxy(url.host or "127.0.0.1", url.port or 5432) as running:
        proxied = url.set(host="127.0.0.1", port=running.port)
        yield running, proxied.render_as_string(hide_password=False)


def fault_settings(bundle: Path, url: str) -> Settings:
    return Settings(bundle=bundle, database_url=url, request_deadline_seconds=DEADLINE_S, **FAST)


def assert_unavailable(response: Any) -> None:
    assert response.status_code == 503
    assert response.headers["Retry-After"] == str(RETRY_AFTER_SECONDS)
    assert error_of(response)["code"] == "database_unavailable"


@pytest.mark.postgres
def test_frozen_database_answers_503_within_the_deadline_and_recovers(
    demo_bundle: Path, proxy: tuple[DatabaseProxy, str]
) -> None:
    database, url = proxy
    with open_client(fault_settings(demo_bundle, url)) as client:
        assert client.post("/v1/score", json=listing(0)).status_code == 200
        database.pause()
        with ThreadPoolExecutor(max_workers=4) as pool:
            started = time.monotonic()
            stuck = [pool.submit(client.post, "/v1/score", json=listing(n)) for n in (1, 2, 3)]
            time.sleep(0.2)  # let them reach the database (no synchronization depends on it)
            health_started = time.monotonic()
            assert client.get("/healthz").status_code == 200
            assert time.monotonic() - health_started < 1.0, "liveness never waits on the database"
            ready_started = time.monotonic()
            ready = client.get("/readyz")
            assert ready.status_code == 503 and not ready.json()["database_reachable"]
            assert time.monotonic() - ready_started < 2.0
            for future in stuck:
                assert_unavailable(future.result(timeout=30))
            assert time.monotonic() - started < DEADLINE_S + 2.0
        database.resume()
        retried = client.post("/v1/score", json=listing(1))
        assert retried.status_code == 200
        assert client.get("/readyz").status_code == 200


@pytest.mark.postgres
def test_database_down_is_503_and_restart_recovers_on_kept_connections(
    demo_bundle: Path, proxy: tuple[DatabaseProxy, str]
) -> None:
    database, url = proxy
    key = issue_key(url)
    app = create_app(fault_settings(demo_bundle, url))
    with serve_in_thread(app) as port:
        connection = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
        status, _, _ = post(connection, listing(0), key)
        assert status == 200
        first_socket = connection.sock
        database.stop()
        started = time.monotonic()
        status, headers, body = post(connection, listing(1), key)
        assert status == 503, body
        assert headers["retry-after"] == str(RETRY_AFTER_SECONDS)
        assert body["error"]["code"] == "database_unavailable"
        assert time.monotonic() - started < DEADLINE_S
        database.start()
        status, _, body = post(connection, listing(1), key)
        assert status == 200, body
        assert connection.sock is first_socket, "the 503 kept the keep-alive connection"
        connection.close()


def test_locked_sqlite_is_503_after_the_busy_timeout(demo_bundle: Path, sqlite_url: str) -> None:
    import sqlite3

    settings = fault_settings(demo_bundle, sqlite_url)
    with open_client(settings) as client:
        assert client.post("/v1/score", json=listing(0)).status_code == 200
        holder = sqlite3.connect(make_url(sqlite_url).database or "", isolation_level=None)
        holder.execute("BEGIN EXCLUSIVE")
        try:
            started = time.monotonic()
            assert_unavailable(client.post("/v1/score", json=listing(1)))
            assert time.monotonic() - started < DEADLINE_S
        finally:
            holder.execute("ROLLBACK")
            holder.close()
        assert client.post("/v1/score", json=listing(1)).status_code == 200


def post(
    connection: http.client.HTTPConnection, body: dict[str, Any], key: str
) -> tuple[int, dict[str, str], dict[str, Any]]:
    headers = {"Content-Type": "application/json", **bearer(key)}
    connection.request("POST", "/v1/score", json.dumps(body), headers)
    response = connection.getresponse()
    headers = {name.lower(): value for name, value in response.getheaders()}
    return response.status, headers, json.loads(response.read())
