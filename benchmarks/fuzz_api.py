"""Schemathesis against the running service's own OpenAPI document: every check, every phase.

    .venv/bin/python -m benchmarks.fuzz_api [--database-url URL] [--max-examples 1000]
        [--seed 1] [--bundle DIR] [--json-out FILE]

Starts ``python -m serving.cli`` on a free loopback port (a SQLite file in a temporary folder by
default; a PostgreSQL URL whose database is ``auto`` gets a throwaway database), then runs
``schemathesis run`` with ``--checks all``, the coverage, fuzzing and stateful phases,
``--continue-on-failure`` (one bug does not hide the next) and a fixed seed. Without ``--bundle``
it trains the baseline on demo listings (``generate_demo_listings(n=2000, seed=101)``, no MLflow).

Prints the generated cases, the failures per schemathesis code (ST101 = a 5xx; ST103 = an
undocumented status; ST201/ST202 = schema and behaviour disagree) and the server log's errors;
exits 1 when anything failed. ``--json-out`` writes the same figures as JSON.
"""

import argparse
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from benchmarks.live_server import database, issue_key, server

SERVER_ERROR_CODE = "ST101"


def _parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--database-url", help="SQLAlchemy URL; database 'auto' = throwaway")
    parser.add_argument("--max-examples", type=int, default=1000, help="per operation and phase")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--bundle", type=Path, help="bundle directory (default: train on demo)")
    parser.add_argument("--json-out", type=Path, help="write the figures here as JSON")
    args = parser.parse_args()
    if args.max_examples < 1:
        parser.error("--max-examples must be at least 1")
    return args


def _demo_bundle(scratch: Path) -> Path:
    from data.demo import generate_demo_listings
    from training.config import load_config
    from training.pipeline import train_bundle

    rows = list(generate_demo_listings(n=2000, seed=101))
    bundle = train_bundle(
        rows, config=load_config(), data_fingerprint="fuzz", bundle_dir=scratch / "bundle"
    )
    return bundle.bundle_dir


def _schemathesis(port: int, key: str, args: argparse.Namespace, report: Path) -> str:
    command = [
        str(Path(sys.executable).parent / "schemathesis"),
        "run",
        f"http://127.0.0.1:{port}/openapi.json",
        f"--header=Authorization: Bearer {key}",
        "--checks=all",
        "--phases=coverage,fuzzing,stateful",
        "--continue-on-failure",
        f"--seed={args.seed}",
        f"--max-examples={args.max_examples}",
        # One worker: ast.parse in two threads trips a CPython 3.11 bug (gh-106905) that
        # surfaces as schemathesis runtime errors.
        "--workers=1",
        "--request-timeout=30",
        "--generation-database=none",
        "--no-color",
        "--report=json",
        f"--report-json-path={report}",
    ]
    # Run in the scratch folder: schemathesis keeps a cache in its working directory.
    completed = subprocess.run(
        command, cwd=report.parent, capture_output=True, text=True, check=False
    )
    return completed.stdout + completed.stderr


def _figures(report: dict[str, Any], log: str, seconds: float) -> dict[str, Any]:
    failures = {failure["code"]: failure["count"] for failure in report.get("failures", [])}
    return {
        "cases": report["test_cases"]["generated"],
        "cases_with_failures": report["test_cases"]["with_failures"],
        "failures_by_code": failures,
        "server_errors_5xx": failures.get(SERVER_ERROR_CODE, 0),
        "schema_mismatches": sum(n for code, n in failures.items() if code != SERVER_ERROR_CODE),
        "errored": report["test_cases"]["errored"] + len(report.get("errors", [])),
        "operations_tested": report["operations"]["tested"],
        "server_log_errors": sum("ERROR" in line for line in log.splitlines()),
        "seconds": round(seconds, 1),
        "seed": report["seed"],
    }


def main() -> int:
    args = _parse_args()
    with tempfile.TemporaryDirectory(prefix="lg-fuzz-") as folder:
        scratch = Path(folder)
        bundle = args.bundle or _demo_bundle(scratch)
        with database(args.database_url, scratch) as url, server(bundle, url, scratch) as running:
            # An admin key reaches every endpoint; ignored_auth still sends requests without it.
            key = issue_key(url, "fuzzer", "admin")
            started = time.perf_counter()
            output = _schemathesis(running.port, key, args, scratch / "report.json")
            seconds = time.perf_counter() - started
        if not (scratch / "report.json").is_file():
            print(output)
            return 2
        report = json.loads((scratch / "report.json").read_text())
        log = (scratch / "server.log").read_text(errors="replace")
        figures = _figures(report, log, seconds)
        figures["database"] = url.split(":", 1)[0].split("+", 1)[0]
    if figures["cases_with_failures"] or figures["errored"]:
        print(output)
    print(json.dumps(figures, indent=2))
    if args.json_out:
        args.json_out.write_text(json.dumps(figures, indent=2) + "\n")
    failed = figures["cases_with_failures"] or figures["errored"] or figures["server_log_errors"]
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
