"""ListingGuard's scoring endpoint beside ``mlflow models serve``: one client, one run, loopback.

    .venv/bin/python -m benchmarks.versus_peer [--shared ../shared] [--requests 1000]
        [--concurrency 1 4 8] [--queue-depth 3000] [--database-url URL] [--soak-seconds 0]
        [--workers 1]

Trains the product's baseline and the peer — a plain scikit-learn TF-IDF (word 1-2-grams of
title and description) + one-vs-rest logistic regression over the same three labels, saved as an
MLflow model that answers ``predict_proba`` — on marketplace-risk-v1 ``train.jsonl`` (demo data
when absent; see :mod:`benchmarks.http_scoring`). Starts both servers on loopback ports, each
with one worker (the product with ``--workers`` processes): ``listingguard-serve`` as it ships
(API keys, audit sampling, durable decision writes, group commit) on a SQLite file or
``--database-url``; ``mlflow models serve --env-manager local``. The script stops both.

1. Fills the product's review queue to ``--queue-depth`` open items through its batch endpoint
   (fresh validation listings), so the writes below run against a realistic queue.
2. Per concurrency level, the same bounded asyncio client (:mod:`benchmarks.load_client`) sends
   ``--requests`` single-listing requests (after 50 warm-up) to each side in turn: the product
   gets fresh listings (each one scored, decided and recorded before its answer), the peer the
   same listings' text as a one-row ``dataframe_split``.
3. Batch: the product's ``POST /v1/score/batch`` (20 calls x 256 fresh listings) against its
   in-process ceiling — ``decide_listings`` (features, onnxruntime, calibration, reasons, routing)
   of the same batches in this process, no HTTP or database — in turns (a call, then the ceiling
   on its batch), each rate all listings over all seconds; beside the peer model's in-process
   ``predict_proba`` and the product's front-end + ``session.run`` (logits only), medians.
4. The product server's resident memory (``VmRSS``, summed over its processes: supervisor and
   workers) idle after start, after the queue fill, after each level, and with
   ``--soak-seconds`` > 0 every 10 s of a steady load at concurrency 4 (first, last, largest).
   Each level also reports the CPU the product's processes used while it ran (in cores), and
   this script's own (the client's).
"""

import argparse
import json
import os
import signal
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from benchmarks.http_scoring import REPO, _fresh_listings, _load_dataset, _train
from benchmarks.live_server import HOST, free_port, one_request, server
from benchmarks.live_server import database as database_for
from benchmarks.load_client import request_bytes, run_load
from data.schema import LabeledListing, Listing
from models.policy import Policy
from models.scorer import BundleScorer
from serving.collector import tune_garbage_collector
from serving.db import create_db_engine, make_session_factory
from serving.reloads import service_policy
from serving.review_queue import count_items
from serving.scoring import decide_listings
from serving.settings import Settings

WARMUP = 50
BATCH_SIZE = 256
BATCH_CALLS = 20
FILL_CALLS_MAX = 200
SOAK_STEP_S = 10.0
PEER_READY_S = 120.0


def _parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    shared = os.environ.get("LISTINGGUARD_SHARED_DIR", str(REPO.parent / "shared"))
    parser.add_argument("--shared", type=Path, default=Path(shared))
    parser.add_argument("--requests", type=int, default=1000)
    parser.add_argument("--concurrency", type=int, nargs="+", default=[1, 4, 8])
    parser.add_argument("--queue-depth", type=int, default=3000)
    parser.add_argument("--database-url", help="SQLAlchemy URL; database 'auto' = throwaway")
    parser.add_argument("--soak-seconds", type=float, default=0.0)
    parser.add_argument("--workers", type=int, default=1, help="the product's worker processes")
    args = parser.parse_args()
    if args.requests < 1 or min(args.concurrency) < 1 or args.queue_depth < 0 or args.workers < 1:
        parser.error("--requests and --concurrency must be at least 1, --queue-depth >= 0")
    return args


def _text(listing: Listing) -> str:
    return f"{listing.title} {listing.description or ''}".strip()


def _peer_model(train: list[LabeledListing], labels: list[str], folder: Path) -> Any:
    """The peer: TF-IDF + one-vs-rest logistic regression, saved as an MLflow sklearn model."""
    import mlflow.sklearn
    import numpy as np
    from sklearn.feature_extraction.text import TfidfVectorizer
    from sklearn.linear_model import LogisticRegression
    from sklearn.multiclass import OneVsRestClassifier
    from sklearn.pipeline import make_pipeline

    texts = [_text(row.listing) for row in train]
    targets = np.array([[row.labels.values.get(name) or 0 for name in labels] for row in train])
    model = make_pipeline(
        TfidfVectorizer(ngram_range=(1, 2), sublinear_tf=True, min_df=2),
        OneVsRestClassifier(LogisticRegression(max_iter=1000)),
    )
    model.fit(texts, targets)
    mlflow.sklearn.save_model(
        model, str(folder), pyfunc_predict_fn="predict_proba", pip_requirements=["scikit-learn"]
    )
    return model


@contextmanager
def _peer_server(model_dir: Path, log_path: Path) -> Iterator[int]:
    port = free_port()
    bin_dir = Path(sys.executable).parent
    command = [str(bin_dir / "mlflow"), "models", "serve", "-m", str(model_dir)]
    command += ["--env-manager", "local", "-h", HOST, "-p", str(port), "-w", "1"]
    env = {
        **os.environ,
        "PATH": f"{bin_dir}{os.pathsep}{os.environ.get('PATH', '')}",
        "MLFLOW_DISABLE_TELEMETRY": "true",
        "DO_NOT_TRACK": "true",
    }
    with log_path.open("ab") as log:
        process = subprocess.Popen(command, env=env, stdout=log, stderr=log, start_new_session=True)
    try:
        deadline = time.monotonic() + PEER_READY_S
        while one_request(port, "GET", "/ping") != 200:
            if process.poll() is not None or time.monotonic() > deadline:
                raise SystemExit(f"the peer did not start; see {log_path.read_text()[-2000:]}")
            time.sleep(0.2)
        yield port
    finally:
        os.killpg(process.pid, signal.SIGTERM)
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)


def _processes(pid: int) -> list[int]:
    """``pid`` and its children (a supervisor's workers)."""
    children = Path(f"/proc/{pid}/task/{pid}/children").read_text().split()
    return [pid, *(int(child) for child in children)]


def _rss_mib(pid: int) -> float:
    """Resident memory of ``pid`` and its children."""
    total_kib = 0
    for process in _processes(pid):
        for line in Path(f"/proc/{process}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                total_kib += int(line.split()[1])
    return round(total_kib / 1024, 1)


def _cpu_seconds(pid: int) -> float:
    """User + system CPU time of ``pid`` and its children so far."""
    ticks = os.sysconf("SC_CLK_TCK")
    total = 0
    for process in _processes(pid):
        fields = Path(f"/proc/{process}/stat").read_text().rsplit(")", 1)[1].split()
        total += int(fields[11]) + int(fields[12])  # utime, stime
    return total / ticks


def _product_requests(
    port: int, key: str, listings: list[Listing], count: int, tag: str
) -> list[bytes]:
    auth = {"Authorization": f"Bearer {key}"}
    return [
        request_bytes(HOST, port, "/v1/score", json.dumps(body).encode(), auth)
        for body in _fresh_listings(listings, count, tag)
    ]


def _peer_requests(port: int, listings: list[Listing], count: int) -> list[bytes]:
    rows = [_text(listings[i % len(listings)]) for i in range(count)]
    return [
        request_bytes(
            HOST,
            port,
            "/invocations",
            json.dumps({"dataframe_split": {"columns": ["text"], "data": [[text]]}}).encode(),
            {},
        )
        for text in rows
    ]


def _fresh_answer(status: int, body: bytes) -> bool:
    return status == 200 and b'"replayed":false' in body


def _ok(status: int, _body: bytes) -> bool:
    return status == 200


def _fill_queue(port: int, key: str, url: str, listings: list[Listing], depth: int) -> int:
    engine = create_db_engine(url)
    factory = make_session_factory(engine)
    auth = {"Authorization": f"Bearer {key}"}
    try:
        for call in range(FILL_CALLS_MAX):
            if count_items(factory, kind="review", status="open") >= depth:
                break
            chunk = _fresh_listings(listings, BATCH_SIZE, f"fill-{uuid.uuid4().hex[:6]}-{call}")
            body = request_bytes(
                HOST, port, "/v1/score/batch", json.dumps({"listings": chunk}).encode(), auth
            )
            if run_load(HOST, port, [body], 1, _ok)["errors"]:
                raise SystemExit("a queue-fill batch was refused")
        return count_items(factory, kind="review", status="open")
    finally:
        engine.dispose()


def _levels(
    product: tuple[int, str, int],
    peer_port: int,
    listings: list[Listing],
    args: argparse.Namespace,
) -> list[dict[str, Any]]:
    port, key, pid = product
    rows = []
    for level in args.concurrency:
        total = WARMUP + args.requests
        tag = f"c{level}-{uuid.uuid4().hex[:6]}"
        ours = _product_requests(port, key, listings, total, tag)
        theirs = _peer_requests(peer_port, listings, total)
        run_load(HOST, port, ours[:WARMUP], level, _fresh_answer)
        cpu, client, began = _cpu_seconds(pid), time.process_time(), time.perf_counter()
        product_run = run_load(HOST, port, ours[WARMUP:], level, _fresh_answer)
        elapsed = time.perf_counter() - began
        product_run["server_cpu_cores"] = round((_cpu_seconds(pid) - cpu) / elapsed, 2)
        product_run["client_cpu_cores"] = round((time.process_time() - client) / elapsed, 2)
        run_load(HOST, peer_port, theirs[:WARMUP], level, _ok)
        peer_run = run_load(HOST, peer_port, theirs[WARMUP:], level, _ok)
        rows.append({"product": product_run, "peer": peer_run})
        print(
            f"c={level}: product {product_run['requests_per_s']} req/s "
            f"(p99 {product_run['p99_ms']} ms), peer {peer_run['requests_per_s']} req/s "
            f"(p99 {peer_run['p99_ms']} ms)",
            flush=True,
        )
    return rows


def _median_rate(run: Any, batches: list[list[Any]]) -> float:
    seconds = []
    for batch in batches:
        began = time.perf_counter()
        run(batch)
        seconds.append(time.perf_counter() - began)
    return round(BATCH_SIZE / statistics.median(seconds), 1)


def _batch_figures(
    product: tuple[int, str, int],
    bundle: Path,
    policy: Policy,
    peer: Any,
    listings: list[Listing],
) -> dict[str, Any]:
    """The endpoint and its in-process ceiling measured in turns — one endpoint call, then the
    ceiling on the same batch, and so on — so that both sides see the same machine (2 shared
    cores: a neighbour's load moves both); each rate is all listings over all seconds. The
    collector of this process is tuned as the server's is."""
    port, key, _pid = product
    fresh = _fresh_listings(listings, (BATCH_CALLS + 1) * BATCH_SIZE, uuid.uuid4().hex[:6])
    chunks = [fresh[i : i + BATCH_SIZE] for i in range(0, len(fresh), BATCH_SIZE)]
    bodies = [json.dumps({"listings": chunk}).encode() for chunk in chunks]
    as_listings = [[Listing.model_validate(row) for row in chunk] for chunk in chunks]
    scorer = BundleScorer(bundle)
    decide_listings(as_listings[0], scorer=scorer, policy=policy, request_id="warm")
    # This process's collector tuned as the server's: otherwise a full collection over the
    # training set held here lands in the ceiling's timing (0.5 s each, measured).
    tune_garbage_collector(Settings().gc_young_threshold)
    errors = int(one_request(port, "POST", "/v1/score/batch", bodies[0], 60.0, key=key) != 200)
    endpoint_s = ceiling_s = 0.0
    for body, batch in zip(bodies[1:], as_listings[1:], strict=True):
        began = time.perf_counter()
        errors += one_request(port, "POST", "/v1/score/batch", body, 60.0, key=key) != 200
        between = time.perf_counter()
        decide_listings(batch, scorer=scorer, policy=policy, request_id="bench")
        ceiling_s += time.perf_counter() - between
        endpoint_s += between - began
    measured = BATCH_CALLS * BATCH_SIZE
    return {
        "endpoint_listings_per_s": round(measured / endpoint_s, 1),
        "endpoint_errors": errors,
        "in_process_ceiling_listings_per_s": round(measured / ceiling_s, 1),
        "front_end_and_session_run_per_s": _median_rate(scorer.predict_logits, as_listings[1:]),
        "peer_predict_proba_per_s": _median_rate(
            lambda b: peer.predict_proba([_text(x) for x in b]), as_listings[1:]
        ),
    }


def _soak(port: int, key: str, pid: int, listings: list[Listing], seconds: float) -> list[float]:
    samples = [_rss_mib(pid)]
    ends = time.monotonic() + seconds
    while time.monotonic() < ends:
        step_ends = time.monotonic() + SOAK_STEP_S
        while time.monotonic() < step_ends:
            tag = f"soak-{uuid.uuid4().hex[:8]}"
            run_load(HOST, port, _product_requests(port, key, listings, 200, tag), 4, _ok)
        samples.append(_rss_mib(pid))
        print(f"soak: {samples[-1]} MiB", flush=True)
    return samples


def main() -> None:
    args = _parse_args()
    dataset = _load_dataset(args.shared)
    print(f"dataset: {dataset.name}; {len(dataset.requests)} request listings", flush=True)
    with tempfile.TemporaryDirectory(prefix="lg-peer-bench-") as folder:
        scratch = Path(folder)
        bundle, training_s = _train(dataset, scratch)
        scorer = BundleScorer(bundle)
        labels = list(scorer.labels)
        policy = service_policy(None, scorer.card)
        peer = _peer_model(dataset.train, labels, scratch / "peer-model")
        print(f"trained both ({training_s:.0f} s for the product's)", flush=True)
        with (
            _peer_server(scratch / "peer-model", scratch / "peer.log") as peer_port,
            database_for(args.database_url, scratch) as url,
            server(bundle, url, scratch, workers=args.workers) as running,
        ):
            product = (running.port, running.key, running.process.pid)
            memory = {"idle_after_start": _rss_mib(running.process.pid)}
            depth = _fill_queue(running.port, running.key, url, dataset.requests, args.queue_depth)
            memory["after_queue_fill"] = _rss_mib(running.process.pid)
            print(f"review queue: {depth} open items", flush=True)
            levels = _levels(product, peer_port, dataset.requests, args)
            memory["after_levels"] = _rss_mib(running.process.pid)
            batch = _batch_figures(product, bundle, policy, peer, dataset.requests)
            soak = (
                _soak(running.port, running.key, running.process.pid, dataset.requests,
                      args.soak_seconds)
                if args.soak_seconds > 0 else []
            )  # fmt: skip
    print(
        json.dumps(
            {
                "dataset": dataset.name,
                "database": "sqlite file" if args.database_url is None else args.database_url,
                "workers": args.workers,
                "open_review_items": depth,
                "levels": levels,
                "ratios": [
                    {
                        "concurrency": level["product"]["concurrency"],
                        "req_per_s": round(
                            level["product"]["requests_per_s"] / level["peer"]["requests_per_s"],
                            2,
                        ),
                        "p99": round(level["product"]["p99_ms"] / level["peer"]["p99_ms"], 2),
                    }
                    for level in levels
                ],
                "batch": batch,
                "batch_share_of_ceiling": round(
                    batch["endpoint_listings_per_s"] / batch["in_process_ceiling_listings_per_s"],
                    3,
                ),
                "rss_mib": memory,
                "soak_rss_mib": soak,
            },
            indent=2,
        )
    )


if __name__ == "__main__":
    main()
