"""The installed ``listingguard`` command end to end, as a user runs it, in separate processes.

The quickstart on demo data (train, register, pull, serve, score over HTTP), then a real training
run on marketplace-risk-v1 whose registered champion is pulled and scored through ONNX.
"""

import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from data.loaders import load_labeled
from data.mapping import load_mapping, resolve_mapping_path
from models.scorer import BundleScorer
from serving.db import create_db_engine, make_session_factory
from serving.review_queue import count_items
from tests.readme_commands import documented_commands

pytestmark = pytest.mark.slow

LISTINGGUARD = Path(sys.executable).parent / "listingguard"
SCORED = re.compile(r"scored (\d+) demo listings over HTTP: (\d+) allow, (\d+) review, (\d+) block")


def run_cli(home: Path, *args: str | Path, timeout: float) -> subprocess.CompletedProcess[str]:
    """``listingguard ARGS`` with its own LISTINGGUARD_HOME and the default tracking store."""
    env = {
        name: value
        for name, value in os.environ.items()
        if not name.startswith("LISTINGGUARD_") and name != "MLFLOW_TRACKING_URI"
    }
    env["LISTINGGUARD_HOME"] = str(home)
    started = time.perf_counter()
    # A session of its own, so a timeout also ends the server the quickstart starts.
    with subprocess.Popen(
        [str(LISTINGGUARD), *(str(arg) for arg in args)],
        cwd=home.parent,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,
    ) as process:
        try:
            stdout, stderr = process.communicate(timeout=timeout)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            stdout, stderr = process.communicate()
            pytest.fail(f"listingguard {args} ran over {timeout}s\n{stdout}\n{stderr}")
    completed = subprocess.CompletedProcess(process.args, process.returncode, stdout, stderr)
    command = " ".join(str(arg) for arg in args[:2])
    print(f"listingguard {command}: {time.perf_counter() - started:.1f}s")
    return completed


DEMO_KEY = re.compile(r"^  (pipeline|reviewer|senior_reviewer|qa) +(lg_[\w-]+)$", re.MULTILINE)


def output_of(completed: subprocess.CompletedProcess[str]) -> str:
    return f"exit status {completed.returncode}\n{completed.stdout}\n{completed.stderr}"


def test_quickstart_smoke_scores_over_http_and_fills_the_review_queue(tmp_path: Path) -> None:
    home = tmp_path / "var"
    completed = run_cli(home, "quickstart", "--smoke", timeout=300)
    assert completed.returncode == 0, output_of(completed)
    found = SCORED.search(completed.stdout)
    assert found, output_of(completed)
    scored, allow, review, block = (int(group) for group in found.groups())
    assert allow > 0 and review > 0 and block > 0, found.group(0)
    assert allow + review + block == scored
    engine = create_db_engine(f"sqlite:///{home / 'listingguard.db'}")
    try:
        open_items = count_items(make_session_factory(engine), kind="review", status="open")
    finally:
        engine.dispose()
    # A fresh database: one open queue item per listing routed to review.
    assert open_items == review
    printed = dict(DEMO_KEY.findall(completed.stdout))
    assert set(printed) == {"pipeline", "reviewer", "senior_reviewer", "qa"}, completed.stdout
    assert re.search(r"QA audit sample: \d+ decisions drawn", completed.stdout)
    assert f"Authorization: Bearer {printed['pipeline']}" in completed.stdout
    assert re.search(r"reviewer console: http://127\.0\.0\.1:\d+/console", completed.stdout)
    # The README's serving commands point at bundles the quickstart left (var/ is the home).
    bundles = {c.option("--bundle") for c in documented_commands() if c.option("--bundle")}
    assert bundles, "the README shows how to serve a bundle"
    for bundle in bundles:
        assert bundle and bundle.startswith("var/"), bundle
        BundleScorer(home / bundle.removeprefix("var/"))


def test_real_data_training_registers_a_champion_that_scores(
    marketplace_dir: Path, tmp_path: Path
) -> None:
    home = tmp_path / "var"
    validation_file = marketplace_dir / "validation.jsonl"
    # Every third line of the real train file (it is ordered by source, so all three stay): the
    # same path as a full run, in a third of the time; the full run is benchmarks/.
    train_file = tmp_path / "train-third.jsonl"
    lines = (marketplace_dir / "train.jsonl").read_text(encoding="utf-8").splitlines(True)
    train_file.write_text("".join(lines[::3]), encoding="utf-8")
    trained = run_cli(
        home,
        "train",
        "--data",
        train_file,
        "--mapping",
        "marketplace-risk-v1",
        "--validation",
        validation_file,
        timeout=420,
    )
    assert trained.returncode == 0, output_of(trained)
    assert re.search(r"^label\s+val AP\s+R@P\.95", trained.stdout, re.MULTILINE), trained.stdout
    assert (
        "registered listingguard-marketplace-risk-v1 version 1 (challenger, champion)"
        in trained.stdout
    )

    bundle = tmp_path / "champion"
    pulled = run_cli(
        home, "models", "pull", "listingguard-marketplace-risk-v1@champion", bundle, timeout=120
    )
    assert pulled.returncode == 0, output_of(pulled)

    scorer = BundleScorer(bundle)
    validation_ap = scorer.card.metrics["validation"]["regulated"]["average_precision"]
    assert validation_ap > 0.9, (
        f"regulated validation AP {validation_ap}: the baseline did not learn"
    )
    rows = load_labeled(validation_file, load_mapping(resolve_mapping_path("marketplace-risk-v1")))
    # The file is ordered by source: every k-th row spans all three sources.
    sample = rows.rows[:: len(rows.rows) // 300][:300]
    started = time.perf_counter()
    scores = scorer.score([row.listing for row in sample])
    print(f"scored {len(sample)} validation listings in {time.perf_counter() - started:.2f}s")
    assert len(scores) == 300
    assert all(set(score.probabilities) == set(scorer.card.labels) for score in scores)
    probabilities = [value for score in scores for value in score.probabilities.values()]
    assert all(0.0 <= value <= 1.0 for value in probabilities)
    regulated = [
        (score.probabilities["regulated"], row.labels.value("regulated"))
        for score, row in zip(scores, sample, strict=True)
        if row.labels.value("regulated") is not None
    ]
    positives = [p for p, label in regulated if label]
    negatives = [p for p, label in regulated if not label]
    assert len(positives) >= 20 and len(negatives) >= 20, (len(positives), len(negatives))
    ordered = sum(p > n for p in positives for n in negatives) / (len(positives) * len(negatives))
    assert ordered > 0.95, f"pulled bundle ranks regulated listings poorly: AUC {ordered:.3f}"
