"""Blocking database work run off the event loop, on its own threads, within a deadline.

A frozen database (a stopped server, a stalled network) blocks a driver call indefinitely: no
client-side timeout covers a query already sent. Running each request's database work here
bounds what the caller waits: past the deadline the request answers 503 while the stuck thread
waits on. The threads are separate from the server's own pool, so liveness and other routes are
never starved by stuck database calls.
"""

import asyncio
import functools
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import ParamSpec, TypeVar

from serving.errors import DatabaseDeadlineError

P = ParamSpec("P")
T = TypeVar("T")


class DatabaseCalls:
    """Runs ``function(*args)`` on one of ``threads`` threads; raises past ``deadline_s``."""

    def __init__(self, *, threads: int, deadline_s: float, name: str = "lg-db") -> None:
        self.deadline_s = deadline_s
        self._executor = ThreadPoolExecutor(max_workers=threads, thread_name_prefix=name)

    async def run(self, function: Callable[P, T], *args: P.args, **kwargs: P.kwargs) -> T:
        loop = asyncio.get_running_loop()
        # A call still queued at the deadline is cancelled and never runs.
        future = loop.run_in_executor(self._executor, functools.partial(function, *args, **kwargs))
        try:
            return await asyncio.wait_for(future, self.deadline_s)
        except TimeoutError as error:
            raise DatabaseDeadlineError(self.deadline_s) from error

    def shutdown(self) -> None:
        """Stop taking work; queued calls are cancelled, running ones finish on their own."""
        self._executor.shutdown(wait=False, cancel_futures=True)
