"""The real scoring service over HTTP on loopback: requests/s and latency of POST /v1/score.

    .venv/bin/python -m benchmarks.http_scoring [--shared ../shared] [--requests 2000]
        [--concurrency 1 4] [--database-url URL]

Trains the baseline (embedded default config, no MLflow) on marketplace-risk-v1 ``train.jsonl``
when ``--shared`` (default ``$LISTINGGUARD_SHARED_DIR``, else the repository's ``../shared``)
holds it, else on demo listings (``generate_demo_listings(n=4000, seed=1)``, requests drawn from
a second demo draw). It then starts ``python -m serving.cli`` on a free 127.0.0.1 port and, per
concurrency level, sends ``--requests`` POST /v1/score from that many threads (one keep-alive
connection each, after 50 warm-up requests):

* ``fresh``  — validation listings, each with its own listing_id suffix: every request is a new
  decision written to the database (and, for ``review`` actions, a queue item);
* ``replay`` — one body repeated: every request is an idempotent replay of a stored decision.

Then 20 POST /v1/score/batch calls of 256 fresh listings each, one connection. Client and server
share the machine's cores, so on a small machine the figures understate the server alone.

``--database-url`` defaults to a SQLite file in a temporary folder. For PostgreSQL pass an existing
database (``postgresql+psycopg://postgres@127.0.0.1:5432/lg_bench``), or name the database
``auto`` (``postgresql+psycopg://postgres@127.0.0.1:5432/auto``) to have the script create a
throwaway database through the server's ``postgres`` database and drop it at the end.
"""

import argparse
import http.client
import json
import math
import os
import statistics
import tempfile
import threading
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from benchmarks.live_server import HOST, RunningServer, bearer, one_request, server
from benchmarks.live_server import database as database_for
from data.demo import generate_demo_listings
from data.loaders import load_labeled
from data.mapping import load_mapping, resolve_mapping_path
from data.schema import LabeledListing, Listing
from training.config import load_config
from training.pipeline import train_bundle

DATASET = "marketplace-risk-v1"
WARMUP_REQUESTS = 50
BATCH_SIZE = 256
BATCH_CALLS = 20
REQUEST_TIMEOUT_S = 60.0
REPO = Path(__file__).resolve().parents[1]


@dataclass(frozen=True)
class Dataset:
    name: str
    train: list[LabeledListing]
    requests: list[Listing]


@dataclass
class ThreadResult:
    latencies_s: list[float] = field(default_factory=list)
    errors: int = 0
    unexpected_replay: int = 0
    warmup_errors: int = 0


def _parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    shared = os.environ.get("LISTINGGUARD_SHARED_DIR", str(REPO.parent / "shared"))
    parser.add_argument("--shared", type=Path, default=Path(shared))
    parser.add_argument("--requests", type=int, default=2000, help="timed requests per run")
    parser.add_argument("--concurrency", type=int, nargs="+", default=[1, 4])
    parser.add_argument("--database-url", help="SQLAlchemy URL; database 'auto' = throwaway")
    args = parser.parse_args()
    if args.requests < 1 or min(args.concurrency) < 1:
        parser.error("--requests and every --concurrency must be at least 1")
    return args


def _load_dataset(shared: Path) -> Dataset:
    folder = shared / "data" / DATASET
    if (folder / "train.jsonl").is_file() and (folder / "validation.jsonl").is_file():
        mapping = load_mapping(resolve_mapping_path(DATASET))
        train = load_labeled(folder / "train.jsonl", mapping).rows
        validation = load_labeled(folder / "validation.jsonl", mapping).rows
        return Dataset(DATASET, train, [row.listing for row in validation])
    demo_requests = [row.listing for row in generate_demo_listings(n=2000, seed=2)]
    name = "demo (train: n=4000 seed=1; requests: n=2000 seed=2)"
    return Dataset(name, generate_demo_listings(n=4000, seed=1), demo_requests)


def _train(dataset: Dataset, scratch: Path) -> tuple[Path, float]:
    started = time.perf_counter()
    bundle = train_bundle(
        dataset.train,
        config=load_config(),
        data_fingerprint="bench",
        bundle_dir=scratch / "bundle",
    )
    return bundle.bundle_dir, time.perf_counter() - started


def _post(
    connection: http.client.HTTPConnection, path: str, body: bytes, key: str
) -> tuple[int, bytes]:
    """(status, body); status 0 when the connection failed (it reconnects on the next call)."""
    try:
        connection.request("POST", path, body, {"Content-Type": "application/json", **bearer(key)})
        response = connection.getresponse()
        return response.status, response.read()
    except (OSError, http.client.HTTPException):
        connection.close()
        return 0, b""


def _fresh_listings(listings: list[Listing], count: int, tag: str) -> list[dict[str, Any]]:
    """``count`` request listings cycling through ``listings``, each with a never-sent id."""
    chosen = [listings[i % len(listings)] for i in range(count)]
    return [
        {**listing.model_dump(mode="json"), "listing_id": f"{listing.listing_id}~{tag}-{i}"}
        for i, listing in enumerate(chosen)
    ]


def _encoded(bodies: list[dict[str, Any]]) -> list[bytes]:
    return [json.dumps(body).encode() for body in bodies]


def _thread_requests(
    target: RunningServer,
    warmup: list[bytes],
    timed: list[bytes],
    expect_replay: bool,
    start: threading.Barrier,
) -> ThreadResult:
    """Warm up one keep-alive connection, wait for every thread, then time each request."""
    result = ThreadResult()
    connection = http.client.HTTPConnection(HOST, target.port, timeout=REQUEST_TIMEOUT_S)
    try:
        for body in warmup:
            result.warmup_errors += _post(connection, "/v1/score", body, target.key)[0] != 200
        start.wait()
        for body in timed:
            began = time.perf_counter()
            status, answer = _post(connection, "/v1/score", body, target.key)
            result.latencies_s.append(time.perf_counter() - began)
            if status != 200:
                result.errors += 1
            elif json.loads(answer)["replayed"] is not expect_replay:
                result.unexpected_replay += 1
    finally:
        connection.close()
    return result


def _run_level(
    target: RunningServer,
    warmup: list[bytes],
    timed: list[bytes],
    concurrency: int,
    expect_replay: bool,
) -> dict[str, Any]:
    """Send ``timed`` from ``concurrency`` threads (each its own share) and summarize."""
    start = threading.Barrier(concurrency + 1)
    results = [ThreadResult() for _ in range(concurrency)]

    def work(index: int) -> None:
        results[index] = _thread_requests(
            target, warmup[index::concurrency], timed[index::concurrency], expect_replay, start
        )

    threads = [threading.Thread(target=work, args=(i,)) for i in range(concurrency)]
    for thread in threads:
        thread.start()
    start.wait()
    began = time.perf_counter()
    for thread in threads:
        thread.join()
    elapsed = time.perf_counter() - began
    return _summary(results, elapsed, concurrency, "replay" if expect_replay else "fresh")


def _summary(
    results: list[ThreadResult], elapsed: float, concurrency: int, mode: str
) -> dict[str, Any]:
    latencies = sorted(x for result in results for x in result.latencies_s)
    return {
        "mode": mode,
        "concurrency": concurrency,
        "requests": len(latencies),
        "seconds": round(elapsed, 3),
        "requests_per_s": round(len(latencies) / elapsed, 1),
        **{f"p{q}_ms": _percentile_ms(latencies, q) for q in (50, 90, 99)},
        "max_ms": round(1000 * latencies[-1], 2),
        "errors": sum(result.errors for result in results),
        "unexpected_replay": sum(result.unexpected_replay for result in results),
        "warmup_errors": sum(result.warmup_errors for result in results),
    }


def _percentile_ms(ordered: list[float], q: int) -> float:
    """Nearest-rank percentile of ascending seconds, in milliseconds."""
    rank = max(1, math.ceil(q / 100 * len(ordered)))
    return round(1000 * ordered[rank - 1], 2)


def _run_batches(target: RunningServer, listings: list[Listing], tag: str) -> dict[str, Any]:
    """One warm-up call, then ``BATCH_CALLS`` timed calls of ``BATCH_SIZE`` fresh listings."""
    fresh = _fresh_listings(listings, (BATCH_CALLS + 1) * BATCH_SIZE, tag)
    chunks = [fresh[i : i + BATCH_SIZE] for i in range(0, len(fresh), BATCH_SIZE)]
    bodies = _encoded([{"listings": chunk} for chunk in chunks])
    connection = http.client.HTTPConnection(HOST, target.port, timeout=REQUEST_TIMEOUT_S)
    latencies: list[float] = []
    errors = 0
    try:
        errors += _post(connection, "/v1/score/batch", bodies[0], target.key)[0] != 200
        for body in bodies[1:]:
            began = time.perf_counter()
            errors += _post(connection, "/v1/score/batch", body, target.key)[0] != 200
            latencies.append(time.perf_counter() - began)
    finally:
        connection.close()
    return {
        "calls": BATCH_CALLS,
        "batch_size": BATCH_SIZE,
        "listings_per_s": round(BATCH_CALLS * BATCH_SIZE / sum(latencies), 1),
        "p50_call_ms": round(1000 * statistics.median(latencies), 1),
        "max_call_ms": round(1000 * max(latencies), 1),
        "errors": errors,
    }


def _measure(
    target: RunningServer, listings: list[Listing], levels: list[int], count: int
) -> dict[str, Any]:
    """Fresh and replay runs per concurrency level, then the batch run."""
    token = uuid.uuid4().hex[:8]  # ids stay new on a database kept between runs
    replay = _encoded(_fresh_listings(listings[:1], 1, f"{token}-replay"))[0]
    if one_request(target.port, "POST", "/v1/score", replay, key=target.key) != 200:
        raise SystemExit("the replay body was refused")
    runs = []
    for level in levels:
        fresh = _encoded(_fresh_listings(listings, WARMUP_REQUESTS + count, f"{token}-c{level}"))
        runs.append(
            _run_level(target, fresh[:WARMUP_REQUESTS], fresh[WARMUP_REQUESTS:], level, False)
        )
        repeated = [replay] * (WARMUP_REQUESTS + count)
        runs.append(
            _run_level(target, repeated[:WARMUP_REQUESTS], repeated[WARMUP_REQUESTS:], level, True)
        )
    return {"runs": runs, "batch": _run_batches(target, listings, f"{token}-batch")}


def _print_table(runs: list[dict[str, Any]], batch: dict[str, Any]) -> None:
    header = f"{'mode':<7}{'conc':>5}{'requests':>9}{'req/s':>9}{'p50 ms':>9}{'p90 ms':>9}"
    print(header + f"{'p99 ms':>9}{'errors':>8}")
    for run in runs:
        print(
            f"{run['mode']:<7}{run['concurrency']:>5}{run['requests']:>9}"
            f"{run['requests_per_s']:>9.1f}{run['p50_ms']:>9.2f}{run['p90_ms']:>9.2f}"
            f"{run['p99_ms']:>9.2f}{run['errors']:>8}"
        )
    print(
        f"batch: {batch['calls']} calls x {batch['batch_size']} listings: "
        f"{batch['listings_per_s']:.1f} listings/s, p50 call {batch['p50_call_ms']:.1f} ms, "
        f"errors {batch['errors']}"
    )


def main() -> None:
    args = _parse_args()
    dataset = _load_dataset(args.shared)
    print(
        f"dataset: {dataset.name}: {len(dataset.train)} training rows, "
        f"{len(dataset.requests)} request listings",
        flush=True,
    )
    with tempfile.TemporaryDirectory(prefix="lg-http-bench-") as folder:
        scratch = Path(folder)
        bundle, training_s = _train(dataset, scratch)
        print(f"trained the baseline in {training_s:.1f} s", flush=True)
        with (
            database_for(args.database_url, scratch) as url,
            server(bundle, url, scratch) as target,
        ):
            figures = _measure(target, dataset.requests, args.concurrency, args.requests)
        database = _shown_url(url)
    _print_table(figures["runs"], figures["batch"])
    summary = {
        "dataset": dataset.name,
        "database": database,
        "cores": os.cpu_count(),
        "requests_per_run": args.requests,
        "warmup_requests": WARMUP_REQUESTS,
        "training_s": round(training_s, 1),
        **figures,
    }
    print(json.dumps(summary, indent=2))


def _shown_url(url: str) -> str:
    from sqlalchemy.engine import make_url

    return make_url(url).render_as_string(hide_password=True)


if __name__ == "__main__":
    main()
