"""``listingguard mlflow-ui`` serves the project's own store and leaves no stray files."""

import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest

pytestmark = pytest.mark.slow
LISTINGGUARD = Path(sys.executable).parent / "listingguard"


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def get(url: str) -> tuple[int, bytes]:
    try:
        with urllib.request.urlopen(url, timeout=5) as response:
            return response.status, response.read()
    except (urllib.error.URLError, OSError):
        return 0, b""


def test_mlflow_ui_opens_the_projects_store(tmp_path: Path) -> None:
    home, work = tmp_path / "home", tmp_path / "work"
    work.mkdir()
    port = free_port()
    env = {**os.environ, "LISTINGGUARD_HOME": str(home)}
    env.pop("MLFLOW_TRACKING_URI", None)
    process = subprocess.Popen(
        [str(LISTINGGUARD), "mlflow-ui", "--port", str(port)],
        cwd=work,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    try:
        deadline = time.monotonic() + 120
        while get(f"http://127.0.0.1:{port}/health")[0] != 200:
            assert process.poll() is None, process.stdout.read() if process.stdout else ""
            assert time.monotonic() < deadline, "mlflow ui did not answer"
            time.sleep(0.5)
        url = f"http://127.0.0.1:{port}/api/2.0/mlflow/experiments/search?max_results=5"
        status, body = get(url)
        assert status == 200 and "experiments" in json.loads(body)
    finally:
        os.killpg(process.pid, signal.SIGTERM)
        process.wait(timeout=30)
    assert (home / "mlflow" / "mlflow.db").is_file(), "the project's store"
    assert not any(work.iterdir()), "nothing left in the working directory"
