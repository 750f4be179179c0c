"""One error schema for every 4xx/5xx: ``{"error": {code, message, field, limit}, request_id}``."""

import logging
import re
from typing import Any, Final

from fastapi import FastAPI, Request
from fastapi.encoders import jsonable_encoder
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import BaseModel
from sqlalchemy.exc import DisconnectionError, InterfaceError, OperationalError
from sqlalchemy.exc import TimeoutError as PoolTimeoutError
from starlette.exceptions import HTTPException as StarletteHTTPException

from data.schema import PATTERN_MEANINGS
from serving.errors import DatabaseDeadlineError

logger = logging.getLogger("listingguard.serving")

_LIMIT_KEYS = ("max_length", "min_length", "le", "lt", "ge", "gt", "pattern", "expected")
_NAMED_FIELD: Final = re.compile(r"^([a-z_]+): ")
RETRY_AFTER_SECONDS: Final = 5
"""What a 503 asks the caller to wait: about the time a database restart or failover takes."""
DATABASE_UNAVAILABLE: Final = (
    OperationalError,
    InterfaceError,
    DisconnectionError,
    PoolTimeoutError,
    DatabaseDeadlineError,
)
"""Failures of the database, not of the request: the caller should retry later."""


class ErrorBody(BaseModel):
    code: str
    message: str
    field: str | None = None
    limit: Any = None


class ErrorResponse(BaseModel):
    error: ErrorBody
    request_id: str | None = None


class ApiError(Exception):
    """An error the API reports on purpose, with its status and schema fields."""

    def __init__(
        self,
        status: int,
        code: str,
        message: str,
        *,
        field: str | None = None,
        limit: Any = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        super().__init__(message)
        self.status = status
        self.body = ErrorBody(code=code, message=message, field=field, limit=limit)
        self.headers = headers or {}


def error_response(
    request: Request, status: int, body: ErrorBody, headers: dict[str, str] | None = None
) -> JSONResponse:
    request_id = getattr(request.state, "request_id", None)
    content = ErrorResponse(error=body, request_id=request_id).model_dump()
    return JSONResponse(status_code=status, content=jsonable_encoder(content), headers=headers)


def _validation_body(error: RequestValidationError) -> ErrorBody:
    first = error.errors()[0]
    location = [part for part in first.get("loc", ()) if part not in ("body", "query", "path")]
    context = first.get("ctx") or {}
    limit = next((context[key] for key in _LIMIT_KEYS if key in context), None)
    kind = str(first.get("type", "invalid"))
    field = ".".join(str(part) for part in location) or None
    message = str(first.get("msg", "invalid request")).removeprefix("Value error, ")
    named = _NAMED_FIELD.match(message)
    if kind == "value_error" and named and (not location or location[-1] != named[1]):
        # A rule over several fields (e.g. title or description) names the field it needs.
        location = [*location, named[1]]
        field = ".".join(str(part) for part in location)
        message = message[named.end() :]
    if kind == "string_pattern_mismatch" and limit in PATTERN_MEANINGS:
        message = PATTERN_MEANINGS[limit]
    if kind == "json_invalid":
        # The location of a JSON syntax error is a character position, not a field.
        field = "body"
        message = f"request body is not valid JSON: {context.get('error', message)}"
    elif field:
        message = f"{_where(location, error.body)}: {message}"
    extra = len(error.errors()) - 1
    if extra:
        message += f" (and {extra} more problem{'s' if extra > 1 else ''})"
    return ErrorBody(code=kind, message=message, field=field, limit=limit)


def _where(location: list[Any], body: Any) -> str:
    """``listings[3] (listing_id 'l-9'): title`` for a batch item, else the dotted field."""
    if len(location) >= 2 and location[0] == "listings" and isinstance(location[1], int):
        index = location[1]
        rest = ".".join(str(part) for part in location[2:]) or "listing"
        listing_id = _batch_listing_id(body, index)
        named = f" (listing_id {listing_id[:80]!r})" if listing_id else ""
        return f"listings[{index}]{named}: {rest}"
    return ".".join(str(part) for part in location)


def _batch_listing_id(body: Any, index: int) -> str | None:
    listings = body.get("listings") if isinstance(body, dict) else None
    if isinstance(listings, list) and index < len(listings) and isinstance(listings[index], dict):
        listing_id = listings[index].get("listing_id")
        return listing_id if isinstance(listing_id, str) else None
    return None


def _retry_advice(path: str) -> str:
    if path.startswith("/v1/score"):
        return "(retrying the same request is safe: it never records a second decision)"
    return (
        "(a claim or review decision cut off at its deadline may still have been recorded: "
        "read the item before retrying)"
    )


def _allowed_methods(request: Request, given: str | None) -> str | None:
    """The methods the OpenAPI document lists for the request's path (a literal path before a
    template: ``/v1/queue/claim`` is not ``/v1/queue/{item_id}``). Starlette names only those
    of the first route matching the path, and a GET and a POST on one path are two routes.
    Paths outside the document (the console) keep Starlette's answer."""
    paths = request.app.openapi().get("paths", {})
    path = request.url.path
    found = paths.get(path)
    if found is None:
        for template, operations in paths.items():
            pattern = "^" + re.sub(r"\\{[^/]+?\\}", "[^/]+", re.escape(template)) + "$"
            if re.match(pattern, path):
                found = operations
                break
    if found is None:
        return given
    return ", ".join(sorted(method.upper() for method in found))


def install_error_handlers(app: FastAPI) -> None:
    @app.exception_handler(ApiError)
    async def _api_error(request: Request, error: ApiError) -> JSONResponse:
        return error_response(request, error.status, error.body, headers=error.headers)

    @app.exception_handler(RequestValidationError)
    async def _invalid(request: Request, error: RequestValidationError) -> JSONResponse:
        return error_response(request, 422, _validation_body(error))

    @app.exception_handler(StarletteHTTPException)
    async def _http(request: Request, error: StarletteHTTPException) -> JSONResponse:
        code = "not_found" if error.status_code == 404 else f"http_{error.status_code}"
        # The headers carry what the status requires, e.g. Allow on a 405.
        headers = dict(error.headers or {})
        if error.status_code == 405:
            allowed = _allowed_methods(request, headers.get("allow") or headers.get("Allow"))
            headers = {k: v for k, v in headers.items() if k.lower() != "allow"}
            if allowed:
                headers["Allow"] = allowed
        return error_response(
            request,
            error.status_code,
            ErrorBody(code=code, message=str(error.detail)),
            headers=headers,
        )

    async def _database_unavailable(request: Request, error: Exception) -> JSONResponse:
        logger.warning(
            "database unavailable on %s %s: %s",
            request.method,
            request.url.path,
            " ".join(str(error).split())[:300],
        )
        body = ErrorBody(
            code="database_unavailable",
            message=(
                f"the decision database is unavailable: retry after {RETRY_AFTER_SECONDS} s "
                + _retry_advice(request.url.path)
            ),
        )
        return error_response(request, 503, body, headers={"Retry-After": str(RETRY_AFTER_SECONDS)})

    for failure in DATABASE_UNAVAILABLE:
        app.add_exception_handler(failure, _database_unavailable)
