"""kill -9 under load loses nothing and duplicates nothing: the real server, in its own process."""

import http.client
import json
import os
import signal
import threading
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import func, select

from benchmarks.live_server import RunningServer, start_server, stop_server
from serving.db import create_db_engine
from serving.tables import DecisionRecord

pytestmark = pytest.mark.slow
JSON = {"Content-Type": "application/json"}

LISTINGS_PER_CLIENT = 150
CLIENTS = 2
KILL_AFTER = 100


def body(client: int, n: int) -> bytes:
    listing = {"listing_id": f"crash-{client}-{n}", "title": f"glass water pipe {n}", "price": 30}
    return json.dumps(listing).encode()


def send_all(
    server: RunningServer, client: int, answered: dict[str, str], stop: threading.Event
) -> None:
    """POST this client's listings in order until the server goes away."""
    connection = http.client.HTTPConnection("127.0.0.1", server.port, timeout=30)
    try:
        for n in range(LISTINGS_PER_CLIENT):
            if stop.is_set():
                return
            connection.request("POST", "/v1/score", body(client, n), JSON | server.auth)
            response = connection.getresponse()
            decision = json.loads(response.read())
            assert response.status == 200, decision
            answered[decision["listing_id"]] = decision["decision_id"]
    except (OSError, http.client.HTTPException):
        return
    finally:
        connection.close()


def test_kill_9_under_load_loses_and_duplicates_nothing(demo_bundle: Path, tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'crash.db'}"
    log = tmp_path / "server.log"
    server = start_server(demo_bundle, url, log)
    answered: dict[str, str] = {}
    stop = threading.Event()
    clients = [
        threading.Thread(target=send_all, args=(server, c, answered, stop), daemon=True)
        for c in range(CLIENTS)
    ]
    for thread in clients:
        thread.start()
    while len(answered) < KILL_AFTER and any(thread.is_alive() for thread in clients):
        threading.Event().wait(0.01)
    os.kill(server.process.pid, signal.SIGKILL)
    server.process.wait(timeout=30)
    stop.set()
    for thread in clients:
        thread.join(timeout=30)
    before_crash = dict(answered)
    assert KILL_AFTER <= len(before_crash) < CLIENTS * LISTINGS_PER_CLIENT, "killed mid-load"

    restarted = start_server(demo_bundle, url, log)
    try:
        replies = resend_everything(restarted)
    finally:
        stop_server(restarted.process)
    for listing_id, decision_id in before_crash.items():
        assert replies[listing_id]["decision_id"] == decision_id, "an answered decision was lost"
        assert replies[listing_id]["replayed"] is True
    engine = create_db_engine(url)
    with engine.connect() as connection:
        rows = connection.execute(
            select(func.count(), func.count(DecisionRecord.listing_id.distinct()))
        )
        total, distinct = rows.one()
    engine.dispose()
    assert total == distinct == CLIENTS * LISTINGS_PER_CLIENT, "one decision per listing"


def resend_everything(server: RunningServer) -> dict[str, dict[str, Any]]:
    """What a pipeline does after an outage: send every listing again (replays are safe)."""
    connection = http.client.HTTPConnection("127.0.0.1", server.port, timeout=30)
    replies = {}
    for client in range(CLIENTS):
        for n in range(LISTINGS_PER_CLIENT):
            connection.request("POST", "/v1/score", body(client, n), JSON | server.auth)
            response = connection.getresponse()
            reply = json.loads(response.read())
            assert response.status == 200, reply
            replies[reply["listing_id"]] = reply
    connection.close()
    return replies
