"""Schemathesis against the live service, every check and phase: no 5xx, no schema mismatch.

Runs ``benchmarks/fuzz_api.py`` with a small, seeded budget on SQLite and on PostgreSQL; the
benchmark's own default budget (>= 10,000 cases) gives the figures in docs/results.md.
"""

import json
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import REPO_ROOT

pytestmark = pytest.mark.slow
MAX_EXAMPLES = 25


def test_schemathesis_finds_no_server_error_and_no_mismatch(
    demo_bundle: Path, database_url: str, tmp_path: Path
) -> None:
    figures_path = tmp_path / "figures.json"
    command = [sys.executable, "-m", "benchmarks.fuzz_api", "--bundle", str(demo_bundle)]
    command += ["--max-examples", str(MAX_EXAMPLES), "--seed", "6", "--json-out", str(figures_path)]
    command += ["--database-url", database_url]
    completed = subprocess.run(
        command, cwd=REPO_ROOT, capture_output=True, text=True, timeout=240, check=False
    )
    assert figures_path.is_file(), completed.stdout + completed.stderr
    figures = json.loads(figures_path.read_text())
    assert figures["operations_tested"] >= 8
    assert figures["cases"] >= 300, figures
    assert figures["server_errors_5xx"] == 0, completed.stdout
    assert figures["schema_mismatches"] == 0, completed.stdout
    assert figures["errored"] == 0 and figures["server_log_errors"] == 0, completed.stdout
    assert completed.returncode == 0, completed.stdout
