"""The HTTP API on a real bundle and a real database (SQLite and PostgreSQL)."""

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from serving.app import create_app
from serving.schemas import BatchScoreResponse, DecisionOut
from serving.settings import Settings
from tests.serving.http_checks import as_, error_of, written_as_pydantic_would

RISKY = {"listing_id": "l-risky", "title": "replica rolex submariner watch aaa quality"}
PLAIN = {"listing_id": "l-plain", "title": "ceramic coffee mug 350 ml", "price": 9.5}


def test_score_returns_bands_action_reasons_and_versions(client: TestClient) -> None:
    response = client.post("/v1/score", json=RISKY)
    assert response.status_code == 200
    body = response.json()
    assert body["listing_id"] == "l-risky"
    assert set(body["labels"]) == {"fraud", "counterfeit", "regulated"}
    for label in body["labels"].values():
        assert 0.0 <= label["probability"] <= 1.0
        assert label["band"] in {"allow", "review", "enforce"}
    assert body["action"] in {"allow", "review", "block"}
    assert body["labels"]["counterfeit"]["reasons"], "a risky listing names its reasons"
    assert body["model_version"] and body["threshold_set_id"].startswith("ts-")
    assert body["policy_version"] == "default-v1"
    assert response.headers["X-Request-ID"]


def test_category_is_named_only_when_regulated_is_not_auto_allowed(client: TestClient) -> None:
    body = client.post("/v1/score", json=PLAIN).json()
    assert body["labels"]["regulated"]["band"] == "allow"
    assert body["category"]["name"] is None
    assert body["category"]["probabilities"], "the head's probabilities are kept"
    stored = client.get(f"/v1/decisions/{body['decision_id']}").json()
    assert stored["category"]["name"] is None


def test_request_id_is_echoed(client: TestClient) -> None:
    response = client.post("/v1/score", json=PLAIN, headers={"X-Request-ID": "abc-123"})
    assert response.headers["X-Request-ID"] == "abc-123"


def test_answers_are_the_response_models_json(client: TestClient) -> None:
    for response in (
        client.post("/v1/score", json=RISKY),
        client.post("/v1/score", json=RISKY),  # replayed from the store
        client.post("/v1/score", json={**PLAIN, "price": None, "market": "DE"}),
    ):
        assert response.headers["content-type"] == "application/json"
        assert written_as_pydantic_would(response, DecisionOut), response.text
    batch = client.post("/v1/score/batch", json={"listings": [RISKY, PLAIN]})
    assert written_as_pydantic_would(batch, BatchScoreResponse), batch.text
    assert (
        batch.json()["results"][0]["replayed"]
        and batch.json()["results"][0]["created_at"][-1] == "Z"
    )


def test_identical_requests_replay_one_decision(client: TestClient) -> None:
    first = client.post("/v1/score", json=PLAIN).json()
    second = client.post("/v1/score", json=PLAIN).json()
    assert second["decision_id"] == first["decision_id"]
    assert (first["replayed"], second["replayed"]) == (False, True)
    edited = client.post("/v1/score", json={**PLAIN, "title": "ceramic tea mug"}).json()
    assert edited["decision_id"] != first["decision_id"]


def test_stored_decision_explains_itself(client: TestClient) -> None:
    decision = client.post("/v1/score", json=RISKY).json()
    stored = client.get(f"/v1/decisions/{decision['decision_id']}")
    assert stored.status_code == 200
    body = stored.json()
    assert body["listing"]["title"] == RISKY["title"]
    assert body["labels"] == decision["labels"]
    assert body["model_version"] == decision["model_version"]


def test_unknown_decision_is_404_in_the_error_schema(client: TestClient) -> None:
    response = client.get("/v1/decisions/nope")
    assert response.status_code == 404
    assert error_of(response)["code"] == "not_found"


def test_review_listing_goes_to_the_queue_and_can_be_decided(
    client: TestClient, keys: dict[str, str]
) -> None:
    # Tobacco and paraphernalia go to review under the default policy even when enforced.
    listings = [
        {"listing_id": f"q-{i}", "title": title, "description": "Sold to adults only."}
        for i, title in enumerate(
            [
                "Glass water pipe bong 30cm",
                "Box of 25 Cuban cigars",
                "King size rolling papers and tips, 3 packs",
                "ceramic coffee mug",
            ]
        )
    ]
    results = client.post("/v1/score/batch", json={"listings": listings}).json()["results"]
    reviewed = [r for r in results if r["action"] == "review"]
    queue = client.get("/v1/queue", params={"status": "open"}, headers=as_(keys["ana"])).json()
    assert queue["total"] == len(reviewed)
    assert {item["listing_id"] for item in queue["items"]} == {r["listing_id"] for r in reviewed}
    assert all(r["review_item_id"] for r in reviewed)
    assert reviewed, "tobacco and paraphernalia listings are routed to review"
    claimed = client.post("/v1/queue/claim", json={}, headers=as_(keys["ana"])).json()
    assert claimed["status"] == "claimed" and claimed["claimed_by"] == "ana"
    decision = {"action": "block", "reason_code": "violation-confirmed", "note": "replica"}
    path = f"/v1/queue/{claimed['id']}/decision"
    refused = client.post(path, json=decision, headers=as_(keys["bo"]))
    assert refused.status_code == 409
    decided = client.post(path, json=decision, headers=as_(keys["ana"])).json()
    assert decided["status"] == "decided" and decided["human_action"] == "block"


def test_empty_queue_claim_is_204(client: TestClient, keys: dict[str, str]) -> None:
    assert client.post("/v1/queue/claim", json={}, headers=as_(keys["ana"])).status_code == 204


@pytest.mark.parametrize(
    ("body", "field", "limit"),
    [
        ({"listing_id": "x"}, "title", None),
        ({"listing_id": "x", "title": "t", "price": "cheap"}, "price", None),
        ({"listing_id": "x", "title": "t" * 1001}, "title", 1000),
        ({"listing_id": "x", "title": "t", "price": -1}, "price", 0),
        ({"listing_id": "x", "title": "t", "colour": "red"}, "colour", None),
        ({"listing_id": "x", "title": "t", "market": "usa"}, "market", "^[A-Z]{2}$"),
    ],
)
def test_bad_listing_is_422_naming_field_and_limit(
    client: TestClient, body: dict[str, Any], field: str, limit: object
) -> None:
    response = client.post("/v1/score", json=body)
    assert response.status_code == 422
    error = error_of(response)
    assert error["field"] == field
    assert error["limit"] == limit
    assert field in error["message"]


def test_malformed_json_is_422(client: TestClient) -> None:
    response = client.post(
        "/v1/score", content=b'{"listing_id": ', headers={"Content-Type": "application/json"}
    )
    assert response.status_code == 422
    assert error_of(response)["code"] == "json_invalid"


def test_batch_over_the_limit_is_422(client: TestClient) -> None:
    listings = [{"listing_id": f"b-{i}", "title": "mug"} for i in range(6)]
    response = client.post("/v1/score/batch", json={"listings": listings})
    assert response.status_code == 422
    assert error_of(response) | {"message": ""} == {
        "code": "batch_too_large",
        "message": "",
        "field": "listings",
        "limit": 5,
    }


def test_oversized_body_is_413(client: TestClient) -> None:
    response = client.post(
        "/v1/score",
        content=b"x" * 4_000_001,
        headers={"Content-Type": "application/json"},
    )
    assert response.status_code == 413
    assert error_of(response)["limit"] == 4_000_000


def test_oversized_chunked_body_is_413(client: TestClient) -> None:
    def chunks() -> Iterator[bytes]:
        for _ in range(5):
            yield b"x" * 1_000_000

    response = client.post(
        "/v1/score", content=chunks(), headers={"Content-Type": "application/json"}
    )
    assert response.status_code == 413
    assert error_of(response)["code"] == "body_too_large"
    assert response.json()["request_id"] == response.headers["X-Request-ID"]


def test_nul_characters_are_422_naming_the_field(client: TestClient) -> None:
    response = client.post("/v1/score", json={"listing_id": "n-1", "title": "a\u0000b"})
    assert response.status_code == 422
    assert error_of(response)["field"] == "title"


def test_health_and_readiness(client: TestClient) -> None:
    assert client.get("/healthz").json() == {"status": "ok"}
    ready = client.get("/readyz").json()
    assert ready["ready"] and ready["bundle_loaded"] and ready["database_reachable"]
    assert ready["schema_current"]


@pytest.mark.blank_database
def test_not_ready_on_an_unmigrated_database(demo_bundle: Path, sqlite_url: str) -> None:
    settings = Settings(bundle=demo_bundle, database_url=sqlite_url, auto_migrate=False)
    with TestClient(create_app(settings)) as unmigrated:
        response = unmigrated.get("/readyz")
    assert response.status_code == 503
    assert response.json()["database_reachable"] and not response.json()["schema_current"]


def test_openapi_documents_the_endpoints(client: TestClient) -> None:
    paths = client.get("/openapi.json").json()["paths"]
    assert {"/v1/score", "/v1/score/batch", "/v1/decisions/{decision_id}", "/v1/queue"} <= set(
        paths
    )
