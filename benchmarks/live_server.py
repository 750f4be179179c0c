"""The real service in its own process, for benchmarks and process-level tests.

``database(url, scratch)`` yields a URL (a SQLite file in ``scratch`` by default; a PostgreSQL
database named ``auto`` is created and dropped around the block); ``server(bundle, url, scratch)``
starts ``python -m serving.cli`` on a free loopback port with a pipeline key issued in its
database and yields the running server (port, process, key) once ``/readyz`` answers 200, then
stops it.
"""

import http.client
import os
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from serving.api_keys import create_key
from serving.db import create_db_engine, make_session_factory, upgrade_database

HOST = "127.0.0.1"
READY_TIMEOUT_S = 90.0
REPO = Path(__file__).resolve().parents[1]


@contextmanager
def database(url: str | None, scratch: Path) -> Iterator[str]:
    """The URL the server gets; a PostgreSQL database named ``auto`` exists only inside."""
    if url is None:
        yield f"sqlite:///{scratch / 'bench.db'}"
        return
    from sqlalchemy.engine import make_url

    parsed = make_url(url)
    if parsed.database != "auto":
        yield url
        return
    name = f"lg_bench_{os.getpid()}_{uuid.uuid4().hex[:6]}"
    admin_sql(url, "CREATE DATABASE {}", name)
    try:
        yield parsed.set(database=name).render_as_string(hide_password=False)
    finally:
        admin_sql(url, "DROP DATABASE IF EXISTS {} WITH (FORCE)", name)


def admin_sql(url: str, statement: str, database: str) -> None:
    """Run ``statement`` (``{}`` = the quoted ``database``) on the server's ``postgres`` db."""
    import psycopg
    from psycopg import sql
    from sqlalchemy.engine import make_url

    parsed = make_url(url)
    with psycopg.connect(
        host=parsed.host or HOST,
        port=parsed.port or 5432,
        user=parsed.username,
        password=parsed.password,
        dbname="postgres",
        autocommit=True,
    ) as connection:
        connection.execute(sql.SQL(statement).format(sql.Identifier(database)))


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind((HOST, 0))
        port: int = probe.getsockname()[1]
        return port


@dataclass(frozen=True)
class RunningServer:
    port: int
    process: subprocess.Popen[bytes]
    key: str
    """A pipeline key in the server's database."""

    @property
    def auth(self) -> dict[str, str]:
        return bearer(self.key)


def issue_key(database_url: str, name: str = "bench-pipeline", role: str = "pipeline") -> str:
    """A new API key in the (migrated) database at ``database_url``."""
    upgrade_database(database_url)
    engine = create_db_engine(database_url)
    try:
        return create_key(make_session_factory(engine), name, role)[1]
    finally:
        engine.dispose()


def bearer(key: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {key}"}


def start_server(
    bundle: Path, database_url: str, log_path: Path, *, env: dict[str, str] | None = None
) -> RunningServer:
    """``python -m serving.cli`` on a free loopback port, ready (its output in ``log_path``),
    with a pipeline key issued in its database."""
    key = issue_key(database_url)
    port = free_port()
    command = [sys.executable, "-m", "serving.cli", "--bundle", str(bundle), "--host", HOST]
    command += ["--port", str(port), "--database-url", database_url, "--log-level", "warning"]
    full_env = {**os.environ, "ORT_DISABLE_TELEMETRY": "1", "DO_NOT_TRACK": "true", **(env or {})}
    with log_path.open("ab") as log:
        process = subprocess.Popen(command, cwd=REPO, env=full_env, stdout=log, stderr=log)
    try:
        wait_ready(process, port, log_path)
    except BaseException:
        stop_server(process)
        raise
    return RunningServer(port, process, key)


def stop_server(process: subprocess.Popen[bytes]) -> None:
    process.terminate()
    try:
        process.wait(timeout=15)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait(timeout=15)


@contextmanager
def server(
    bundle: Path, database_url: str, scratch: Path, *, workers: int = 1
) -> Iterator[RunningServer]:
    """A ready server (``workers`` processes) for the duration of the block; stopped on exit."""
    env = {"LISTINGGUARD_WORKERS": str(workers)}
    running = start_server(bundle, database_url, scratch / "server.log", env=env)
    try:
        yield running
    finally:
        stop_server(running.process)


def wait_ready(process: subprocess.Popen[bytes], port: int, log_path: Path) -> None:
    deadline = time.monotonic() + READY_TIMEOUT_S
    while time.monotonic() < deadline:
        if process.poll() is not None:
            tail = "\n".join(log_path.read_text(errors="replace").splitlines()[-40:])
            raise SystemExit(f"server exited with {process.returncode}; its log ends:\n{tail}")
        if one_request(port, "GET", "/readyz") == 200:
            return
        time.sleep(0.1)
    raise SystemExit(f"server not ready on port {port} after {READY_TIMEOUT_S:.0f} s")


def one_request(
    port: int,
    method: str,
    path: str,
    body: bytes | None = None,
    timeout: float = 5.0,
    *,
    key: str | None = None,
) -> int:
    """The status of one request on its own connection; 0 when nothing answered."""
    connection = http.client.HTTPConnection(HOST, port, timeout=timeout)
    headers = {"Content-Type": "application/json", **(bearer(key) if key else {})}
    try:
        connection.request(method, path, body, headers)
        response = connection.getresponse()
        response.read()
        return response.status
    except (OSError, http.client.HTTPException):
        return 0
    finally:
        connection.close()
