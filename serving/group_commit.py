"""Group commit: the decisions of concurrent scoring requests written in one transaction.

Each request's decisions are durably recorded before it is answered, as before; what changes is
that requests arriving while a write is in flight wait for the next one together, so one commit
(one fsync on SQLite, one round trip on PostgreSQL) serves all of them. A lone request is written
at once, exactly as alone. Only when other requests are being scored right now (their write is
coming: :meth:`GroupCommit.scoring`) does the writer linger for them, at most ``linger_s`` — the
idea of PostgreSQL's ``commit_delay`` with ``commit_siblings``: a transaction costs far more than
a row (measured on SQLite: about 1.7 ms of CPU for a transaction of one request, 0.4 ms per
request in one of eight), so fewer, larger groups serve more requests per core.

A group that fails is never anyone's loss: on a conflict (an integrity error — a concurrent
writer opened a listing's queue item —, a deadlock) or on any error of one request's data, the
group's transaction is rolled back whole and each request is written again alone, each within
its own deadline, so a request's error is its own. An outage of the database itself
(unreachable, locked, timed out) answers every request of the group with that error.
"""

import asyncio
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Final

from sqlalchemy.exc import InterfaceError, OperationalError
from sqlalchemy.orm import Session, sessionmaker

from serving.database_calls import DatabaseCalls
from serving.decision_store import NewDecision, StoredDecision, record_decisions, record_together
from serving.errors import DatabaseDeadlineError

Recorded = list[tuple[StoredDecision, bool]]
"""Each decision as stored, with ``True`` where it was newly created."""
RETRY_ALONE_SQLSTATES: Final = frozenset({"40P01", "40001"})
"""PostgreSQL's deadlock and serialization failure: a conflict between writers, not an outage."""


@dataclass(eq=False)
class _Waiting:
    batch: Sequence[NewDecision]
    answer: asyncio.Future[Recorded]


@dataclass
class GroupCommit:
    """Writes every request's decisions through :func:`record_groups`, grouping those that
    arrive while a write is in flight; at most ``max_group_listings`` decisions per transaction
    (a larger request still goes alone, whole).

    Each request waits at most the database deadline, in the queue and in its group's write
    together: past it, :class:`DatabaseDeadlineError` (503), as for any database call.
    """

    database: DatabaseCalls
    session_factory: sessionmaker[Session]
    max_group_listings: int
    linger_s: float = 0.0
    """How long the writer waits for requests still being scored before writing a group."""
    _waiting: list[_Waiting] = field(default_factory=list)
    _writer: asyncio.Task[None] | None = None
    _scoring: int = 0
    _arrived: asyncio.Future[None] | None = None
    groups_written: int = 0
    requests_written: int = 0

    @contextmanager
    def scoring(self) -> Iterator[None]:
        """Around a request's inference: its write is coming, so a group being formed may wait
        for it (leave the block right before :meth:`record`, with no await between)."""
        self._scoring += 1
        try:
            yield
        finally:
            self._scoring -= 1
            if self._scoring == 0:
                self._wake()

    async def record(self, batch: Sequence[NewDecision]) -> Recorded:
        """``batch`` recorded in order (a batch request stays all or nothing), once committed."""
        waiting = _Waiting(batch, asyncio.get_running_loop().create_future())
        self._waiting.append(waiting)
        self._wake()
        if self._writer is None or self._writer.done():
            self._writer = asyncio.create_task(self._write_while_waiting())
        deadline = self.database.deadline_s
        try:
            # Shielded: a request that gives up does not cancel the answer its group will set.
            return await asyncio.wait_for(asyncio.shield(waiting.answer), deadline)
        except TimeoutError as error:
            if waiting in self._waiting:  # never taken into a group: never written
                self._waiting.remove(waiting)
            # Its group may still answer; nobody reads that answer now.
            waiting.answer.add_done_callback(_retrieve)
            raise DatabaseDeadlineError(deadline) from error

    async def _write_while_waiting(self) -> None:
        group: list[_Waiting] = []
        try:
            while self._waiting:
                await self._linger()
                group = self._next_group()
                results = await self._write(group)
                self.groups_written += 1
                self.requests_written += len(group)
                for waiting, result in zip(group, results, strict=True):
                    if waiting.answer.done():
                        continue
                    if isinstance(result, BaseException):
                        waiting.answer.set_exception(result)
                    else:
                        waiting.answer.set_result(result)
                group = []
        except BaseException as error:  # cancelled with its loop: nobody may wait forever
            for waiting in [*group, *self._waiting]:
                if waiting.answer.done():
                    continue
                if isinstance(error, Exception):
                    waiting.answer.set_exception(error)
                else:
                    waiting.answer.cancel()
            self._waiting.clear()
            raise
        finally:
            self._writer = None

    async def _write(self, group: list[_Waiting]) -> list[Recorded | Exception]:
        """The group in one transaction; after a conflict, each request alone, each within its
        own deadline."""
        batches = [waiting.batch for waiting in group]
        try:
            together = await self.database.run(record_groups, self.session_factory, batches)
        except Exception as error:  # the deadline, or the database: the whole group's
            return [error] * len(group)
        results: list[Recorded | Exception] = []
        for batch, result in zip(batches, together, strict=True):
            if result is not None:
                results.append(result)
                continue
            try:
                results.append(
                    await self.database.run(record_decisions, self.session_factory, batch)
                )
            except Exception as error:
                results.append(error)
        return results

    async def _linger(self) -> None:
        """Wait up to ``linger_s`` while requests are still being scored and the group has
        room; each arrival (or the last scoring ending) wakes the check."""
        loop = asyncio.get_running_loop()
        ends = loop.time() + self.linger_s
        while self._scoring and self._queued_listings() < self.max_group_listings:
            left = ends - loop.time()
            if left <= 0:
                return
            self._arrived = loop.create_future()
            try:
                await asyncio.wait_for(self._arrived, left)
            except TimeoutError:
                return
            finally:
                self._arrived = None

    def _wake(self) -> None:
        if self._arrived is not None and not self._arrived.done():
            self._arrived.set_result(None)

    def _queued_listings(self) -> int:
        return sum(len(waiting.batch) for waiting in self._waiting)

    def _next_group(self) -> list[_Waiting]:
        group: list[_Waiting] = []
        listings = 0
        while self._waiting:
            size = len(self._waiting[0].batch)
            if group and listings + size > self.max_group_listings:
                break
            group.append(self._waiting.pop(0))
            listings += size
        return group


def _retrieve(answer: asyncio.Future[Recorded]) -> None:
    if not answer.cancelled():
        answer.exception()


def record_groups(
    session_factory: sessionmaker[Session], batches: Sequence[Sequence[NewDecision]]
) -> list[Recorded | Exception | None]:
    """Each batch's decisions recorded, all in one transaction; per batch its result, its
    error, or ``None``: the group could not be written together, write this batch alone.

    Two batches carrying the same idempotency key behave as two racing identical requests: the
    later one gets the earlier one's decision back (``False``).
    """
    if len(batches) == 1:
        try:
            return [record_decisions(session_factory, batches[0])]
        except Exception as error:
            return [error]
    try:
        recorded = record_together(session_factory, [new for batch in batches for new in batch])
    except Exception as error:
        if _is_outage(error):
            return [error] * len(batches)
        return [None] * len(batches)  # a conflict, a deadlock or one request's bad data
    results: list[Recorded | Exception | None] = []
    start = 0
    for batch in batches:
        results.append(recorded[start : start + len(batch)])
        start += len(batch)
    return results


def _is_outage(error: Exception) -> bool:
    """The database itself failed (unreachable, locked, timed out): every request would fail
    alone too. A deadlock or serialization failure is a conflict: those retry alone."""
    if not isinstance(error, OperationalError | InterfaceError):
        return False
    return getattr(error.orig, "sqlstate", None) not in RETRY_ALONE_SQLSTATES
