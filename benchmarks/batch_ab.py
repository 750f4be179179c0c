"""The scoring endpoints of two commits, in turns: does a change make scoring faster?

    .venv/bin/python -m benchmarks.batch_ab --base REV [--candidate .] [--rounds 60]
        [--database-url postgresql+psycopg://postgres@127.0.0.1:5432/auto] [--shared ../shared]
        [--single CONCURRENCY [--round-requests 200]] [--replay]

Checks ``--base`` out into a temporary git worktree; ``--candidate`` is a folder (default: this
checkout, with its uncommitted changes). Trains one bundle with this checkout's code (see
:mod:`benchmarks.http_scoring`: marketplace-risk-v1 ``train.jsonl``, demo data when absent),
then starts ``python -m serving.cli`` from each tree on a loopback port, each on a fresh
database of its own (SQLite files, or two throwaway PostgreSQL databases with
``--database-url .../auto``), each migrated and given a key by its own tree's code. Sends
``--rounds`` 256-listing batches of fresh validation listings to each, alternating which goes
first, after 5 warm-up rounds, and prints each side's median endpoint time and their ratio:
both sides see the same minutes of the machine (2 shared cores: its speed moves by up to 30%
between minutes). With ``--single C`` each round is instead ``--round-requests`` single-listing
``POST /v1/score`` calls over ``C`` connections (the bounded client of
:mod:`benchmarks.load_client`) per side, and the figures are the median of the rounds' requests
per second and p99. With ``--replay`` each batch is sent twice, the second time a retry answered
from the store, and the retries' median time is reported beside the first sends'. Both trees
must read the bundle this checkout writes.
"""

import argparse
import json
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from pathlib import Path
from typing import Any

from benchmarks.http_scoring import REPO, Dataset, _fresh_listings, _load_dataset, _train
from benchmarks.live_server import (
    HOST,
    bearer,
    database,
    free_port,
    one_request,
    stop_server,
    wait_ready,
)
from benchmarks.load_client import request_bytes, run_load

WARMUP_ROUNDS = 5
SIDES = ("base", "candidate")
BATCH_SIZE = 256
_ISSUE_KEY = """
import sys
from serving.api_keys import create_key
from serving.db import create_db_engine, make_session_factory, upgrade_database
upgrade_database(sys.argv[1])
print(create_key(make_session_factory(create_db_engine(sys.argv[1])), "ab", "pipeline")[1])
"""


def _parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--base", required=True, help="a git revision of this repository")
    parser.add_argument("--candidate", type=Path, default=REPO)
    parser.add_argument("--rounds", type=int, default=60)
    parser.add_argument("--database-url", default=None, help="SQLAlchemy URL; database 'auto'")
    parser.add_argument("--shared", type=Path, default=REPO.parent / "shared")
    parser.add_argument("--single", type=int, metavar="CONCURRENCY", help="single listings")
    parser.add_argument("--round-requests", type=int, default=200)
    parser.add_argument("--replay", action="store_true", help="send each batch again: a retry")
    return parser.parse_args()


@contextmanager
def _worktree(revision: str) -> Iterator[Path]:
    folder = Path(tempfile.mkdtemp(prefix="lg-ab-base-")) / "tree"
    subprocess.run(
        ["git", "-C", str(REPO), "worktree", "add", "--detach", str(folder), revision],
        check=True, capture_output=True,
    )  # fmt: skip
    try:
        yield folder
    finally:
        subprocess.run(
            ["git", "-C", str(REPO), "worktree", "remove", "--force", str(folder)],
            check=False, capture_output=True,
        )  # fmt: skip


@contextmanager
def _server(tree: Path, bundle: Path, url: str, log: Path) -> Iterator[tuple[int, str]]:
    """``serving.cli`` of ``tree`` (its own package first on the path), migrated and keyed by
    its own code."""
    key = subprocess.run(
        [sys.executable, "-c", _ISSUE_KEY, url],
        cwd=tree, check=True, capture_output=True, text=True,
    ).stdout.split()[-1]  # fmt: skip
    port = free_port()
    command = [sys.executable, "-m", "serving.cli", "--bundle", str(bundle), "--host", HOST]
    command += ["--port", str(port), "--database-url", url, "--log-level", "warning"]
    with log.open("ab") as output:
        process = subprocess.Popen(command, cwd=tree, stdout=output, stderr=output)
    try:
        wait_ready(process, port, log)
        yield port, key
    finally:
        stop_server(process)


def main() -> None:
    args = _parse_args()
    dataset = _load_dataset(args.shared)
    with tempfile.TemporaryDirectory(prefix="lg-ab-") as folder, ExitStack() as stack:
        scratch = Path(folder)
        bundle, _seconds = _train(dataset, scratch)
        base = stack.enter_context(_worktree(args.base))
        servers = []
        for name, tree in (("base", base), ("candidate", args.candidate.resolve())):
            (scratch / name).mkdir()
            url = stack.enter_context(database(args.database_url, scratch / name))
            servers.append(stack.enter_context(_server(tree, bundle, url, scratch / f"{name}.log")))
        if args.single is None:
            figures = _batch_rounds(args, dataset, servers)
        else:
            figures = _single_rounds(args, dataset, servers)
    print(
        json.dumps(
            {
                "dataset": dataset.name,
                "database": args.database_url or "sqlite file",
                "base": args.base,
                "rounds": args.rounds,
                **figures,
            },
            indent=2,
        )
    )


def _turns(rounds: int) -> Iterator[tuple[int, int]]:
    """(round, side) for warm-up and measured rounds, the side going first alternating."""
    for round_ in range(rounds + WARMUP_ROUNDS):
        for side in (0, 1) if round_ % 2 == 0 else (1, 0):
            yield round_, side
        if round_ % 10 == 9:
            print(f"round {round_ + 1} of {rounds + WARMUP_ROUNDS}", flush=True)


def _batch_rounds(
    args: argparse.Namespace, dataset: Dataset, servers: list[tuple[int, str]]
) -> dict[str, Any]:
    rows = _fresh_listings(
        dataset.requests, (args.rounds + WARMUP_ROUNDS) * 2 * BATCH_SIZE, uuid.uuid4().hex[:6]
    )
    bodies = [
        json.dumps({"listings": rows[start : start + BATCH_SIZE]}).encode()
        for start in range(0, len(rows), BATCH_SIZE)
    ]
    seconds: list[list[float]] = [[], []]
    retries: list[list[float]] = [[], []]
    for round_, side in _turns(args.rounds):
        port, key = servers[side]
        for sent, times in enumerate((seconds, retries)[: 2 if args.replay else 1]):
            began = time.perf_counter()
            status = one_request(
                port, "POST", "/v1/score/batch", bodies[2 * round_ + side], 60.0, key=key
            )
            if status != 200:
                raise SystemExit(f"{SIDES[side]} answered {status} (send {sent + 1})")
            if round_ >= WARMUP_ROUNDS:
                times[side].append(time.perf_counter() - began)
    figures = _medians("", seconds)
    return {**figures, **_medians("retry_", retries)} if args.replay else figures


def _medians(prefix: str, seconds: list[list[float]]) -> dict[str, float]:
    base_ms, candidate_ms = (statistics.median(values) * 1000 for values in seconds)
    return {
        f"base_{prefix}median_ms": round(base_ms, 1),
        f"candidate_{prefix}median_ms": round(candidate_ms, 1),
        f"candidate_{prefix}time_over_base": round(candidate_ms / base_ms, 3),
    }


def _single_rounds(
    args: argparse.Namespace, dataset: Dataset, servers: list[tuple[int, str]]
) -> dict[str, Any]:
    per_round = args.round_requests
    rows = _fresh_listings(
        dataset.requests, (args.rounds + WARMUP_ROUNDS) * 2 * per_round, uuid.uuid4().hex[:6]
    )
    bodies = [json.dumps(row).encode() for row in rows]
    rates: list[list[float]] = [[], []]
    p99s: list[list[float]] = [[], []]
    for round_, side in _turns(args.rounds):
        port, key = servers[side]
        start = (2 * round_ + side) * per_round
        headers = {"Content-Type": "application/json", **bearer(key)}
        requests = [
            request_bytes(HOST, port, "/v1/score", body, headers)
            for body in bodies[start : start + per_round]
        ]
        figures = run_load(HOST, port, requests, args.single, _answered)
        if figures["errors"]:
            raise SystemExit(f"{SIDES[side]}: {figures['errors']} requests failed")
        if round_ >= WARMUP_ROUNDS:
            rates[side].append(figures["requests_per_s"])
            p99s[side].append(figures["p99_ms"])
    base_rate, candidate_rate = (statistics.median(values) for values in rates)
    base_p99, candidate_p99 = (statistics.median(values) for values in p99s)
    return {
        "concurrency": args.single,
        "requests_per_round": per_round,
        "base_requests_per_s": round(base_rate, 1),
        "candidate_requests_per_s": round(candidate_rate, 1),
        "candidate_rate_over_base": round(candidate_rate / base_rate, 3),
        "base_p99_ms": round(base_p99, 2),
        "candidate_p99_ms": round(candidate_p99, 2),
    }


def _answered(status: int, _body: bytes) -> bool:
    return status == 200


if __name__ == "__main__":
    main()
