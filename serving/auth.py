"""Who is calling: API keys (``Authorization: Bearer``; the console's signed session cookie names
one too), roles and rate limits.

Keys are looked up by id and kept in a small in-process cache: fresh entries answer without the
database for ``FRESH_S``; when the database cannot be reached, an entry up to ``STALE_S`` old
still authenticates, so scoring survives a brief outage (a revocation then takes effect when the
database answers again). Each key has a token bucket of ``rate_per_minute`` requests on this
replica; an empty bucket answers 429 with ``Retry-After``.
"""

import math
import threading
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Annotated, Final

from fastapi import Request, Security
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from sqlalchemy.orm import Session, sessionmaker

from serving.api_errors import DATABASE_UNAVAILABLE, ApiError, ErrorResponse
from serving.api_keys import KeyRecord, find_key, matches, split_key
from serving.database_calls import DatabaseCalls
from serving.roles import PERMISSIONS, Permission, allowed

FRESH_S: Final = 30.0
STALE_S: Final = 900.0
MAX_CACHED_KEYS: Final = 10_000


@dataclass(frozen=True, slots=True)
class Caller:
    """An authenticated caller: the key's id, the name it stands for, its role."""

    key_id: str
    name: str
    role: str

    def may(self, permission: Permission) -> bool:
        return allowed(self.role, permission)


class RateLimiter:
    """Token buckets per key: ``rate`` requests per minute, bursts up to ``rate``."""

    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self._clock = clock
        self._buckets: dict[str, tuple[float, float]] = {}
        self._lock = threading.Lock()

    def take(self, key_id: str, rate_per_minute: int) -> float:
        """0 when a request may go ahead, else the seconds until one may."""
        now = self._clock()
        refill = rate_per_minute / 60.0
        with self._lock:
            tokens, then = self._buckets.get(key_id, (float(rate_per_minute), now))
            tokens = min(float(rate_per_minute), tokens + (now - then) * refill)
            if tokens >= 1.0:
                self._buckets[key_id] = (tokens - 1.0, now)
                return 0.0
            self._buckets[key_id] = (tokens, now)
            return (1.0 - tokens) / refill


class Authenticator:
    """Checks presented keys against the database through a short cache."""

    def __init__(
        self,
        session_factory: sessionmaker[Session],
        database: DatabaseCalls,
        *,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._session_factory = session_factory
        self._database = database
        self._clock = clock
        self._cache: dict[str, tuple[float, KeyRecord]] = {}
        self.limiter = RateLimiter(clock)

    async def caller(self, presented: str) -> Caller:
        """The caller a key stands for; raises 401 for a missing, unknown or revoked key."""
        parts = split_key(presented)
        if parts is None:
            raise _unauthorized("malformed API key: expected lg_<id>_<secret>")
        key_id, secret = parts
        record = await self._record(key_id)
        if record is None or not matches(record, key_id, secret):
            raise _unauthorized("unknown API key")
        return self._admitted(record)

    async def session_caller(self, key_id: str) -> Caller:
        """The caller of a console session (its signed cookie proved the key at sign-in)."""
        record = await self._record(key_id)
        if record is None:
            raise _unauthorized("unknown API key")
        return self._admitted(record)

    def _admitted(self, record: KeyRecord) -> Caller:
        key_id = record.id
        if not record.active:
            raise _unauthorized(f"API key {key_id} was revoked")
        wait = self.limiter.take(key_id, record.rate_per_minute)
        if wait > 0:
            raise ApiError(
                429,
                "rate_limited",
                f"key {key_id} exceeded {record.rate_per_minute} requests per minute",
                limit=record.rate_per_minute,
                headers={"Retry-After": str(max(1, math.ceil(wait)))},
            )
        return Caller(key_id=record.id, name=record.name, role=record.role)

    async def _record(self, key_id: str) -> KeyRecord | None:
        now = self._clock()
        cached = self._cache.get(key_id)
        if cached is not None and now - cached[0] < FRESH_S:
            return cached[1]
        try:
            record = await self._database.run(find_key, self._session_factory, key_id)
        except DATABASE_UNAVAILABLE:
            if cached is not None and now - cached[0] < STALE_S:
                return cached[1]
            raise
        if record is not None:  # unknown ids are not kept: nobody can fill the cache
            if len(self._cache) >= MAX_CACHED_KEYS:
                self._cache.clear()
            self._cache[key_id] = (now, record)
        return record


AUTH_ERRORS: Final[dict[int | str, dict[str, object]]] = {
    401: {"model": ErrorResponse, "description": "no valid API key"},
    403: {"model": ErrorResponse, "description": "the key's role may not do this"},
    429: {"model": ErrorResponse, "description": "the key's rate limit (see Retry-After)"},
}
BEARER_SCHEME: Final = HTTPBearer(
    auto_error=False, description="an API key: lg_<id>_<secret> (listingguard-serve keys create)"
)


def requires(
    permission: Permission | None,
) -> Callable[[Request, HTTPAuthorizationCredentials | None], Awaitable[Caller]]:
    """A dependency: the caller, if its key's role has ``permission`` (None: any role);
    401 without a valid key, 403 with one whose role lacks the permission."""

    async def dependency(
        request: Request,
        credentials: Annotated[HTTPAuthorizationCredentials | None, Security(BEARER_SCHEME)],
    ) -> Caller:
        presented = credentials.credentials if credentials else None
        if not presented:
            raise _unauthorized("missing API key: send Authorization: Bearer <key>")
        authenticator: Authenticator = request.app.state.service.authenticator
        caller = await authenticator.caller(presented)
        if permission is not None:
            check_permission(caller, permission)
        return caller

    return dependency


def check_permission(caller: Caller, permission: Permission) -> None:
    """403 unless the caller's role has ``permission``."""
    if not caller.may(permission):
        roles = ", ".join(sorted(PERMISSIONS[permission]))
        raise ApiError(
            403,
            "forbidden",
            f"role {caller.role} may not do this ({permission}); it needs one of: {roles}",
        )


def _unauthorized(message: str) -> ApiError:
    return ApiError(401, "unauthorized", message, headers={"WWW-Authenticate": "Bearer"})
