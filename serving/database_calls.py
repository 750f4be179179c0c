"""Blocking database work run off the event loop, on its own threads, within a deadline.

A frozen database (a stopped server, a stalled network) blocks a driver call indefinitely: no
client-side timeout covers a query already sent. Running each request's database work here
bounds what the caller waits: past the deadline the request answers 503 while the stuck thread
waits on. The threads are separate from the server's own pool, so liveness and other routes are
never starved by stuck database calls.
"""

import asyncio
import functools
import queue
import threading
from collections.abc import Callable
from concurrent.futures import Future
from typing import Any, ParamSpec, TypeVar

from serving.errors import DatabaseDeadlineError

P = ParamSpec("P")
T = TypeVar("T")
_Job = tuple[Future[Any], Callable[[], Any]]


class DatabaseCalls:
    """Runs ``function(*args)`` on one of ``threads`` threads; raises past ``deadline_s``.

    The threads are daemons: a call stuck on a frozen database never holds up the process's exit
    (a ``ThreadPoolExecutor`` joins its threads at exit, however long they are blocked).
    """

    def __init__(self, *, threads: int, deadline_s: float, name: str = "lg-db") -> None:
        self.deadline_s = deadline_s
        self._jobs: queue.SimpleQueue[_Job | None] = queue.SimpleQueue()
        self._threads = [
            threading.Thread(target=self._work, name=f"{name}-{n}", daemon=True)
            for n in range(threads)
        ]
        for thread in self._threads:
            thread.start()

    async def run(self, function: Callable[P, T], *args: P.args, **kwargs: P.kwargs) -> T:
        future: Future[T] = Future()
        self._jobs.put((future, functools.partial(function, *args, **kwargs)))
        try:
            # Cancelling the wrapper at the deadline cancels a call still queued: it never runs.
            return await asyncio.wait_for(asyncio.wrap_future(future), self.deadline_s)
        except TimeoutError as error:
            raise DatabaseDeadlineError(self.deadline_s) from error

    def shutdown(self) -> None:
        """Stop taking work; calls already running finish on their own."""
        for _ in self._threads:
            self._jobs.put(None)

    def _work(self) -> None:
        while (job := self._jobs.get()) is not None:
            future, call = job
            if not future.set_running_or_notify_cancel():
                continue
            try:
                future.set_result(call())
            except BaseException as error:  # handed to the awaiting request, as an executor does
                future.set_exception(error)
