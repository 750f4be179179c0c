"""The review workflow over HTTP: item pages, transitions, history, the outcome feed."""

from typing import Any

import pytest
from fastapi.testclient import TestClient

from serving.schemas import DecisionOut
from tests.serving.http_checks import as_, error_of, written_as_pydantic_would

TOBACCO = {
    "listing_id": "api-tobacco-1",
    "title": "Hand-rolling tobacco pouch 50g, menthol",
    "description": "Loose tobacco, ships discreetly.",
    "price": 14.0,
    "market": "US",
    "seller_id": "seller-t",
}
BLOCK = {"action": "block", "reason_code": "violation-confirmed", "note": "no licence shown"}


def _queued(client: TestClient, listing: dict[str, Any] | None = None) -> dict[str, Any]:
    decision = client.post("/v1/score", json=listing or TOBACCO).json()
    assert decision["action"] == "review", decision
    return decision


def _claimed(client: TestClient, key: str, kind: str = "review") -> dict[str, Any]:
    response = client.post("/v1/queue/claim", json={"kind": kind}, headers=as_(key))
    assert response.status_code == 200, response.text
    return dict(response.json())


def test_every_endpoint_but_health_and_metrics_needs_a_key(client: TestClient) -> None:
    routes = {
        ("POST", "/v1/score"), ("POST", "/v1/score/batch"), ("GET", "/v1/decisions/x"),
        ("GET", "/v1/queue"), ("POST", "/v1/queue/claim"), ("GET", "/v1/queue/x"),
        ("GET", "/v1/queue/x/history"), ("POST", "/v1/queue/x/decision"),
        ("POST", "/v1/queue/x/release"), ("POST", "/v1/queue/x/hold"),
        ("POST", "/v1/queue/x/escalate"), ("GET", "/v1/events"),
        ("POST", "/v1/listings/x/withdraw"), ("POST", "/v1/appeals"),
        ("GET", "/v1/appeals/stats"), ("GET", "/v1/sellers/x"), ("GET", "/v1/qa/estimates"),
        ("POST", "/v1/queue/x/verdict"), ("GET", "/v1/qa/gold"), ("POST", "/v1/qa/gold"),
        ("POST", "/v1/qa/gold/x/retire"), ("GET", "/v1/decisions/x/statement"),
        ("GET", "/v1/reports/transparency"), ("GET", "/v1/reports/shadow"),
        ("GET", "/v1/reports/drift"),
    }  # fmt: skip
    documented = {
        (method.upper(), path)
        for path, methods in client.get("/openapi.json").json()["paths"].items()
        for method in methods
    }
    assert len(documented) == len(routes) + 3, "a new endpoint needs a line here"
    for method, path in sorted(routes):
        response = client.request(method, path, json={}, headers={"Authorization": ""})
        assert response.status_code == 401, (method, path, response.text)
        assert response.headers["WWW-Authenticate"] == "Bearer"
        assert "missing API key" in error_of(response)["message"]
    for path in ("/healthz", "/readyz", "/metrics"):
        assert client.get(path, headers={"Authorization": ""}).status_code == 200


@pytest.mark.parametrize(
    ("key", "method", "path", "body"),
    [
        ("ana", "POST", "/v1/score", TOBACCO),
        ("quinn", "GET", "/v1/queue", None),
        ("pipeline", "POST", "/v1/queue/claim", {}),
        ("ana", "POST", "/v1/queue/claim", {"kind": "senior"}),
        ("ana", "GET", "/v1/events", None),
        ("sam", "POST", "/v1/listings/x/withdraw", {"reason": "gone"}),
    ],
)
def test_a_key_whose_role_may_not_is_403(
    client: TestClient,
    keys: dict[str, str],
    key: str,
    method: str,
    path: str,
    body: dict[str, Any] | None,
) -> None:
    response = client.request(method, path, json=body, headers=as_(keys[key]))
    assert response.status_code == 403, response.text
    assert "may not do this" in error_of(response)["message"]


@pytest.mark.parametrize(
    "presented", ["nonsense", "lg_000000000000_secret", "Bearer", "lg_" + "a" * 300]
)
def test_an_unknown_or_malformed_key_is_401(
    client: TestClient, keys: dict[str, str], presented: str
) -> None:
    response = client.get("/v1/events", headers=as_(presented))
    assert response.status_code == 401
    forged = keys["pipeline"][:-4] + "AAAA"
    assert client.get("/v1/events", headers=as_(forged)).status_code == 401


def test_the_reviewer_is_the_key_not_the_body(client: TestClient, keys: dict[str, str]) -> None:
    _queued(client)
    response = client.post(
        "/v1/queue/claim", json={"reviewer": "mallory"}, headers=as_(keys["ana"])
    )
    assert response.status_code == 422 and error_of(response)["field"] == "reviewer"
    item = _claimed(client, keys["ana"])
    assert item["claimed_by"] == "ana"


def test_claim_shows_what_a_reviewer_needs(client: TestClient, keys: dict[str, str]) -> None:
    decision = _queued(client)
    item = _claimed(client, keys["ana"])
    assert item["id"] == decision["review_item_id"]
    assert item["listing"]["title"] == TOBACCO["title"]
    assert set(item["reasons"]) == set(decision["labels"])
    assert item["model_policy_clause"] == decision["policy_clause"]
    assert item["rules"] == decision["rules"]
    assert item["due_at"] > item["created_at"] and not item["sla_breached"]
    assert set(item["priority_factors"]) == {"risk", "uncertainty", "exposure", "seller_history"}
    assert client.get(f"/v1/queue/{item['id']}", headers=as_(keys["ana"])).json() == item


def test_unknown_items_are_404(client: TestClient, keys: dict[str, str]) -> None:
    for path in ("/v1/queue/" + "f" * 32, "/v1/queue/nope/history"):
        response = client.get(path, headers=as_(keys["ana"]))
        assert response.status_code == 404, path
        assert "does not exist" in error_of(response)["message"]


def test_a_human_block_answers_rescoring_until_the_content_changes(
    client: TestClient, keys: dict[str, str]
) -> None:
    _queued(client)
    item = _claimed(client, keys["ana"])
    decided = client.post(f"/v1/queue/{item['id']}/decision", json=BLOCK, headers=as_(keys["ana"]))
    assert decided.status_code == 200, decided.text
    body = decided.json()
    assert (body["status"], body["human_action"], body["reason_code"]) == (
        "decided",
        "block",
        "violation-confirmed",
    )
    answer = client.post("/v1/score", json=TOBACCO)
    assert written_as_pydantic_would(answer, DecisionOut), "the human decision's time included"
    again = answer.json()
    assert (again["action"], again["model_action"]) == ("block", "review")
    assert again["human_decision"]["decided_by"] == "ana"
    assert again["labels"], "the model's scores stand beside the human answer"
    assert (
        client.get("/v1/queue", params={"status": "open"}, headers=as_(keys["ana"])).json()["total"]
        == 0
    )
    edited = client.post("/v1/score", json={**TOBACCO, "title": "Menthol tobacco pouch"}).json()
    assert edited["human_decision"] is None and edited["action"] == edited["model_action"]


def test_history_records_each_move(client: TestClient, keys: dict[str, str]) -> None:
    _queued(client)
    item = _claimed(client, keys["ana"])
    client.post(
        f"/v1/queue/{item['id']}/release", json={"reason": "break"}, headers=as_(keys["ana"])
    )
    again = _claimed(client, keys["bo"])
    client.post(
        f"/v1/queue/{again['id']}/hold",
        json={"reason": "asked for licence", "hours": 2},
        headers=as_(keys["bo"]),
    )
    client.post(f"/v1/queue/{again['id']}/release", json={}, headers=as_(keys["bo"]))
    history = client.get(f"/v1/queue/{item['id']}/history", headers=as_(keys["ana"])).json()[
        "history"
    ]
    moves = [(h["event"], h["actor"], h["from_status"], h["to_status"]) for h in history]
    assert moves == [
        ("open", "system", None, "open"),
        ("claim", "ana", "open", "claimed"),
        ("release", "ana", "claimed", "open"),
        ("claim", "bo", "open", "claimed"),
        ("hold", "bo", "claimed", "held"),
        ("release", "bo", "held", "open"),
    ]
    assert history[4]["reason"] == "asked for licence"


def test_escalation_goes_to_a_senior_queue(client: TestClient, keys: dict[str, str]) -> None:
    _queued(client)
    item = _claimed(client, keys["ana"])
    senior = client.post(
        f"/v1/queue/{item['id']}/escalate", json={"reason": "unclear law"}, headers=as_(keys["ana"])
    ).json()
    assert (senior["kind"], senior["parent_id"]) == ("senior", item["id"])
    assert client.post("/v1/queue/claim", json={}, headers=as_(keys["bo"])).status_code == 204
    taken = _claimed(client, keys["sam"], kind="senior")
    decision = {"action": "allow", "reason_code": "allowed-with-authorization"}
    client.post(f"/v1/queue/{taken['id']}/decision", json={**decision}, headers=as_(keys["sam"]))
    original = client.get(f"/v1/queue/{item['id']}", headers=as_(keys["ana"])).json()
    assert (original["status"], original["human_action"], original["decided_by"]) == (
        "decided",
        "allow",
        "sam",
    )


@pytest.mark.parametrize(
    ("path", "body"),
    [
        ("decision", BLOCK),
        ("release", {}),
        ("escalate", {"reason": "x"}),
        ("hold", {"reason": "x", "hours": 1}),
    ],
)
def test_moves_the_state_machine_forbids_are_409(
    client: TestClient, keys: dict[str, str], path: str, body: dict[str, Any]
) -> None:
    _queued(client)
    item = _claimed(client, keys["ana"])
    client.post(f"/v1/queue/{item['id']}/decision", json=BLOCK, headers=as_(keys["ana"]))
    response = client.post(f"/v1/queue/{item['id']}/{path}", json=body, headers=as_(keys["ana"]))
    assert response.status_code == 409
    assert "decided" in error_of(response)["message"]


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"action": "block"}, "reason_code"),
        ({"action": "block", "reason_code": "no-violation"}, "reason_code"),
        ({"action": "escalate", "reason_code": "no-violation"}, "action"),
        ({"action": "allow", "reason_code": "no-violation", "note": "n" * 2001}, "note"),
        ({"action": "allow", "reason_code": "no-violation", "policy_clause": " "}, "policy_clause"),
    ],
)
def test_bad_decisions_are_422_naming_the_field(
    client: TestClient, keys: dict[str, str], body: dict[str, Any], field: str
) -> None:
    _queued(client)
    item = _claimed(client, keys["ana"])
    response = client.post(
        f"/v1/queue/{item['id']}/decision", json={**body}, headers=as_(keys["ana"])
    )
    assert response.status_code == 422
    assert error_of(response)["field"] == field
    assert (
        client.get(f"/v1/queue/{item['id']}", headers=as_(keys["ana"])).json()["status"]
        == "claimed"
    ), "nothing lost"


def test_the_schema_lists_the_policys_reason_codes_per_action(
    client: TestClient, keys: dict[str, str]
) -> None:
    schemas = client.get("/openapi.json").json()["components"]["schemas"]
    variants = schemas["ReviewDecisionRequest"]["oneOf"]
    codes = {
        v["properties"]["action"]["const"]: v["properties"]["reason_code"]["enum"] for v in variants
    }
    assert "violation-confirmed" in codes["block"] and "no-violation" in codes["allow"]
    assert schemas["HoldRequest"]["properties"]["hours"]["maximum"] == 720


def test_the_outcome_feed_pages_in_order(client: TestClient, keys: dict[str, str]) -> None:
    for n in range(3):
        _queued(client, {**TOBACCO, "listing_id": f"feed-{n}", "seller_id": None})
        item = _claimed(client, keys["ana"])
        client.post(f"/v1/queue/{item['id']}/decision", json=BLOCK, headers=as_(keys["ana"]))
    withdrawn = client.post(
        "/v1/listings/feed-9/withdraw", json={"reason": "seller deleted"}
    ).json()
    assert withdrawn == {"listing_id": "feed-9", "closed_items": []}
    first = client.get("/v1/events", params={"limit": 2}).json()
    rest = client.get("/v1/events", params={"after": first["next_after"]}).json()
    events = first["events"] + rest["events"]
    assert [e["type"] for e in events] == ["human_decision"] * 3 + ["listing_withdrawn"]
    assert [e["listing_id"] for e in events[:3]] == ["feed-0", "feed-1", "feed-2"]
    assert [e["id"] for e in events] == sorted(e["id"] for e in events)
    assert events[0]["payload"]["reason_code"] == "violation-confirmed"
    empty = client.get("/v1/events", params={"after": rest["next_after"]}).json()
    assert empty == {"events": [], "next_after": rest["next_after"]}


def test_withdrawing_a_listing_closes_its_items(client: TestClient, keys: dict[str, str]) -> None:
    decision = _queued(client)
    response = client.post(
        f"/v1/listings/{TOBACCO['listing_id']}/withdraw",
        json={"reason": "taken down by seller"},
    )
    assert response.json()["closed_items"] == [decision["review_item_id"]]
    assert (
        client.get(f"/v1/queue/{decision['review_item_id']}", headers=as_(keys["ana"])).json()[
            "status"
        ]
        == "withdrawn"
    )
    assert client.post("/v1/queue/claim", json={}, headers=as_(keys["ana"])).status_code == 204
