"""Group commit: the decisions of concurrent scoring requests written in one transaction.

Each request's decisions are durably recorded before it is answered, as before; what changes is
that requests arriving while a write is in flight wait for the next one together, so one commit
(one fsync on SQLite, one round trip on PostgreSQL) serves all of them. Nothing waits on purpose:
a lone request is written at once, exactly as alone.

A group that fails is never anyone's loss: on a conflict (an :class:`IntegrityError`, e.g. a
concurrent writer opened a listing's queue item) or on an unexpected error, the group's
transaction is rolled back whole and each request is written again alone, so a request's error
is its own. An error of the database itself (unreachable, locked, timed out) answers every
request of the group with that error.
"""

import asyncio
from collections.abc import Sequence
from dataclasses import dataclass, field

from sqlalchemy.exc import DBAPIError, IntegrityError
from sqlalchemy.orm import Session, sessionmaker

from serving.database_calls import DatabaseCalls
from serving.decision_store import NewDecision, StoredDecision, record_decisions, record_together

Recorded = list[tuple[StoredDecision, bool]]
"""Each decision as stored, with ``True`` where it was newly created."""


@dataclass
class _Waiting:
    batch: Sequence[NewDecision]
    answer: asyncio.Future[Recorded]


@dataclass
class GroupCommit:
    """Writes every request's decisions through :func:`record_groups`, grouping those that
    arrive while a write is in flight; at most ``max_group_listings`` decisions per transaction
    (a larger request still goes alone, whole)."""

    database: DatabaseCalls
    session_factory: sessionmaker[Session]
    max_group_listings: int
    _waiting: list[_Waiting] = field(default_factory=list)
    _writer: asyncio.Task[None] | None = None
    groups_written: int = 0
    requests_written: int = 0

    async def record(self, batch: Sequence[NewDecision]) -> Recorded:
        """``batch`` recorded in order (a batch request stays all or nothing), once committed."""
        answer: asyncio.Future[Recorded] = asyncio.get_running_loop().create_future()
        self._waiting.append(_Waiting(batch, answer))
        if self._writer is None:
            self._writer = asyncio.create_task(self._write_while_waiting())
        return await answer

    async def _write_while_waiting(self) -> None:
        try:
            while self._waiting:
                group = self._next_group()
                try:
                    results = await self.database.run(
                        record_groups, self.session_factory, [w.batch for w in group]
                    )
                except Exception as error:  # the deadline or the database: the whole group's
                    results = [error] * len(group)
                self.groups_written += 1
                self.requests_written += len(group)
                for waiting, result in zip(group, results, strict=True):
                    if waiting.answer.done():  # the request was cancelled while it waited
                        continue
                    if isinstance(result, BaseException):
                        waiting.answer.set_exception(result)
                    else:
                        waiting.answer.set_result(result)
        finally:
            self._writer = None

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


def record_groups(
    session_factory: sessionmaker[Session], batches: Sequence[Sequence[NewDecision]]
) -> list[Recorded | Exception]:
    """Each batch's decisions recorded, all in one transaction; per batch its result or error.

    Two batches carrying the same idempotency key behave as two racing identical requests: the
    later one gets the earlier one's decision back (``False``).
    """
    if len(batches) == 1:
        return [_alone(session_factory, batches[0])]
    try:
        recorded = record_together(session_factory, [new for batch in batches for new in batch])
    except IntegrityError:
        return [_alone(session_factory, batch) for batch in batches]
    except DBAPIError as error:
        return [error] * len(batches)
    except Exception:
        return [_alone(session_factory, batch) for batch in batches]
    results: list[Recorded | Exception] = []
    start = 0
    for batch in batches:
        results.append(recorded[start : start + len(batch)])
        start += len(batch)
    return results


def _alone(
    session_factory: sessionmaker[Session], batch: Sequence[NewDecision]
) -> Recorded | Exception:
    try:
        return record_decisions(session_factory, batch)
    except Exception as error:
        return error
