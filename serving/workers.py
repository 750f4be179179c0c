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

import copy
import logging
import os
import secrets
import shutil
import signal
import socket
import tempfile
import time
from pathlib import Path
from typing import Any, Final

import uvicorn
from prometheus_client import multiprocess
from uvicorn.config import STARTUP_FAILURE
from uvicorn.supervisors.multiprocess import Multiprocess, Process

from serving.settings import Settings

LOGGER = logging.getLogger("listingguard.workers")
MULTIPROC_ENV: Final = "PROMETHEUS_MULTIPROC_DIR"
APP_FACTORY: Final = "serving.app:create_worker_app"
RESTART_BACKOFF_S: Final = 5.0
"""How long after a failed start a worker is tried again (while others serve)."""


class ForwardingSupervisor(Multiprocess):
    """uvicorn's worker supervisor with a socket of its own for each worker, whose SIGHUP
    reloads every worker in place instead of replacing them."""

    def __init__(
        self, config: uvicorn.Config, sockets: list[socket.socket], *, metrics_dir: Path
    ) -> None:
        super().__init__(config, sockets)
        self.metrics_dir = metrics_dir
        self._known: set[int] = set()
        self._served = False
        """Some worker has been ready: a replacement failing to start is retried from then on."""
        self._retry_at: dict[int, float] = {}
        self.failed = False
        """Stopped because no worker could start (the command then exits with an error)."""

    def init_processes(self) -> None:
        for listening in self.sockets:
            self.processes.append(self._start([listening]))

    def handle_hup(self) -> None:
        """Forwarded to every ready worker (its reload handler is installed by then); one still
        starting reads the current bundle and policy anyway, and a SIGHUP before its handler
        exists would kill it."""
        ready = [p.pid for p in self.processes if p.pid is not None and p.is_ready(timeout=1)]
        LOGGER.info("SIGHUP: workers %s re-read the bundle and the policy", ready)
        for pid in ready:
            os.kill(pid, signal.SIGHUP)

    def keep_subprocess_alive(self) -> None:
        """uvicorn's rule (a hung worker is killed, a dead one replaced, a failed start stops
        the service), each replacement on its predecessor's socket; a gone worker's live
        gauges are dropped from the metrics."""
        for index, process in enumerate(self.processes):
            if self.should_exit.is_set():
                return
            if process.is_alive(timeout=self.config.timeout_worker_healthcheck):
                self._served = self._served or process.is_ready(timeout=1)
                continue
            if time.monotonic() < self._retry_at.get(index, 0.0):
                continue
            process.kill()
            process.join()
            if process.exitcode == STARTUP_FAILURE and not self._served:
                LOGGER.error("worker [%s] failed to start; stopping the service", process.pid)
                self.failed = True
                self.should_exit.set()
                return
            if process.exitcode == STARTUP_FAILURE:
                # The others keep serving; the bundle on disk may be fixed meanwhile.
                self._retry_at[index] = time.monotonic() + RESTART_BACKOFF_S
                LOGGER.error(
                    "worker [%s] failed to start; another try in %.0f s",
                    process.pid,
                    RESTART_BACKOFF_S,
                )
            else:
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
            log_config=worker_logging(log_level),
        )
        sockets = bind_worker_sockets(host, port, settings.workers)
        bound = sockets[0].getsockname()[1]
        LOGGER.info("%d workers listening on %s:%d", settings.workers, host, bound)
        supervisor = ForwardingSupervisor(config, sockets, metrics_dir=metrics_dir)
        try:
            supervisor.run()
        finally:
            for listening in sockets:
                listening.close()
        if supervisor.failed:
            raise WorkerStartError("no worker could start; see the lines above")
    finally:
        for name, value in previous.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value
        shutil.rmtree(metrics_dir, ignore_errors=True)


class WorkerStartError(RuntimeError):
    """The workers could not start (each failed before serving)."""


def worker_logging(level: str) -> dict[str, Any]:
    """uvicorn's logging in each worker, plus the service's own ``listingguard.*`` loggers (a
    spawned worker starts with none of the supervisor's logging set-up)."""
    config = copy.deepcopy(uvicorn.config.LOGGING_CONFIG)
    config["loggers"]["listingguard"] = {
        "handlers": ["default"],
        "level": level.upper(),
        "propagate": False,
    }
    return config


def bind_worker_sockets(host: str, port: int, count: int) -> list[socket.socket]:
    """``count`` listening sockets on ``host:port`` sharing it through ``SO_REUSEPORT`` (port 0:
    the first picks a free port, the others join it). A port another process listens on is
    refused, as a single socket would be, though it listens with ``SO_REUSEPORT`` too."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    if port != 0:
        with socket.socket(family, socket.SOCK_STREAM) as probe:
            probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            try:
                probe.bind((host, port))  # refused where anything listens there
            except OSError as error:
                raise OSError(f"{host}:{port}: {error.strerror or error}") from error
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
