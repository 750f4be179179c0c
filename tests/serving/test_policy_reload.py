"""SIGHUP re-reads the policy in the real server; a bad file is refused and the old one stays."""

import http.client
import json
import os
import signal
import time
from pathlib import Path
from typing import Any

import pytest

from benchmarks.live_server import RunningServer, start_server, stop_server
from models.policy_file import resolve_policy_path

pytestmark = pytest.mark.slow


def score(server: RunningServer, listing: dict[str, Any]) -> dict[str, Any]:
    connection = http.client.HTTPConnection("127.0.0.1", server.port, timeout=30)
    try:
        headers = {"Content-Type": "application/json", **server.auth}
        connection.request("POST", "/v1/score", json.dumps(listing), headers)
        response = connection.getresponse()
        body: dict[str, Any] = json.loads(response.read())
        assert response.status == 200, body
        return body
    finally:
        connection.close()


def scraped(server: RunningServer) -> str:
    connection = http.client.HTTPConnection("127.0.0.1", server.port, timeout=30)
    try:
        connection.request("GET", "/metrics")
        response = connection.getresponse()
        assert response.status == 200
        return response.read().decode()
    finally:
        connection.close()


def policy_text(version: str) -> str:
    example = resolve_policy_path("marketplace-example").read_text(encoding="utf-8")
    return example.replace("version: marketplace-example-2026-12", f"version: {version}")


def version_after_hup(server: RunningServer, expected: str, counter: list[int]) -> str:
    os.kill(server.process.pid, signal.SIGHUP)
    deadline = time.monotonic() + 20
    seen = ""
    while time.monotonic() < deadline:
        counter[0] += 1
        seen = score(server, {"listing_id": f"hup-{counter[0]}", "title": "ceramic mug"})[
            "policy_version"
        ]
        if seen == expected:
            return seen
        time.sleep(0.2)
    return seen


def test_sighup_swaps_the_policy_and_a_bad_file_keeps_the_old_one(
    demo_bundle: Path, tmp_path: Path
) -> None:
    policy = tmp_path / "policy.yaml"
    policy.write_text(policy_text("shop-1"), encoding="utf-8")
    log = tmp_path / "server.log"
    server = start_server(
        demo_bundle,
        f"sqlite:///{tmp_path / 'lg.db'}",
        log,
        env={"LISTINGGUARD_POLICY": str(policy)},
    )
    counter = [0]
    try:
        first = score(server, {"listing_id": "a", "title": "ceramic mug", "market": "DE"})
        assert first["policy_version"] == "shop-1"
        assert first["policy_clause"] == "default"
        policy.write_text(policy_text("shop-2"), encoding="utf-8")
        assert version_after_hup(server, "shop-2", counter) == "shop-2"
        policy.write_text(
            "version: shop-3\ncategory_label: regulated\nlabels: {spam: block}\n", encoding="utf-8"
        )
        os.kill(server.process.pid, signal.SIGHUP)
        time.sleep(1.0)
        after = score(server, {"listing_id": "b", "title": "ceramic mug"})
        assert after["policy_version"] == "shop-2"
        assert server.process.poll() is None, "the server must keep running"
        metrics = scraped(server)
        assert 'listingguard_policy_info{version="shop-2"} 1.0' in metrics
        assert "shop-1" not in metrics
        assert 'listingguard_reloads_total{outcome="ok",what="policy"} 1.0' in metrics
        assert 'listingguard_reloads_total{outcome="refused",what="policy"} 1.0' in metrics
    finally:
        stop_server(server.process)
    output = log.read_text(encoding="utf-8")
    # The server runs at --log-level warning: the successful reload is seen in the answers.
    refused = [line for line in output.splitlines() if "reload refused" in line]
    assert len(refused) == 1 and "labels.spam: unknown label(s) ['spam']" in refused[0], output
