"""Assertions and a real server shared by the HTTP API tests."""

import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import uvicorn
import yaml
from fastapi.testclient import TestClient
from pydantic import BaseModel

from serving.api_keys import create_key
from serving.app import create_app
from serving.settings import Settings

EXAMPLE_POLICY = Path(__file__).parents[2] / "models" / "policies" / "marketplace-example.yaml"


def policy_with_audit(folder: Path, **audit: object) -> Path:
    """The example policy with its ``review.audit`` settings overridden, written to ``folder``
    (a test that counts items turns second reviews and gold cases off, or on at rate 1)."""
    document = yaml.safe_load(EXAMPLE_POLICY.read_text(encoding="utf-8"))
    document["review"]["audit"] |= audit
    path = folder / "policy.yaml"
    path.write_text(yaml.safe_dump(document, sort_keys=False), encoding="utf-8")
    return path


TEST_KEYS = {
    "pipeline": ("listing-pipeline", "pipeline"),
    "ana": ("ana", "reviewer"),
    "bo": ("bo", "reviewer"),
    "sam": ("sam", "senior_reviewer"),
    "quinn": ("quinn", "qa"),
    "root": ("root", "admin"),
}
"""Keys every API test may use: short name -> (the key's name, its role)."""


@contextmanager
def open_client(settings: Settings) -> Iterator[TestClient]:
    """The app started with ``settings``, a key per :data:`TEST_KEYS` entry in its database,
    and the pipeline's key on every request that passes no other."""
    with TestClient(create_app(settings)) as client:
        factory = client.app.state.service.session_factory  # type: ignore[attr-defined]
        client.app.state.test_keys = {  # type: ignore[attr-defined]
            short: create_key(factory, name, role)[1] for short, (name, role) in TEST_KEYS.items()
        }
        client.headers["Authorization"] = f"Bearer {keys_of(client)['pipeline']}"
        yield client


def keys_of(client: TestClient) -> dict[str, str]:
    """The test keys of a client :func:`open_client` opened."""
    found: dict[str, str] = client.app.state.test_keys  # type: ignore[attr-defined]
    return found


def as_(key: str) -> dict[str, str]:
    """Headers that authenticate a request with ``key``."""
    return {"Authorization": f"Bearer {key}"}


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


def written_as_pydantic_would(response: Any, model: type[BaseModel]) -> bool:
    """Whether ``response``'s body is valid for ``model`` and byte for byte the JSON pydantic
    writes for it (the scoring endpoints serialize plain values themselves)."""
    return bool(
        response.content == model.model_validate_json(response.content).model_dump_json().encode()
    )
