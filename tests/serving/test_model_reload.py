"""SIGHUP swaps the served model without a restart or a failed request; a bad bundle is refused
and the model in force stays."""

import asyncio
import http.client
import json
import os
import shutil
import signal
import threading
import time
from pathlib import Path
from typing import Any

import pytest

from benchmarks.live_server import RunningServer, start_server, stop_server
from models.bundle import read_card
from models.errors import BundleError
from serving.app import load_state
from serving.reloads import reload_service
from serving.settings import Settings
from tests.models.bundle_edits import edit_card

pytestmark = pytest.mark.slow


def _post(server: RunningServer, index: int) -> tuple[int, str]:
    connection = http.client.HTTPConnection("127.0.0.1", server.port, timeout=60)
    try:
        listing = {"listing_id": f"swap-{index}", "title": f"ceramic mug no {index}"}
        headers = {"Content-Type": "application/json", **server.auth}
        connection.request("POST", "/v1/score", json.dumps(listing), headers)
        response = connection.getresponse()
        body: dict[str, Any] = json.loads(response.read())
        return response.status, str(body.get("model_version"))
    finally:
        connection.close()


def _replace(served: Path, bundle: Path) -> None:
    """What ``listingguard models pull --force`` does: the folder is replaced by a new one."""
    staging = served.with_name(".pull")
    shutil.copytree(bundle, staging)
    shutil.rmtree(served)
    staging.rename(served)


def _edit_calibration(card: dict[str, Any]) -> None:
    first = card["labels"][0]
    card["calibration"][first]["slope"] *= 2


def test_a_sighup_under_load_swaps_the_model_with_no_failed_request(
    demo_bundle: Path, second_bundle: Path, tmp_path: Path
) -> None:
    served = tmp_path / "served"
    shutil.copytree(demo_bundle, served)
    old, new = read_card(demo_bundle).model_id, read_card(second_bundle).model_id
    assert old != new
    log = tmp_path / "server.log"
    server = start_server(served, f"sqlite:///{tmp_path / 'lg.db'}", log)
    answers: list[tuple[int, str]] = []
    stop = threading.Event()

    def load(worker: int) -> None:
        index = worker
        while not stop.is_set():
            answers.append(_post(server, index))
            index += 4

    threads = [threading.Thread(target=load, args=(worker,)) for worker in range(4)]
    try:
        for thread in threads:
            thread.start()
        time.sleep(1.0)
        _replace(served, second_bundle)
        os.kill(server.process.pid, signal.SIGHUP)
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline and not any(v == new for _, v in answers[-4:]):
            time.sleep(0.2)
        time.sleep(0.5)
        # A broken bundle (calibration edited after export) is refused; the new model stays.
        edit_card(served, _edit_calibration)
        os.kill(server.process.pid, signal.SIGHUP)
        time.sleep(1.5)
    finally:
        stop.set()
        for thread in threads:
            thread.join(timeout=60)
        stop_server(server.process)
    statuses = [status for status, _ in answers]
    assert statuses and set(statuses) == {200}, sorted(set(statuses))
    versions = [version for _, version in answers]
    assert old in versions and new in versions
    assert versions[-1] == new, "the refused bundle must not replace the model in force"
    output = log.read_text(encoding="utf-8")
    refused = [line for line in output.splitlines() if "reload refused" in line]
    assert len(refused) == 1 and f"model {new} and policy" in refused[0], output


def test_a_bundle_of_other_labels_needs_a_restart(demo_bundle: Path, tmp_path: Path) -> None:
    served = tmp_path / "served"
    shutil.copytree(demo_bundle, served)
    state = load_state(Settings(bundle=served, database_url=f"sqlite:///{tmp_path / 'lg.db'}"))
    try:
        before = state.scorer

        def other_labels(card: dict[str, Any]) -> None:
            card["model_id"] = "another-model"
            card["labels"] = list(reversed(card["labels"]))

        edit_card(served, other_labels)
        with pytest.raises(BundleError, match="other labels need a restart"):
            asyncio.run(reload_service(state, asyncio.Lock()))
        assert state.scorer is before
        # The same model again is not reopened: only the policy is re-read.
        shutil.rmtree(served)
        shutil.copytree(demo_bundle, served)
        loaded = asyncio.run(reload_service(state, asyncio.Lock()))
        assert loaded.new_model is False and state.scorer is before
    finally:
        state.database.shutdown()
        state.readiness.shutdown()
        state.engine.dispose()
        state.readiness_engine.dispose()
