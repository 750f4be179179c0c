"""Assertions shared by the HTTP API tests."""

from typing import Any


def error_of(response: Any) -> dict[str, Any]:
    """The ``error`` object of a response, after checking it has exactly the error schema."""
    body = response.json()
    assert set(body) == {"error", "request_id"}
    assert set(body["error"]) == {"code", "message", "field", "limit"}
    return dict(body["error"])
