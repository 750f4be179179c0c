"""Reviewers working one queue: claim and decide throughput, latency, and that nothing is lost.

    .venv/bin/python -m benchmarks.review_queue [--database-url URL] [--items 5000]
        [--workers 8] [--depth 20000]

Queues ``--depth`` review items (synthetic decisions, batch-recorded), then ``--workers``
threads each claim the next item and decide it (the default policy's reason codes) until
``--items`` are decided. Prints claims/s, the claim and decide latency (p50 / p99), and checks
every decided item was claimed once and by its decider. The queue stays ``--depth`` deep minus
the items worked, so the claim query runs against a realistic backlog. A URL whose database is
``auto`` gets a throwaway PostgreSQL database (e.g. ``postgresql+psycopg://postgres@127.0.0.1:5432/auto``);
the default is a SQLite file in a temporary folder.
"""

import argparse
import json
import statistics
import tempfile
import threading
import time
import uuid
from pathlib import Path
from typing import Any

from sqlalchemy import func, select

from benchmarks.live_server import database
from models.review_policy import PriorityWeights, ReviewPolicy, Urgency
from serving.db import create_db_engine, make_session_factory, upgrade_database
from serving.decision_store import NewDecision, record_decisions
from serving.review_actions import claim_next, decide
from serving.tables import WorkItemHistory

BATCH = 500
REVIEW = ReviewPolicy()


def _decision(n: int) -> NewDecision:
    listing_id = f"bench-{uuid.uuid4().hex[:12]}"
    risk = (n % 97) / 97
    return NewDecision(
        idempotency_key=uuid.uuid4().hex,
        listing_id=listing_id,
        content_hash=uuid.uuid4().hex,
        request_id="bench",
        market="US",
        listing={"listing_id": listing_id, "title": f"listing {n}", "seller_id": f"s-{n % 500}"},
        scores={"fraud": risk, "counterfeit": 0.01, "regulated": 0.01},
        bands={"fraud": "review", "counterfeit": "allow", "regulated": "allow"},
        regulated_category=None,
        category_scores={},
        action="review",
        explanation={"reasons": {}, "thresholds": {}, "rules": [], "clause": "bands.review"},
        model_version="bench",
        threshold_set_id="bench",
        policy_version="bench",
        urgency=Urgency({"risk": risk}, PriorityWeights().as_hours(), sla_hours=24),
    )


def _work(
    factory: Any, name: str, budget: list[int], lock: threading.Lock, out: dict[str, Any]
) -> None:
    claims, decides, items = [], [], []
    while True:
        with lock:
            if budget[0] <= 0:
                break
            budget[0] -= 1
        started = time.perf_counter()
        item = claim_next(factory, name)
        claimed = time.perf_counter()
        if item is None:
            break
        action = "block" if len(items) % 3 == 0 else "allow"
        code = "violation-confirmed" if action == "block" else "no-violation"
        decide(factory, item.id, name, action=action, reason_code=code, review=REVIEW)
        claims.append(claimed - started)
        decides.append(time.perf_counter() - claimed)
        items.append(item.id)
    out[name] = {"claims": claims, "decides": decides, "items": items}


def _ms(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return round(1000 * ordered[min(len(ordered) - 1, int(q * len(ordered)))], 2)


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--database-url")
    parser.add_argument("--items", type=int, default=5000)
    parser.add_argument("--workers", type=int, default=8)
    parser.add_argument("--depth", type=int, default=20000)
    args = parser.parse_args()
    with (
        tempfile.TemporaryDirectory(prefix="lg-queue-bench-") as folder,
        database(args.database_url, Path(folder)) as url,
    ):
        upgrade_database(url)
        engine = create_db_engine(url)
        factory = make_session_factory(engine)
        started = time.perf_counter()
        for start in range(0, args.depth, BATCH):
            record_decisions(
                factory, [_decision(n) for n in range(start, min(args.depth, start + BATCH))]
            )
        print(
            f"queued {args.depth} review items in {time.perf_counter() - started:.1f} s", flush=True
        )
        results: dict[str, Any] = {}
        budget, lock = [args.items], threading.Lock()
        threads = [
            threading.Thread(target=_work, args=(factory, f"reviewer-{n}", budget, lock, results))
            for n in range(args.workers)
        ]
        started = time.perf_counter()
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        seconds = time.perf_counter() - started
        items = [i for r in results.values() for i in r["items"]]
        claims = [c for r in results.values() for c in r["claims"]]
        decides = [d for r in results.values() for d in r["decides"]]
        with factory() as session:
            claim_rows = session.scalar(
                select(func.count())
                .select_from(WorkItemHistory)
                .where(WorkItemHistory.event == "claim")
            )
        engine.dispose()
    figures = {
        "database": url.split(":", 1)[0],
        "queue_depth": args.depth,
        "workers": args.workers,
        "decided": len(items),
        "distinct": len(set(items)),
        "claim_history_rows": claim_rows,
        "items_per_s": round(len(items) / seconds, 1),
        "claim_ms_p50": _ms(claims, 0.5),
        "claim_ms_p99": _ms(claims, 0.99),
        "decide_ms_p50": _ms(decides, 0.5),
        "decide_ms_p99": _ms(decides, 0.99),
    }
    print(json.dumps(figures, indent=2))
    if not (len(items) == len(set(items)) == claim_rows == args.items):
        raise SystemExit("an item was claimed twice or lost")
    print(f"median {statistics.median(claims) * 1000:.1f} ms per claim", flush=True)


if __name__ == "__main__":
    main()
