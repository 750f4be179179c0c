"""One error schema for every 4xx/5xx: ``{"error": {code, message, field, limit}, request_id}``."""

import logging
from typing import Any

from fastapi import FastAPI, Request
from fastapi.encoders import jsonable_encoder
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import BaseModel
from starlette.exceptions import HTTPException as StarletteHTTPException

logger = logging.getLogger("listingguard.serving")

_LIMIT_KEYS = ("max_length", "min_length", "le", "lt", "ge", "gt", "pattern", "expected")


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
        self, status: int, code: str, message: str, *, field: str | None = None, limit: Any = None
    ) -> None:
        super().__init__(message)
        self.status = status
        self.body = ErrorBody(code=code, message=message, field=field, limit=limit)


def error_response(request: Request, status: int, body: ErrorBody) -> JSONResponse:
    request_id = getattr(request.state, "request_id", None)
    content = ErrorResponse(error=body, request_id=request_id).model_dump()
    return JSONResponse(status_code=status, content=jsonable_encoder(content))


def _validation_body(error: RequestValidationError) -> ErrorBody:
    first = error.errors()[0]
    location = [str(part) for part in first.get("loc", ()) if part not in ("body", "query")]
    context = first.get("ctx") or {}
    limit = next((context[key] for key in _LIMIT_KEYS if key in context), None)
    kind = str(first.get("type", "invalid"))
    field = ".".join(location) or None
    message = str(first.get("msg", "invalid request"))
    if kind == "json_invalid":
        # The location of a JSON syntax error is a character position, not a field.
        field = "body"
        message = f"request body is not valid JSON: {context.get('error', message)}"
    elif field:
        message = f"{field}: {message}"
    extra = len(error.errors()) - 1
    if extra:
        message += f" (and {extra} more problem{'s' if extra > 1 else ''})"
    return ErrorBody(code=kind, message=message, field=field, limit=limit)


def install_error_handlers(app: FastAPI) -> None:
    @app.exception_handler(ApiError)
    async def _api_error(request: Request, error: ApiError) -> JSONResponse:
        return error_response(request, error.status, error.body)

    @app.exception_handler(RequestValidationError)
    async def _invalid(request: Request, error: RequestValidationError) -> JSONResponse:
        return error_response(request, 422, _validation_body(error))

    @app.exception_handler(StarletteHTTPException)
    async def _http(request: Request, error: StarletteHTTPException) -> JSONResponse:
        code = "not_found" if error.status_code == 404 else f"http_{error.status_code}"
        return error_response(
            request, error.status_code, ErrorBody(code=code, message=str(error.detail))
        )

    @app.exception_handler(Exception)
    async def _unexpected(request: Request, error: Exception) -> JSONResponse:
        logger.exception("unhandled error on %s %s", request.method, request.url.path)
        body = ErrorBody(code="internal_error", message="internal error; see the server log")
        return error_response(request, 500, body)
