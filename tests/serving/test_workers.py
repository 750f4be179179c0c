"""``listingguard-serve --workers N``: several processes on one port, one reload for all of them,
one set of metrics, a dead worker replaced."""

import http.client
import json
import os
import re
import shutil
import signal
import socket
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families

from benchmarks.live_server import RunningServer, issue_key, start_server, stop_server
from models.bundle import read_card
from serving.settings import Settings
from serving.workers import bind_worker_sockets, worker_environment

WORKERS = 2
WAIT_S = 60.0


def _post(server: RunningServer, listing_id: str) -> tuple[int, dict[str, Any]]:
    connection = http.client.HTTPConnection("127.0.0.1", server.port, timeout=60)
    try:
        listing = {"listing_id": listing_id, "title": f"ceramic mug {listing_id}"}
        headers = {"Content-Type": "application/json", **server.auth}
        connection.request("POST", "/v1/score", json.dumps(listing), headers)
        response = connection.getresponse()
        return response.status, json.loads(response.read())
    finally:
        connection.close()


def _scrape(server: RunningServer) -> dict[str, list[Any]]:
    connection = http.client.HTTPConnection("127.0.0.1", server.port, timeout=30)
    try:
        connection.request("GET", "/metrics")
        text = connection.getresponse().read().decode()
    finally:
        connection.close()
    return {family.name: family.samples for family in text_string_to_metric_families(text)}


def _total(samples: dict[str, list[Any]], family: str, **labels: str) -> float:
    return sum(
        s.value
        for s in samples.get(family, [])
        if s.name == f"{family}_total" and all(s.labels.get(k) == v for k, v in labels.items())
    )


def _gauge(samples: dict[str, list[Any]], family: str, **labels: str) -> float | None:
    found = [
        s.value
        for s in samples.get(family, [])
        if all(s.labels.get(k) == v for k, v in labels.items())
    ]
    return max(found) if found else None


def _workers_of(supervisor: int) -> list[int]:
    """The supervisor's worker processes (its children running the service)."""
    children = Path(f"/proc/{supervisor}/task/{supervisor}/children").read_text().split()
    return [
        int(pid)
        for pid in children
        if b"multiprocessing.spawn" in Path(f"/proc/{pid}/cmdline").read_bytes()
        and b"resource_tracker" not in Path(f"/proc/{pid}/cmdline").read_bytes()
    ]


def _until(condition: Callable[[], bool], what: str) -> None:
    deadline = time.monotonic() + WAIT_S
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"not within {WAIT_S:.0f} s: {what}")
        time.sleep(0.2)


@pytest.mark.slow
def test_workers_share_the_port_reload_together_and_count_together(
    demo_bundle: Path, second_bundle: Path, tmp_path: Path
) -> None:
    served = tmp_path / "served"
    shutil.copytree(demo_bundle, served)
    old, new = read_card(demo_bundle).model_id, read_card(second_bundle).model_id
    log = tmp_path / "server.log"
    env = {"LISTINGGUARD_WORKERS": str(WORKERS)}
    url = f"sqlite:///{tmp_path / 'lg.db'}"
    server = start_server(served, url, log, env=env)
    try:
        supervisor = server.process.pid
        _until(lambda: len(_workers_of(supervisor)) == WORKERS, f"{WORKERS} workers")
        _console_session_holds_at_every_worker(server, issue_key(url, "rev", role="reviewer"))
        with ThreadPoolExecutor(8) as pool:
            answers = list(pool.map(lambda n: _post(server, f"w-{n}"), range(40)))
        assert {status for status, _ in answers} == {200}
        assert {body["model_version"] for _, body in answers} == {old}
        # Every worker's counts reach the scrape, whichever worker answers it.
        samples = _scrape(server)
        scored = _total(samples, "listingguard_http_requests", route="/v1/score", status="200")
        assert scored == 40
        assert _total(samples, "listingguard_decisions") == 40

        # One SIGHUP to the supervisor reloads every worker in place: same processes, new model.
        before = sorted(_workers_of(supervisor))
        shutil.rmtree(served)
        shutil.copytree(second_bundle, served)
        os.kill(supervisor, signal.SIGHUP)
        _until(
            lambda: (
                _total(_scrape(server), "listingguard_reloads", what="model", outcome="ok")
                == WORKERS
            ),
            "every worker reloaded the model",
        )
        assert sorted(_workers_of(supervisor)) == before
        with ThreadPoolExecutor(8) as pool:
            answers = list(pool.map(lambda n: _post(server, f"after-{n}"), range(16)))
        assert {(status, body["model_version"]) for status, body in answers} == {(200, new)}
        samples = _scrape(server)
        assert _gauge(samples, "listingguard_model_info", model_id=new) == 1
        assert _gauge(samples, "listingguard_model_info", model_id=old) == 0

        # A worker that dies is replaced on the same port; the service keeps answering.
        killed = before[0]
        os.kill(killed, signal.SIGKILL)
        _until(
            lambda: (
                killed not in _workers_of(supervisor) and len(_workers_of(supervisor)) == WORKERS
            ),
            "the dead worker replaced",
        )
        with ThreadPoolExecutor(8) as pool:
            answers = list(pool.map(lambda n: _post(server, f"replaced-{n}"), range(16)))
        assert {status for status, _ in answers} == {200}
    finally:
        stop_server(server.process)
    output = log.read_text()
    assert server.process.returncode == 0, output[-3000:]
    assert "Warning" not in output and "Traceback" not in output, output[-3000:]


def _console_session_holds_at_every_worker(server: RunningServer, reviewer_key: str) -> None:
    """Signed in once; then each request on a new connection, which the kernel hands to any
    worker (12 of them miss a worker with odds of 1 in 2,048): all see the session."""
    base = f"http://127.0.0.1:{server.port}"
    with httpx.Client(base_url=base) as client:
        token = re.search(r'name="token" value="([^"]+)"', client.get("/console/login").text)
        assert token
        signed = client.post(
            "/console/login",
            data={"key": reviewer_key, "token": token.group(1)},
            follow_redirects=False,
        )
        assert signed.status_code == 303 and signed.headers["location"] == "/console"
        cookies = client.cookies
    for _ in range(12):
        with httpx.Client(base_url=base, cookies=cookies) as fresh:
            assert fresh.get("/console", follow_redirects=False).status_code == 200


def test_workers_get_the_settings_and_one_console_secret() -> None:
    settings = Settings(
        bundle=Path("/srv/bundle"),
        database_url="sqlite:///x.db",
        policy="strict",
        workers=2,
    )
    handed = worker_environment(settings)
    assert handed["LISTINGGUARD_BUNDLE"] == "/srv/bundle"
    assert handed["LISTINGGUARD_DATABASE_URL"] == "sqlite:///x.db"
    assert handed["LISTINGGUARD_POLICY"] == "strict"
    assert "LISTINGGUARD_SHADOW_BUNDLE" not in handed
    assert handed["LISTINGGUARD_AUTO_MIGRATE"] == "false"
    # Drawn once, handed to every worker: a console login holds at whichever worker answers.
    assert len(handed["LISTINGGUARD_CONSOLE_SECRET"]) >= 32
    cores = os.cpu_count() or 1
    assert handed["LISTINGGUARD_INFERENCE_THREADS"] == str(max(1, min(4, cores // 2)))
    rebuilt = Settings(**{k.removeprefix("LISTINGGUARD_").lower(): v for k, v in handed.items()})
    assert rebuilt.bundle == settings.bundle and rebuilt.policy == settings.policy

    configured = settings.model_copy(update={"console_secret": "s" * 40, "inference_threads": 3})
    handed = worker_environment(configured)
    assert "LISTINGGUARD_CONSOLE_SECRET" not in handed  # the workers read the configured one
    assert "LISTINGGUARD_INFERENCE_THREADS" not in handed


def test_worker_sockets_share_one_port() -> None:
    sockets = bind_worker_sockets("127.0.0.1", 0, 3)
    try:
        ports = {listening.getsockname()[1] for listening in sockets}
        assert len(ports) == 1 and ports != {0}
        port = ports.pop()
        with socket.create_connection(("127.0.0.1", port), timeout=5):
            pass  # the kernel hands it to one of the three
        # A second service on the same port is refused, as with one plain socket.
        with pytest.raises(OSError):
            bind_worker_sockets("127.0.0.1", port, 2)
    finally:
        for listening in sockets:
            listening.close()
