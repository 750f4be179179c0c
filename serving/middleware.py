"""Request ids and request size limits, applied before any route runs."""

import re
import uuid
from collections.abc import Awaitable, Callable

from fastapi import FastAPI, Request, Response

from serving.api_errors import ErrorBody, error_response

REQUEST_ID_HEADER = "X-Request-ID"
_VALID_REQUEST_ID = re.compile(r"^[A-Za-z0-9._:-]{1,128}$")


def install_middleware(app: FastAPI, *, max_body_bytes: int) -> None:
    @app.middleware("http")
    async def _request_id_and_size(
        request: Request, call_next: Callable[[Request], Awaitable[Response]]
    ) -> Response:
        supplied = request.headers.get(REQUEST_ID_HEADER, "")
        request.state.request_id = (
            supplied if _VALID_REQUEST_ID.match(supplied) else uuid.uuid4().hex
        )
        declared = request.headers.get("content-length")
        if declared is not None and (not declared.isdigit() or int(declared) > max_body_bytes):
            body = ErrorBody(
                code="body_too_large",
                message=f"request body exceeds {max_body_bytes} bytes",
                field="body",
                limit=max_body_bytes,
            )
            response: Response = error_response(request, 413, body)
        else:
            response = await call_next(request)
        response.headers[REQUEST_ID_HEADER] = request.state.request_id
        return response
