"""Several worker processes behind one listening socket (``listingguard-serve --workers N``).

One Python process answers with one core at most (the interpreter lock); a scoring request is
mostly Python (HTTP, validation, routing, the database unit of work), so a second core needs a
second process. The supervisor (uvicorn's, which restarts a worker that dies) binds one socket
per worker on the same port with ``SO_REUSEPORT``, so the kernel spreads new connections over
the workers; with one shared socket the first worker to wake accepts every connection of a
burst and the others idle (measured: one worker at a full core, the other at none). Each worker
is the whole service (its bundle, database pool, group commit), built from the same settings,
which the supervisor hands down through ``LISTINGGUARD_*`` variables.

What must hold across workers, and how it does:

- **Reload**: SIGHUP to the supervisor is forwarded to every live worker, and each re-reads the
  bundle, shadow and policy exactly as a single process does (checked in a thread, swapped on
  its event loop, a bad bundle refused with the pair in force kept). uvicorn's own SIGHUP
  (replace every worker) is not used: it would drop keep-alive connections and turn a refused
  bundle into a failed start.
- **Metrics**: prometheus-client's multiprocess mode. The supervisor makes a fresh directory and
  sets ``PROMETHEUS_MULTIPROC_DIR`` before any worker imports prometheus-client; every worker
  writes its counters there and ``GET /metrics``, whichever worker answers it, aggregates all of
  them (see :mod:`serving.metrics`). A worker that exits is marked dead, so its live gauges stop
  counting.
- **Console sessions**: signed with one secret. In development, where none is configured, the
  supervisor draws one for all its workers (otherwise a login at one worker would be unknown
  at the next).
- **Migrations** run once, in the supervisor's startup check, before any worker starts.
"""

import logging
import os
import secrets
import shutil
import signal
import socket
import tempfile
from pathlib import Path
from typing import Final

import uvicorn
from prometheus_client import multiprocess
from uvicorn.config import STARTUP_FAILURE
from uvicorn.supervisors.multiprocess import Multiprocess, Process

from serving.settings import Settings

LOGGER = logging.getLogger("listingguard.workers")
MULTIPROC_ENV: Final = "PROMETHEUS_MULTIPROC_DIR"
APP_FACTORY: Final = "serving.app:create_app"


class ForwardingSupervisor(Multiprocess):
    """uvicorn's worker supervisor with a socket of its own for each worker, whose SIGHUP
    reloads every worker in place instead of replacing them."""

    def __init__(
        self, config: uvicorn.Config, sockets: list[socket.socket], *, metrics_dir: Path
    ) -> None:
        super().__init__(config, sockets)
        self.metrics_dir = metrics_dir
        self._known: set[int] = set()

    def init_processes(self) -> None:
        for listening in self.sockets:
            self.processes.append(self._start([listening]))

    def handle_hup(self) -> None:
        live = [p.pid for p in self.processes if p.pid is not None and p.process.is_alive()]
        LOGGER.info("SIGHUP: every worker re-reads the bundle and the policy (%s)", live)
        for pid in live:
            os.kill(pid, signal.SIGHUP)

    def keep_subprocess_alive(self) -> None:
        """uvicorn's rule (a hung worker is killed, a dead one replaced, a failed start stops
        the service), each replacement on its predecessor's socket; a gone worker's live
        gauges are dropped from the metrics."""
        for index, process in enumerate(self.processes):
            if self.should_exit.is_set():
                return
            if process.is_alive(timeout=self.config.timeout_worker_healthcheck):
                continue
            process.kill()
            process.join()
            if process.exitcode == STARTUP_FAILURE:
                LOGGER.error("worker [%s] failed to start; stopping the service", process.pid)
                self.should_exit.set()
                return
            LOGGER.warning("worker [%s] died; starting another", process.pid)
            self.processes[index] = self._start([self.sockets[index]])
        current = {p.pid for p in self.processes if p.pid is not None}
        for pid in self._known - current:
            multiprocess.mark_process_dead(pid, str(self.metrics_dir))  # type: ignore[no-untyped-call]
        self._known = current

    def handle_ttin(self) -> None:
        LOGGER.warning("SIGTTIN ignored: the number of workers is set at start (--workers)")

    def handle_ttou(self) -> None:
        LOGGER.warning("SIGTTOU ignored: the number of workers is set at start (--workers)")

    def _start(self, sockets: list[socket.socket]) -> Process:
        process = Process(self.config, sockets)
        process.start()
        return process


def worker_environment(settings: Settings) -> dict[str, str]:
    """The ``LISTINGGUARD_*`` variables that rebuild ``settings`` in a worker, beside the
    process's own environment; a development console secret drawn once for all workers."""
    names = ("bundle", "shadow_bundle", "policy", "database_url")
    handed = {
        f"LISTINGGUARD_{name.upper()}": str(value)
        for name in names
        if (value := getattr(settings, name)) is not None
    }
    if settings.console_secret is None:
        handed["LISTINGGUARD_CONSOLE_SECRET"] = secrets.token_urlsafe(48)
    if settings.inference_threads is None:
        # The cores shared out: N workers each taking every core would oversubscribe them.
        cores = os.cpu_count() or 1
        handed["LISTINGGUARD_INFERENCE_THREADS"] = str(max(1, min(4, cores // settings.workers)))
    # Migrated once by the supervisor's startup check: workers never race to migrate.
    handed["LISTINGGUARD_AUTO_MIGRATE"] = "false"
    return handed


def serve_workers(settings: Settings, *, host: str, port: int, log_level: str) -> None:
    """Serve with ``settings.workers`` processes until SIGINT or SIGTERM; blocks."""
    metrics_dir = Path(tempfile.mkdtemp(prefix="listingguard-metrics-"))
    handed = {**worker_environment(settings), MULTIPROC_ENV: str(metrics_dir)}
    previous = {name: os.environ.get(name) for name in handed}
    os.environ.update(handed)  # spawned workers start from this environment
    try:
        config = uvicorn.Config(
            APP_FACTORY,
            factory=True,
            host=host,
            port=port,
            workers=settings.workers,
            log_level=log_level,
        )
        sockets = bind_worker_sockets(host, port, settings.workers)
        try:
            ForwardingSupervisor(config, sockets, metrics_dir=metrics_dir).run()
        finally:
            for listening in sockets:
                listening.close()
    finally:
        for name, value in previous.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value
        shutil.rmtree(metrics_dir, ignore_errors=True)


def bind_worker_sockets(host: str, port: int, count: int) -> list[socket.socket]:
    """``count`` listening sockets on ``host:port`` sharing it through ``SO_REUSEPORT`` (port 0:
    the first picks a free port, the others join it)."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sockets: list[socket.socket] = []
    try:
        for _ in range(count):
            listening = socket.socket(family, socket.SOCK_STREAM)
            sockets.append(listening)
            listening.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            listening.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
            listening.bind((host, port))
            port = listening.getsockname()[1]
            listening.listen(2048)
            listening.set_inheritable(True)
    except BaseException:
        for listening in sockets:
            listening.close()
        raise
    return sockets
