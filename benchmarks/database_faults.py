"""The real server under database faults: how fast it answers, and what it loses.

    .venv/bin/python -m benchmarks.database_faults [--postgres-url URL] [--listings 3000]

Trains the baseline on demo listings (``generate_demo_listings(n=2000, seed=101)``), starts
``python -m serving.cli`` with its default timeouts on a throwaway PostgreSQL database reached
through a loopback proxy (``benchmarks/database_proxy.py``; the shared server is never paused),
and measures, one keep-alive client per thread:

* healthy — p50 of 200 POST /v1/score;
* frozen (proxy paused: connections open, nothing answered) — time to answer 8 concurrent scores,
  /healthz and /readyz while they wait, then the time to the first 200 after resuming;
* down (proxy stopped: connections refused) — time to answer 20 scores and /readyz, then the time
  to the first 200 once it listens again (a restart);
* kill -9 under load — ``--listings`` fresh listings from 4 clients against a SQLite server killed
  halfway, restarted, every listing sent again: decisions lost and duplicated.
"""

import argparse
import http.client
import json
import os
import signal
import statistics
import sys
import tempfile
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.engine import make_url

from benchmarks.database_proxy import DatabaseProxy
from benchmarks.live_server import HOST, RunningServer, database, start_server, stop_server
from serving.db import create_db_engine
from serving.tables import DecisionRecord

CLIENTS = 4


def _parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument(
        "--postgres-url", default="postgresql+psycopg://postgres@127.0.0.1:5432/auto"
    )
    parser.add_argument("--listings", type=int, default=3000)
    return parser.parse_args()


def _body(tag: str, n: int) -> bytes:
    return json.dumps({"listing_id": f"{tag}-{n}", "title": f"glass water pipe {n}"}).encode()


def _timed(
    server: RunningServer, method: str, path: str, body: bytes | None = None
) -> tuple[int, float]:
    connection = http.client.HTTPConnection(HOST, server.port, timeout=120)
    started = time.perf_counter()
    try:
        connection.request(method, path, body, {"Content-Type": "application/json", **server.auth})
        response = connection.getresponse()
        response.read()
        return response.status, time.perf_counter() - started
    except (OSError, http.client.HTTPException):
        return 0, time.perf_counter() - started
    finally:
        connection.close()


def _until_ok(server: RunningServer, tag: str) -> float:
    started = time.perf_counter()
    n = 0
    while _timed(server, "POST", "/v1/score", _body(tag, n))[0] != 200:
        n += 1
        time.sleep(0.05)
    return time.perf_counter() - started


def _summary(results: list[tuple[int, float]]) -> dict[str, Any]:
    seconds = [duration for _, duration in results]
    statuses: dict[str, int] = {}
    for status, _ in results:
        statuses[str(status)] = statuses.get(str(status), 0) + 1
    return {
        "statuses": statuses,
        "p50_s": round(statistics.median(seconds), 3),
        "max_s": round(max(seconds), 3),
    }


def _faults(bundle: Path, scratch: Path, postgres_url: str) -> dict[str, Any]:
    figures: dict[str, Any] = {}
    with database(postgres_url, scratch) as url:
        parsed = make_url(url)
        with DatabaseProxy(parsed.host or HOST, parsed.port or 5432) as proxy:
            proxied = parsed.set(host=HOST, port=proxy.port).render_as_string(hide_password=False)
            server = start_server(bundle, proxied, scratch / "faults.log")
            try:
                healthy = [_timed(server, "POST", "/v1/score", _body("ok", n)) for n in range(200)]
                figures["healthy_score"] = _summary(healthy)
                proxy.pause()
                with ThreadPoolExecutor(max_workers=8) as pool:
                    frozen = [
                        pool.submit(_timed, server, "POST", "/v1/score", _body("frozen", n))
                        for n in range(8)
                    ]
                    time.sleep(0.5)
                    health = [_timed(server, "GET", "/healthz") for _ in range(10)]
                    ready = [_timed(server, "GET", "/readyz") for _ in range(3)]
                    figures["frozen_score"] = _summary([future.result() for future in frozen])
                figures["frozen_healthz"] = _summary(health)
                figures["frozen_readyz"] = _summary(ready)
                proxy.resume()
                figures["resumed_first_200_s"] = round(_until_ok(server, "resumed"), 3)
                proxy.stop()
                down = [_timed(server, "POST", "/v1/score", _body("down", n)) for n in range(20)]
                figures["down_score"] = _summary(down)
                figures["down_readyz"] = _summary([_timed(server, "GET", "/readyz")])
                proxy.start()
                figures["restarted_first_200_s"] = round(_until_ok(server, "restarted"), 3)
            finally:
                stop_server(server.process)
    return figures


def _send(server: RunningServer, tag: str, count: int, answered: dict[str, str]) -> None:
    connection = http.client.HTTPConnection(HOST, server.port, timeout=60)
    headers = {"Content-Type": "application/json", **server.auth}
    try:
        for n in range(count):
            connection.request("POST", "/v1/score", _body(tag, n), headers)
            response = connection.getresponse()
            reply = json.loads(response.read())
            if response.status == 200:
                answered[reply["listing_id"]] = reply["decision_id"]
    except (OSError, http.client.HTTPException, json.JSONDecodeError):
        return
    finally:
        connection.close()


def _kill_9(bundle: Path, scratch: Path, listings: int) -> dict[str, Any]:
    url = f"sqlite:///{scratch / 'crash.db'}"
    per_client = listings // CLIENTS
    server = start_server(bundle, url, scratch / "crash.log")
    answered: dict[str, str] = {}
    threads = [
        threading.Thread(target=_send, args=(server, f"c{c}", per_client, answered))
        for c in range(CLIENTS)
    ]
    for thread in threads:
        thread.start()
    while len(answered) < listings // 2:
        time.sleep(0.01)
    os.kill(server.process.pid, signal.SIGKILL)
    server.process.wait()
    for thread in threads:
        thread.join()
    before = dict(answered)
    restarted = start_server(bundle, url, scratch / "crash.log")
    after: dict[str, str] = {}
    try:
        for c in range(CLIENTS):
            _send(restarted, f"c{c}", per_client, after)
    finally:
        stop_server(restarted.process)
    engine = create_db_engine(url)
    with engine.connect() as connection:
        total, distinct = connection.execute(
            select(func.count(), func.count(DecisionRecord.listing_id.distinct()))
        ).one()
    engine.dispose()
    return {
        "listings": per_client * CLIENTS,
        "answered_before_kill": len(before),
        "answered_decisions_changed": sum(after.get(k) != v for k, v in before.items()),
        "decisions_stored": total,
        "listings_with_a_decision": distinct,
        "lost": per_client * CLIENTS - distinct,
        "duplicated": total - distinct,
    }


def main() -> int:
    args = _parse_args()
    from data.demo import generate_demo_listings
    from training.config import load_config
    from training.pipeline import train_bundle

    with tempfile.TemporaryDirectory(prefix="lg-faults-") as folder:
        scratch = Path(folder)
        rows = list(generate_demo_listings(n=2000, seed=101))
        bundle = train_bundle(
            rows, config=load_config(), data_fingerprint="faults", bundle_dir=scratch / "bundle"
        ).bundle_dir
        figures = {"faults": _faults(bundle, scratch, args.postgres_url)}
        print(json.dumps(figures, indent=2), flush=True)
        figures["kill_9"] = _kill_9(bundle, scratch, args.listings)
    print(json.dumps(figures["kill_9"], indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
