"""Assertions and a real server shared by the HTTP API tests."""

import socket
import threading
import time
from typing import Any

import uvicorn


def error_of(response: Any) -> dict[str, Any]:
    """The ``error`` object of a response, after checking it has exactly the error schema."""
    body = response.json()
    assert set(body) == {"error", "request_id"}
    assert set(body["error"]) == {"code", "message", "field", "limit"}
    return dict(body["error"])


class serve_in_thread:  # noqa: N801 - used as a context manager, like a function
    """uvicorn on a free loopback port in a thread, for tests about real connections."""

    def __init__(self, app: Any) -> None:
        self.server = uvicorn.Server(uvicorn.Config(app, log_level="warning", lifespan="on"))
        self.socket = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.socket.bind(("127.0.0.1", 0))
        self.thread = threading.Thread(
            target=self.server.run, kwargs={"sockets": [self.socket]}, daemon=True
        )

    def __enter__(self) -> int:
        self.thread.start()
        deadline = time.monotonic() + 60
        while not self.server.started:
            assert self.thread.is_alive() and time.monotonic() < deadline, "server did not start"
            time.sleep(0.05)
        port: int = self.socket.getsockname()[1]
        return port

    def __exit__(self, *exc: object) -> None:
        self.server.should_exit = True
        self.thread.join(timeout=30)
        self.socket.close()
