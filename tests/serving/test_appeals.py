"""Appeals and seller health over HTTP: strike, appeal, overturn by someone else, stats."""

from typing import Any

from fastapi.testclient import TestClient

from tests.serving.http_checks import as_, error_of

TOBACCO = {
    "listing_id": "appeal-1",
    "title": "Hand-rolling tobacco pouch 50g, menthol",
    "description": "Loose tobacco, ships discreetly.",
    "price": 14.0,
    "seller_id": "seller-a",
}


def _blocked_by(client: TestClient, key: str, listing: dict[str, Any] = TOBACCO) -> dict[str, Any]:
    assert client.post("/v1/score", json=listing).json()["action"] == "review"
    item = client.post("/v1/queue/claim", json={}, headers=as_(key)).json()
    decision = {"action": "block", "reason_code": "prohibited-item"}
    decided = client.post(f"/v1/queue/{item['id']}/decision", json=decision, headers=as_(key))
    assert decided.status_code == 200, decided.text
    return dict(decided.json())


def _events(client: TestClient) -> list[dict[str, Any]]:
    return list(client.get("/v1/events").json()["events"])


def test_a_human_block_strikes_the_seller_and_an_overturned_appeal_lifts_it(
    client: TestClient, keys: dict[str, str]
) -> None:
    _blocked_by(client, keys["ana"])
    seller = client.get("/v1/sellers/seller-a").json()
    assert (seller["points"], seller["penalty"]) == (3, "listing_removal")
    [strike] = seller["strikes"]
    assert (strike["source"], strike["active"], strike["listing_id"]) == ("human", True, "appeal-1")
    filed = client.post("/v1/appeals", json={"listing_id": "appeal-1", "reason": "it is a toy"})
    assert filed.status_code == 201, filed.text
    appeal = filed.json()
    assert (appeal["kind"], appeal["status"]) == ("appeal", "open")
    again = client.post("/v1/appeals", json={"listing_id": "appeal-1", "reason": "twice"})
    assert again.status_code == 409 and "already has an open appeal" in error_of(again)["message"]
    own = client.post("/v1/queue/claim", json={"kind": "appeal"}, headers=as_(keys["ana"]))
    assert own.status_code == 204, "the original decider may not decide the appeal"
    taken = client.post("/v1/queue/claim", json={"kind": "appeal"}, headers=as_(keys["bo"])).json()
    assert taken["id"] == appeal["id"]
    overturn = {"action": "allow", "reason_code": "no-violation", "note": "photo shows a toy"}
    client.post(f"/v1/queue/{taken['id']}/decision", json=overturn, headers=as_(keys["bo"]))
    lifted = client.get("/v1/sellers/seller-a").json()
    assert (lifted["points"], lifted["penalty"]) == (0, "none")
    assert lifted["strikes"][0]["removed_reason"] == "appeal overturned by bo"
    rescored = client.post("/v1/score", json=TOBACCO).json()
    assert (rescored["action"], rescored["human_decision"]["decided_by"]) == ("allow", "bo")
    types = [event["type"] for event in _events(client)]
    assert types == [
        "penalty",
        "human_decision",
        "appeal_filed",
        "penalty",
        "appeal_outcome",
        "human_decision",
    ]
    outcome = next(e for e in _events(client) if e["type"] == "appeal_outcome")
    assert outcome["payload"]["outcome"] == "overturned"


def test_overturn_rates_per_reviewer_and_label(client: TestClient, keys: dict[str, str]) -> None:
    for n, decider in enumerate(("ana", "ana", "bo")):
        listing = {**TOBACCO, "listing_id": f"rate-{n}", "seller_id": f"s-{n}"}
        _blocked_by(client, keys[decider], listing)
        client.post("/v1/appeals", json={"listing_id": f"rate-{n}", "reason": "unfair"})
    verdicts = [
        ("bo", "allow", "no-violation"),
        ("bo", "block", "prohibited-item"),
        ("ana", "allow", "no-violation"),
    ]
    for judge, action, code in verdicts:
        item = client.post("/v1/queue/claim", json={"kind": "appeal"}, headers=as_(keys[judge]))
        body = {"action": action, "reason_code": code}
        client.post(f"/v1/queue/{item.json()['id']}/decision", json=body, headers=as_(keys[judge]))
    headers = as_(keys["ana"])
    by_reviewer = client.get("/v1/appeals/stats", params={"by": "reviewer"}, headers=headers)
    rates = {g["group"]: (g["appeals"], g["overturned"]) for g in by_reviewer.json()["groups"]}
    assert rates == {"ana": (2, 1), "bo": (1, 1)}
    by_label = client.get("/v1/appeals/stats", headers=headers).json()
    assert by_label["by"] == "label" and sum(g["appeals"] for g in by_label["groups"]) >= 3


def test_only_an_enforced_listing_can_be_appealed(client: TestClient) -> None:
    plain = {"listing_id": "mug-1", "title": "ceramic coffee mug 350 ml", "price": 9.5}
    assert client.post("/v1/score", json=plain).json()["action"] == "allow"
    refused = client.post("/v1/appeals", json={"listing_id": "mug-1", "reason": "why"})
    assert refused.status_code == 409 and "not enforced" in error_of(refused)["message"]
    unknown = client.post("/v1/appeals", json={"listing_id": "nope", "reason": "why"})
    assert unknown.status_code == 409 and "no decision" in error_of(unknown)["message"]


def test_a_seller_with_no_history_is_in_good_standing(client: TestClient) -> None:
    body = client.get("/v1/sellers/nobody").json()
    assert body == {
        "seller_id": "nobody",
        "points": 0,
        "penalty": "none",
        "forced_review": False,
        "strikes": [],
    }
