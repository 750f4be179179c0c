"""Odd input gets a documented 4xx that names the field and the limit, never a 500.

Each case here reached a 500 or an undocumented answer before (issue 6), on SQLite or PostgreSQL.
"""

import http.client
import json
from typing import Any

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from serving.api_keys import create_key
from serving.deps import get_state
from serving.middleware import MAX_JSON_DEPTH, json_nesting_depth
from tests.serving.http_checks import as_, error_of, serve_in_thread

PLAIN = {"listing_id": "in-1", "title": "ceramic coffee mug 350 ml", "price": 9.5}
JSON = {"Content-Type": "application/json"}


def test_offset_beyond_64_bits_is_422_naming_the_limit(
    client: TestClient, keys: dict[str, str]
) -> None:
    response = client.get("/v1/queue", params={"offset": 2**63}, headers=as_(keys["ana"]))
    assert response.status_code == 422
    error = error_of(response)
    assert (error["field"], error["limit"]) == ("offset", 1_000_000_000)


@pytest.mark.parametrize("length", [101, 128])
def test_a_request_id_longer_than_the_column_is_replaced_not_stored(
    client: TestClient, length: int
) -> None:
    supplied = "r" * length
    response = client.post("/v1/score", json=PLAIN, headers={"X-Request-ID": supplied})
    assert response.status_code == 200
    assert response.headers["X-Request-ID"] != supplied


def test_a_request_id_of_100_characters_is_kept(client: TestClient) -> None:
    supplied = "r" * 100
    decision = client.post("/v1/score", json=PLAIN, headers={"X-Request-ID": supplied}).json()
    stored = client.get(f"/v1/decisions/{decision['decision_id']}").json()
    assert stored["request_id"] == supplied


@pytest.mark.parametrize(
    ("method", "path"),
    [("GET", "/v1/decisions/%00"), ("POST", "/v1/queue/%00/decision")],
)
def test_nul_in_a_path_id_is_404(client: TestClient, method: str, path: str) -> None:
    decision = {"action": "allow", "reason_code": "no-violation"}
    body = decision if method == "POST" else None
    response = client.request(method, path, json=body)
    assert response.status_code == 404
    assert error_of(response)["code"] == "not_found"


def test_invalid_utf8_is_422_naming_the_encoding(client: TestClient) -> None:
    response = client.post("/v1/score", content=b'{"title": "\xff\xfe"}', headers=JSON)
    assert response.status_code == 422
    assert error_of(response) | {"message": ""} == {
        "code": "invalid_utf8",
        "message": "",
        "field": "body",
        "limit": "utf-8",
    }


def test_deeply_nested_json_is_422_naming_the_depth_limit(client: TestClient) -> None:
    body = b"[" * 10_000 + b"]" * 10_000
    response = client.post("/v1/score", content=body, headers=JSON)
    assert response.status_code == 422
    error = error_of(response)
    assert (error["code"], error["limit"]) == ("json_too_deep", MAX_JSON_DEPTH)
    assert "10000 levels" in error["message"]


def test_nesting_depth_ignores_brackets_inside_strings() -> None:
    assert json_nesting_depth(b'{"title": "[[[[{{{{", "a": [1, [2]]}') == 3
    assert json_nesting_depth(b'{"t": "quote \\" [[[["}') == 1


def test_brackets_in_text_are_not_nesting(client: TestClient) -> None:
    title = "[" * (MAX_JSON_DEPTH + 5) + " mug"
    assert client.post("/v1/score", json={**PLAIN, "title": title}).status_code == 200


def test_every_body_error_status_is_documented(client: TestClient) -> None:
    paths = client.get("/openapi.json").json()["paths"]
    for path, methods in paths.items():
        if "post" in methods:
            documented = set(methods["post"]["responses"])
            assert {"413", "415", "422", "503"} <= documented, path


def test_a_key_over_its_rate_limit_is_429_with_retry_after(client: TestClient) -> None:
    factory = client.app.state.service.session_factory  # type: ignore[attr-defined]
    _, key = create_key(factory, "slow-pipeline", "pipeline", rate_per_minute=2)
    statuses = [client.get("/v1/events", headers=as_(key)).status_code for _ in range(3)]
    assert statuses == [200, 200, 429]
    refused = client.get("/v1/events", headers=as_(key))
    assert int(refused.headers["Retry-After"]) >= 1
    assert (error_of(refused)["code"], error_of(refused)["limit"]) == ("rate_limited", 2)


def test_nul_is_refused_and_the_schema_says_so(client: TestClient) -> None:
    listing = client.get("/openapi.json").json()["components"]["schemas"]["Listing"]
    assert "x00" in listing["properties"]["description"]["pattern"]
    assert "x00" in listing["properties"]["attributes"]["propertyNames"]["pattern"]
    response = client.post("/v1/score", json={**PLAIN, "attributes": {"a\u0000": "b"}})
    assert response.status_code == 422
    assert error_of(response)["field"] == "attributes"


def test_whitespace_is_kept_as_sent_and_blank_titles_refused(client: TestClient) -> None:
    assert client.post("/v1/score", json={**PLAIN, "title": " \t "}).status_code == 422
    decision = client.post("/v1/score", json={**PLAIN, "title": "  mug  "}).json()
    stored = client.get(f"/v1/decisions/{decision['decision_id']}").json()
    assert stored["listing"]["title"] == "  mug  "


@pytest.mark.parametrize("price", [False, True, "9.5"])
def test_a_price_that_is_not_a_number_is_refused(client: TestClient, price: object) -> None:
    response = client.post("/v1/score", json={**PLAIN, "price": price})
    assert response.status_code == 422
    assert error_of(response)["field"] == "price"


def test_405_names_the_allowed_methods(client: TestClient) -> None:
    response = client.delete("/v1/score")
    assert response.status_code == 405
    assert response.headers["Allow"] == "POST"
    assert error_of(response)["code"] == "http_405"
    both = client.delete("/v1/qa/gold")
    assert both.status_code == 405 and both.headers["Allow"] == "GET, POST", "two routes, one path"


def test_json_without_a_json_content_type_is_415_with_a_hint(client: TestClient) -> None:
    response = client.post(
        "/v1/score", content=b'{"listing_id": "a", "title": "mug"}', headers={"Content-Type": ""}
    )
    assert response.status_code == 415
    error = error_of(response)
    assert (error["field"], error["limit"]) == ("Content-Type", "application/json")
    assert "Content-Type: application/json" in error["message"]
    charset = {"Content-Type": "application/json; charset=utf-8"}
    assert client.post("/v1/score", json=PLAIN, headers=charset).status_code == 200


def test_one_bad_listing_refuses_the_whole_batch_naming_index_and_id(client: TestClient) -> None:
    listings: list[dict[str, Any]] = [
        {"listing_id": "ok-1", "title": "mug"},
        {"listing_id": "ok-2", "title": "mug"},
        {"listing_id": "bad-3", "title": "mug", "price": -4},
    ]
    response = client.post("/v1/score/batch", json={"listings": listings})
    assert response.status_code == 422
    error = error_of(response)
    assert error["field"] == "listings.2.price"
    assert error["message"].startswith("listings[2] (listing_id 'bad-3'): price:")
    # All or nothing: the valid listings were not scored either.
    first = client.post("/v1/score", json=listings[0]).json()
    assert first["replayed"] is False


def test_the_batch_limit_is_in_the_openapi_document(client: TestClient) -> None:
    schemas = client.get("/openapi.json").json()["components"]["schemas"]
    assert schemas["BatchScoreRequest"]["properties"]["listings"]["maxItems"] == 5


def test_an_unexpected_error_is_500_in_the_error_schema(client: TestClient) -> None:
    app = client.app
    assert isinstance(app, FastAPI)

    def broken() -> None:
        raise RuntimeError("boom")

    app.dependency_overrides[get_state] = broken
    try:
        response = client.post("/v1/score", json=PLAIN)
    finally:
        app.dependency_overrides.clear()
    assert response.status_code == 500
    assert error_of(response)["code"] == "internal_error"
    assert "boom" not in response.text, "no internals reach the caller"
    assert response.json()["request_id"] == response.headers["X-Request-ID"]


def test_an_unexpected_error_keeps_the_keep_alive_connection(
    client: TestClient, keys: dict[str, str]
) -> None:
    app = client.app
    assert isinstance(app, FastAPI)

    def broken() -> None:
        raise RuntimeError("boom")

    app.dependency_overrides[get_state] = broken
    try:
        with serve_in_thread(app) as port:
            connection = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
            headers = JSON | as_(keys["pipeline"])
            connection.request("POST", "/v1/score", json.dumps(PLAIN), headers)
            first = connection.getresponse()
            first.read()
            sock = connection.sock
            connection.request("GET", "/healthz")
            second = connection.getresponse()
            second.read()
            assert (first.status, second.status) == (500, 200)
            assert connection.sock is sock, "the 500 did not close the connection"
            connection.close()
    finally:
        app.dependency_overrides.clear()
