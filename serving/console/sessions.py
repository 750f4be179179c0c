"""Console sessions: a signed cookie naming the key that signed in, and CSRF tokens.

The cookie holds ``<key id>.<issued at>.<HMAC>`` — never the key's secret. The HMAC (SHA-256,
keyed with ``LISTINGGUARD_CONSOLE_SECRET``) proves the server issued it after checking the full
key; each request still checks that the key is active. Every form carries a CSRF token derived
from the session cookie (the sign-in form one derived from its issue time), so a page on another
site cannot post on the reviewer's behalf; the cookie is also ``SameSite=Strict``.
"""

import hashlib
import hmac
import secrets
from typing import Final

COOKIE: Final = "lg_console"
LOGIN_TOKEN_S: Final = 3600


class ConsoleSessions:
    def __init__(self, secret: bytes | None, *, max_age_s: float) -> None:
        self._secret = secret or secrets.token_bytes(32)
        self.max_age_s = max_age_s

    def issue(self, key_id: str, now: float) -> str:
        payload = f"{key_id}.{int(now)}"
        return f"{payload}.{self._sign(payload)}"

    def key_id(self, cookie: str | None, now: float) -> str | None:
        """The key id of a valid, unexpired session cookie, else None."""
        if not cookie or cookie.count(".") != 2:
            return None
        key_id, issued, signature = cookie.split(".")
        if not _same(signature, self._sign(f"{key_id}.{issued}")):
            return None
        if not issued.isdigit() or not 0 <= now - int(issued) <= self.max_age_s:
            return None
        return key_id

    def csrf(self, cookie: str) -> str:
        return self._sign(f"csrf:{cookie}")[:32]

    def csrf_ok(self, cookie: str | None, token: str) -> bool:
        return bool(cookie) and _same(self.csrf(cookie or ""), token)

    def login_token(self, now: float) -> str:
        issued = str(int(now))
        return f"{issued}.{self._sign(f'login:{issued}')[:32]}"

    def login_token_ok(self, token: str, now: float) -> bool:
        issued, _, signature = token.partition(".")
        if not issued.isdigit() or not 0 <= now - int(issued) <= LOGIN_TOKEN_S:
            return False
        return _same(signature, self._sign(f"login:{issued}")[:32])

    def _sign(self, payload: str) -> str:
        return hmac.new(self._secret, payload.encode(), hashlib.sha256).hexdigest()


def _same(presented: str, expected: str) -> bool:
    """Constant-time comparison that any text (non-ASCII included) can go through."""
    return hmac.compare_digest(presented.encode("utf-8", "replace"), expected.encode())
