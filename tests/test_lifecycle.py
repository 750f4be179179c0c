"""The model lifecycle end to end, on the real registry, server and database.

Train a champion and serve it; reviewers decide what it routes to review; the decided items
are exported and a challenger is retrained on them; the challenger runs in shadow; the gate
refuses a deliberately worse model (forcing it needs a reason, which is recorded; the pinned set
is the one compared on) and accepts the challenger; promotion pulls the champion
into the served folder and a SIGHUP swaps it under load with no failed request; ``/metrics`` is
scraped and parsed throughout.
"""

import http.client
import json
import os
import random
import shutil
import signal
import threading
import time
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from prometheus_client.parser import text_string_to_metric_families

from benchmarks.live_server import RunningServer, bearer, issue_key, start_server, stop_server
from data.demo import generate_demo_listings, write_demo_dataset
from models.bundle import read_card
from serving.cli import main as serve_main
from tests.cli_runs import invoke, listingguard_home
from training import tracking
from training.promotion import OUTCOME_TAG, PINNED_TAG

pytestmark = pytest.mark.slow
MODEL = "listingguard-demo"


def _call(
    server: RunningServer, method: str, path: str, body: Any = None, key: str | None = None
) -> tuple[int, Any]:
    connection = http.client.HTTPConnection("127.0.0.1", server.port, timeout=60)
    try:
        headers = {"Content-Type": "application/json", **bearer(key or server.key)}
        connection.request(method, path, None if body is None else json.dumps(body), headers)
        response = connection.getresponse()
        raw = response.read()
        return response.status, json.loads(raw) if raw[:1] in (b"{", b"[") else raw.decode()
    finally:
        connection.close()


def _metrics(server: RunningServer) -> dict[str, list[Any]]:
    status, text = _call(server, "GET", "/metrics")
    assert status == 200
    return {family.name: family.samples for family in text_string_to_metric_families(text)}


def _model_on_metrics(server: RunningServer) -> str:
    (sample,) = _metrics(server)["listingguard_model_info"]
    return str(sample.labels["model_id"])


def _outcome(version: str) -> dict[str, Any]:
    tags = tracking.version_tags(tracking.resolve(f"{MODEL}/{version}"))
    return dict(json.loads(tags[OUTCOME_TAG]))


def _flip(path: Path, share: float) -> None:
    rng = random.Random(3)
    records = [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]
    for record in records:
        for label in ("fraud", "counterfeit"):
            if record["labels"].get(label) is not None and rng.random() < share:
                record["labels"][label] = 1 - record["labels"][label]
    path.write_text("".join(json.dumps(r) + "\n" for r in records), encoding="utf-8")


def test_train_review_retrain_shadow_gate_and_swap(tmp_path: Path) -> None:
    with listingguard_home(tmp_path / "home"):
        _lifecycle(tmp_path)


def _lifecycle(tmp_path: Path) -> None:
    train = write_demo_dataset(tmp_path / "train", n=1200, seed=1)
    validation = write_demo_dataset(tmp_path / "validation", n=400, seed=2)
    assert invoke("train", "--data", train, "--mapping", "demo").exit_code == 0  # v1, champion
    served, shadow = tmp_path / "served", tmp_path / "shadow"
    assert invoke("models", "pull", f"{MODEL}@champion", served).exit_code == 0
    shutil.copytree(served, shadow)  # the shadow starts as the champion itself
    database = f"sqlite:///{tmp_path / 'lg.db'}"
    reviewer = issue_key(database, "rita", "reviewer")
    server = start_server(
        served, database, tmp_path / "server.log", env={"LISTINGGUARD_SHADOW_BUNDLE": str(shadow)}
    )
    try:
        champion = _model_on_metrics(server)
        # Listings arrive; reviewers decide what the champion sent them, from the truth.
        truth: dict[str, bool] = {}
        for row in generate_demo_listings(n=240, seed=9):
            listing = row.listing.model_dump(mode="json", exclude_none=True)
            status, decision = _call(server, "POST", "/v1/score", listing)
            assert status == 200, decision
            truth[row.listing.listing_id] = any(v == 1 for v in row.labels.values.values())
        reviewed = 0
        while True:
            status, item = _call(server, "POST", "/v1/queue/claim", {}, key=reviewer)
            if status != 200:
                break
            violated = truth[item["listing_id"]]
            verdict = (
                {"action": "block", "reason_code": "violation-confirmed"}
                if violated
                else {"action": "allow", "reason_code": "no-violation"}
            )
            status, _ = _call(
                server, "POST", f"/v1/queue/{item['id']}/decision", verdict, key=reviewer
            )
            assert status == 200
            reviewed += 1
        assert reviewed > 0

        feedback = tmp_path / "feedback.jsonl"
        exported = CliRunner().invoke(
            serve_main, ["--bundle", str(served), "--database-url", database, "export-labels",
                         "--out", str(feedback)],
        )  # fmt: skip
        assert exported.exit_code == 0, exported.output
        assert len(feedback.read_text(encoding="utf-8").splitlines()) == reviewed

        retrained = invoke(
            "retrain", "--data", train, "--mapping", "demo", "--feedback", feedback
        )  # v2, the challenger
        assert retrained.exit_code == 0, retrained.output
        assert f"with {reviewed} feedback rows" in retrained.output

        # The challenger in shadow: pulled into the shadow folder, picked up on SIGHUP.
        assert invoke("models", "pull", f"{MODEL}/2", shadow, "--force").exit_code == 0
        challenger = read_card(shadow).model_id
        os.kill(server.process.pid, signal.SIGHUP)
        time.sleep(1.5)
        for row in generate_demo_listings(n=40, seed=11):
            listing = row.listing.model_dump(mode="json", exclude_none=True)
            assert _call(server, "POST", "/v1/score", listing)[0] == 200
        qa = issue_key(database, "quentin", "qa")
        status, report = _call(server, "GET", "/v1/reports/shadow", key=qa)
        assert status == 200 and report["challenger_versions"].get(challenger, 0) >= 40
        assert report["champion_versions"].get(champion, 0) >= 40

        # The gate: a deliberately worse model is refused, the challenger accepted.
        noisy = write_demo_dataset(tmp_path / "noisy", n=1200, seed=1)
        _flip(noisy, 0.3)
        assert invoke("train", "--data", noisy, "--mapping", "demo").exit_code == 0  # v3
        gate = ("--eval-data", validation, "--mapping", "demo", "--resamples", "200")
        refused = invoke("models", "promote", MODEL, "3", *gate)
        assert refused.exit_code == 1 and "gate: REFUSED" in refused.output, refused.output
        assert "Traceback" not in refused.output
        failed = [line for line in refused.output.splitlines() if line.endswith("FAILED")]
        assert any(line.startswith("label") and "average_precision" in line for line in failed)
        assert "refused: v3 is worse than champion v1" in refused.output
        assert _outcome("3")["decision"] == "refused"
        unexplained = invoke("models", "promote", MODEL, "3", *gate, "--force")
        assert unexplained.exit_code == 1 and "--force needs --reason" in unexplained.output
        forced = invoke("models", "promote", MODEL, "3", *gate, "--force", "--reason", "hotfix 42")
        assert forced.exit_code == 0 and "gate overridden" in forced.output, forced.output
        outcome = _outcome("3")
        assert outcome["decision"] == "forced" and outcome["reason"] == "hotfix 42"
        assert outcome["champion_version"] == "1" and outcome["failed"]
        other = write_demo_dataset(tmp_path / "other", n=300, seed=3)
        unpinned = invoke(
            "models", "promote", MODEL, "2", "--eval-data", other, "--mapping", "demo"
        )
        assert unpinned.exit_code == 1 and "is not the pinned evaluation set" in unpinned.output
        pinned = json.loads(tracking.model_tag(MODEL, PINNED_TAG) or "{}")
        assert pinned["file"] == str(validation) and pinned["rows"] > 0
        # The retrain with feedback against the (forced, worse) champion: it passes.
        accepted = invoke("models", "promote", MODEL, "2", *gate)
        assert accepted.exit_code == 0 and "gate: passed" in accepted.output, accepted.output
        assert _outcome("2")["decision"] == "promoted"

        # Promotion reaches the server: pull the champion into the served folder, SIGHUP,
        # under load.
        answers: list[int] = []
        stop = threading.Event()

        def load(worker: int) -> None:
            index = 0
            while not stop.is_set():
                listing = {"listing_id": f"swap-{worker}-{index}", "title": f"ceramic mug {index}"}
                answers.append(_call(server, "POST", "/v1/score", listing)[0])
                index += 1

        threads = [threading.Thread(target=load, args=(w,)) for w in range(3)]
        for thread in threads:
            thread.start()
        try:
            time.sleep(0.5)
            assert invoke("models", "pull", f"{MODEL}@champion", served, "--force").exit_code == 0
            os.kill(server.process.pid, signal.SIGHUP)
            deadline = time.monotonic() + 30
            while time.monotonic() < deadline and _model_on_metrics(server) != challenger:
                time.sleep(0.2)
            time.sleep(0.5)
        finally:
            stop.set()
            for thread in threads:
                thread.join(timeout=60)
        assert answers and set(answers) == {200}, sorted(set(answers))
        samples = _metrics(server)
        assert _model_on_metrics(server) == challenger
        reloads = {
            (s.labels["what"], s.labels["outcome"]): s.value
            for s in samples["listingguard_reloads"]
            if s.name == "listingguard_reloads_total"
        }
        assert reloads[("model", "ok")] >= 1 and reloads[("policy", "ok")] >= 2
        scored = sum(
            s.value
            for s in samples["listingguard_http_requests"]
            if s.name == "listingguard_http_requests_total" and s.labels["route"] == "/v1/score"
        )
        assert scored >= 280 + len(answers)
    finally:
        stop_server(server.process)
