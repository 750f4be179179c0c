"""API keys: created, listed and revoked by ``listingguard-serve keys``; checked per request.

A key reads ``lg_<id>_<secret>``. Only a SHA-256 digest of ``<id>:<secret>`` is stored (the secret
is 256 random bits, so a slow password hash would add nothing), and the comparison is constant-
time. The id is public (logs, key lists); the secret is shown once, at creation.
"""

import hashlib
import hmac
import secrets
from dataclasses import dataclass
from datetime import datetime
from typing import Final

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from serving.errors import InvalidKeyError
from serving.roles import DEFAULT_RATE_PER_MINUTE, ROLES
from serving.tables import REVIEWER_LENGTH, ApiKey, utc_now

KEY_PREFIX: Final = "lg_"
KEY_ID_HEX: Final = 12
MAX_KEY_CHARS: Final = 200


@dataclass(frozen=True, slots=True)
class KeyRecord:
    """A key as stored (no secret): who it names, its role and limits."""

    id: str
    name: str
    role: str
    rate_per_minute: int
    created_at: datetime
    revoked_at: datetime | None
    digest: str

    @property
    def active(self) -> bool:
        return self.revoked_at is None


def create_key(
    session_factory: sessionmaker[Session],
    name: str,
    role: str,
    *,
    rate_per_minute: int | None = None,
) -> tuple[KeyRecord, str]:
    """Store a new key for ``name`` with ``role``; the record and the full key (shown once)."""
    name = name.strip()
    if not name or len(name) > REVIEWER_LENGTH:
        raise InvalidKeyError(f"name must be 1 to {REVIEWER_LENGTH} characters, got {name[:40]!r}")
    if role not in ROLES:
        raise InvalidKeyError(f"role = {role!r}; expected one of {', '.join(ROLES)}")
    if rate_per_minute is not None and not 1 <= rate_per_minute <= 10_000_000:
        raise InvalidKeyError(f"rate_per_minute = {rate_per_minute} is not in [1, 10000000]")
    key_id, secret = secrets.token_hex(KEY_ID_HEX // 2), secrets.token_urlsafe(32)
    row = ApiKey(
        id=key_id,
        name=name,
        role=role,
        rate_per_minute=rate_per_minute or DEFAULT_RATE_PER_MINUTE[role],
        digest=_digest(key_id, secret),
        created_at=utc_now(),
    )
    with session_factory.begin() as session:
        session.add(row)
        session.flush()
        record = _record(row)
    return record, f"{KEY_PREFIX}{key_id}_{secret}"


def list_keys(session_factory: sessionmaker[Session]) -> list[KeyRecord]:
    with session_factory() as session:
        return [_record(row) for row in session.scalars(select(ApiKey).order_by(ApiKey.created_at))]


def revoke_key(session_factory: sessionmaker[Session], key_id: str) -> KeyRecord:
    """Revoke a key by id (idempotent); raises if there is no such key."""
    with session_factory.begin() as session:
        row = session.get(ApiKey, key_id, with_for_update=True)
        if row is None:
            raise InvalidKeyError(f"no key with id {key_id[:40]!r}")
        if row.revoked_at is None:
            row.revoked_at = utc_now()
        return _record(row)


def find_key(session_factory: sessionmaker[Session], key_id: str) -> KeyRecord | None:
    with session_factory() as session:
        row = session.get(ApiKey, key_id)
        return None if row is None else _record(row)


def split_key(presented: str) -> tuple[str, str] | None:
    """(id, secret) of a well-formed key, else None (nothing to look up)."""
    if len(presented) > MAX_KEY_CHARS or not presented.startswith(KEY_PREFIX):
        return None
    key_id, _, secret = presented[len(KEY_PREFIX) :].partition("_")
    if len(key_id) != KEY_ID_HEX or not secret:
        return None
    return key_id, secret


def matches(record: KeyRecord, key_id: str, secret: str) -> bool:
    """Constant-time: whether ``secret`` is the key's."""
    return hmac.compare_digest(record.digest, _digest(key_id, secret))


def _digest(key_id: str, secret: str) -> str:
    return hashlib.sha256(f"{key_id}:{secret}".encode()).hexdigest()


def _record(row: ApiKey) -> KeyRecord:
    return KeyRecord(
        id=row.id,
        name=row.name,
        role=row.role,
        rate_per_minute=row.rate_per_minute,
        created_at=row.created_at,
        revoked_at=row.revoked_at,
        digest=row.digest,
    )
