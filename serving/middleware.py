"""What every request goes through before a route runs: request ids, body checks, last resort.

The body checks refuse, with the error schema and the limit named, what the JSON parser would
otherwise turn into an undocumented 400 or a 500: bodies over the size limit (413), a body that is
not declared as JSON (415), bytes that are not UTF-8 and JSON nested deeper than any request of
this API needs (422).
"""

import logging
import re
import time
import uuid
from typing import Final

import numpy as np
from fastapi import FastAPI, Request
from starlette.datastructures import Headers, MutableHeaders
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from serving.api_errors import ErrorBody, error_response
from serving.metrics import UNMATCHED_ROUTE
from serving.tables import REQUEST_ID_LENGTH

logger = logging.getLogger("listingguard.serving")

REQUEST_ID_HEADER: Final = "X-Request-ID"
_VALID_REQUEST_ID: Final = re.compile(rf"^[A-Za-z0-9._:-]{{1,{REQUEST_ID_LENGTH}}}$")
MAX_JSON_DEPTH: Final = 32
"""The deepest request of this API nests 4 levels (batch -> listings -> listing -> attributes)."""

_BODY_METHODS: Final = frozenset({b"POST", b"PUT", b"PATCH"})
HTTP_METHODS: Final = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})
"""Methods counted by name in the metrics; any other token a client sends counts as "other"."""
CONSOLE_PREFIX: Final = "/console/"
"""Paths whose POSTs are the console's HTML forms (form-encoded, not JSON)."""
_OPENING: Final = np.frombuffer(b"[{", dtype=np.uint8)
_CLOSING: Final = np.frombuffer(b"]}", dtype=np.uint8)


class RequestBodyMiddleware:
    """Reads the body (at most ``max_body_bytes``), checks it, then hands it on unchanged.

    A declared Content-Length above the limit is refused without reading.
    """

    def __init__(self, app: ASGIApp, *, max_body_bytes: int) -> None:
        self.app = app
        self.max_body_bytes = max_body_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers = dict(scope["headers"])
        declared = headers.get(b"content-length")
        if declared is not None and (not declared.isdigit() or int(declared) > self.max_body_bytes):
            await self._refuse(scope, receive, send, self._too_large())
            return
        body = await self._read_body(receive)
        problem = self._too_large() if body is None else self._check(scope, headers, body)
        if problem is not None:
            await self._refuse(scope, receive, send, problem)
            return
        assert body is not None
        await self.app(scope, _replay(body, receive), send)

    async def _read_body(self, receive: Receive) -> bytes | None:
        chunks: list[bytes] = []
        size = 0
        while True:
            message = await receive()
            if message["type"] != "http.request":
                return b"".join(chunks)
            chunk = message.get("body", b"")
            size += len(chunk)
            if size > self.max_body_bytes:
                return None
            chunks.append(chunk)
            if not message.get("more_body", False):
                return b"".join(chunks)

    def _check(
        self, scope: Scope, headers: dict[bytes, bytes], body: bytes
    ) -> tuple[int, ErrorBody] | None:
        if not body or scope["method"].encode() not in _BODY_METHODS:
            return None
        content_type = headers.get(b"content-type", b"").decode("latin-1")
        if scope["path"].startswith(CONSOLE_PREFIX) and _is_form(content_type):
            return None  # the console's HTML forms
        if not _is_json(content_type):
            return 415, ErrorBody(
                code="unsupported_media_type",
                message=(
                    "send the body as JSON with 'Content-Type: application/json' "
                    f"(got {content_type or 'no Content-Type'!r})"
                ),
                field="Content-Type",
                limit="application/json",
            )
        return _check_json_bytes(body)

    def _too_large(self) -> tuple[int, ErrorBody]:
        return 413, ErrorBody(
            code="body_too_large",
            message=f"request body exceeds {self.max_body_bytes} bytes",
            field="body",
            limit=self.max_body_bytes,
        )

    async def _refuse(
        self, scope: Scope, receive: Receive, send: Send, problem: tuple[int, ErrorBody]
    ) -> None:
        status, body = problem
        await error_response(Request(scope), status, body)(scope, receive, send)


def _is_form(content_type: str) -> bool:
    return content_type.split(";", 1)[0].strip().lower() == "application/x-www-form-urlencoded"


def _is_json(content_type: str) -> bool:
    media_type = content_type.split(";", 1)[0].strip().lower()
    return media_type == "application/json" or (
        media_type.startswith("application/") and media_type.endswith("+json")
    )


def _check_json_bytes(body: bytes) -> tuple[int, ErrorBody] | None:
    try:
        body.decode("utf-8")
    except UnicodeDecodeError as error:
        return 422, ErrorBody(
            code="invalid_utf8",
            message=f"request body is not UTF-8: byte {error.start} cannot be decoded",
            field="body",
            limit="utf-8",
        )
    # The bracket count bounds the depth: requests with few brackets need no scan.
    if body.count(b"[") + body.count(b"{") <= MAX_JSON_DEPTH:
        return None
    depth = json_nesting_depth(body)
    if depth > MAX_JSON_DEPTH:
        return 422, ErrorBody(
            code="json_too_deep",
            message=f"request body nests {depth} levels; the limit is {MAX_JSON_DEPTH}",
            field="body",
            limit=MAX_JSON_DEPTH,
        )
    return None


def json_nesting_depth(body: bytes) -> int:
    """The deepest bracket nesting of a JSON text, brackets inside strings not counted.

    Linear in the body, in C: escaped backslashes, then escaped quotes, are removed (JSON
    escapes pair from the left), so the remaining quotes delimit strings; the brackets between
    strings are summed as +1/-1.
    """
    unescaped = body.replace(b"\\\\", b"").replace(b'\\"', b"")
    outside = b"".join(unescaped.split(b'"')[0::2])
    codes = np.frombuffer(outside, dtype=np.uint8)
    steps = np.isin(codes, _OPENING).astype(np.int64) - np.isin(codes, _CLOSING)
    return int(np.cumsum(steps).max(initial=0))


def _replay(body: bytes, receive: Receive) -> Receive:
    delivered = False

    async def replayed() -> Message:
        nonlocal delivered
        if delivered:
            return await receive()
        delivered = True
        return {"type": "http.request", "body": body, "more_body": False}

    return replayed


def install_middleware(app: FastAPI, *, max_body_bytes: int) -> None:
    # Added first, so it runs inside the request-id middleware and its refusals carry the id.
    app.add_middleware(RequestBodyMiddleware, max_body_bytes=max_body_bytes)
    app.add_middleware(RequestIdMiddleware)
    # Outermost: its time and status are what the client got, refusals and 500s included.
    app.add_middleware(MetricsMiddleware)


class MetricsMiddleware:
    """Counts and times every HTTP request by method, route template and status code into the
    loaded service's metrics (:mod:`serving.metrics`); requests before startup are not counted."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        began = time.perf_counter()
        status = 500

        async def send_seen(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = int(message["status"])
            await send(message)

        try:
            await self.app(scope, receive, send_seen)
        finally:
            service = getattr(scope["app"].state, "service", None)
            if service is not None:
                route = getattr(scope.get("route"), "path", UNMATCHED_ROUTE)
                method = scope["method"] if scope["method"] in HTTP_METHODS else "other"
                service.metrics.observe_request(method, route, status, time.perf_counter() - began)


class RequestIdMiddleware:
    """Gives every request an id (a valid ``X-Request-ID`` it brought, else a new one), returns
    it on the response, and answers an unhandled error with the error schema.

    Plain ASGI rather than ``@app.middleware("http")``: Starlette's ``BaseHTTPMiddleware`` runs
    each request through a task group and memory streams, a large share of a request's CPU.
    """

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        supplied = Headers(scope=scope).get(REQUEST_ID_HEADER, "")
        request_id = supplied if _VALID_REQUEST_ID.match(supplied) else uuid.uuid4().hex
        scope.setdefault("state", {})["request_id"] = request_id
        started = False

        async def send_with_id(message: Message) -> None:
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
                MutableHeaders(scope=message)[REQUEST_ID_HEADER] = request_id
            await send(message)

        try:
            await self.app(scope, receive, send_with_id)
        except Exception:
            # Answered here rather than by Starlette's server-error layer, which re-raises and
            # makes the server drop the keep-alive connection: the client's next request would
            # fail too.
            request = Request(scope)
            logger.exception("unhandled error on %s %s", request.method, request.url.path)
            if started:  # part of a response is out: nothing valid can follow it
                raise
            body = ErrorBody(code="internal_error", message="internal error; see the server log")
            await error_response(request, 500, body)(scope, receive, send_with_id)
