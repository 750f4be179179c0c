"""Idempotent scoring: a replay answers from the store without inference; batch and single
endpoints agree."""

from typing import Any

import pytest
from fastapi.testclient import TestClient

from data.schema import Listing
from models.scorer import BundleScorer, ListingScore
from tests.serving.http_checks import as_, keys_of

WALLET = {"listing_id": "r-1", "title": "Hand-stitched leather wallet", "price": 40.0}
POUCH = {
    "listing_id": "r-2",
    "title": "Hand-rolling tobacco pouch",
    "description": "Hand-rolling tobacco pouch 50g, menthol. Loose tobacco, ships discreetly.",
    "price": 14.0,
}


class CountingScorer:
    """The service's real scorer, counting the listings it is asked to score."""

    def __init__(self, inner: BundleScorer) -> None:
        self.inner = inner
        self.scored = 0

    def score(self, listings: list[Listing]) -> list[ListingScore]:
        self.scored += len(listings)
        return self.inner.score(listings)

    def __getattr__(self, name: str) -> Any:
        return getattr(self.inner, name)


def _counting(client: TestClient) -> CountingScorer:
    state = client.app.state.service  # type: ignore[attr-defined]
    counting = CountingScorer(state.scorer)
    state.scorer = counting
    return counting


def test_a_replay_answers_the_stored_decision_without_scoring(client: TestClient) -> None:
    counting = _counting(client)
    first = client.post("/v1/score", json=POUCH).json()
    assert counting.scored == 1 and first["replayed"] is False
    again = client.post("/v1/score", json=POUCH).json()
    assert counting.scored == 1, "the retry cost no inference"
    assert again["replayed"] is True and again["decision_id"] == first["decision_id"]
    assert again["review_item_id"] == first["review_item_id"], "the queue agrees again"
    batch = client.post("/v1/score/batch", json={"listings": [POUCH, WALLET]}).json()
    assert counting.scored == 3, "a batch with anything new is scored and recorded whole"
    assert [r["replayed"] for r in batch["results"]] == [True, False]
    assert batch["results"][0]["decision_id"] == first["decision_id"]
    again = client.post("/v1/score/batch", json={"listings": [WALLET, POUCH]}).json()
    assert counting.scored == 3, "an all-replay batch costs no inference"
    assert [r["replayed"] for r in again["results"]] == [True, True]


def test_a_batch_leaves_the_queue_on_its_last_content(client: TestClient) -> None:
    edited = {**POUCH, "title": "Leather wallet", "description": "Brown leather wallet."}
    assert client.post("/v1/score", json=POUCH).json()["action"] == "review"
    batch = client.post("/v1/score/batch", json={"listings": [edited, POUCH]}).json()["results"]
    assert batch[0]["action"] != "review" and batch[1]["replayed"] is True
    queued = client.get(
        f"/v1/queue/{batch[1]['review_item_id']}", headers=as_(keys_of(client)["ana"])
    )
    assert queued.json()["status"] == "open", "the pouch, scored last, is what waits for review"


def test_batch_and_single_endpoints_give_the_same_scores(client: TestClient) -> None:
    listings = [POUCH, WALLET, {"listing_id": "r-3", "title": "Rolex Submariner replica AAA"}]
    singles = [client.post("/v1/score", json=listing).json() for listing in listings]
    fresh = [{**listing, "listing_id": f"{listing['listing_id']}-b"} for listing in listings]
    batch = client.post("/v1/score/batch", json={"listings": fresh}).json()["results"]
    for one, many in zip(singles, batch, strict=True):
        assert one["action"] == many["action"]
        for label, score in one["labels"].items():
            # float32 kernels may sum a batch in another order: equal to 1e-6, not bit for bit
            assert many["labels"][label]["probability"] == pytest.approx(
                score["probability"], abs=1e-6
            ), label
