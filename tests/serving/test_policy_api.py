"""The service under a policy file: per-market clauses, rules and guarantees in every answer."""

from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from models.bundle import read_card
from serving.settings import Settings
from tests.serving.http_checks import open_client


@pytest.fixture
def example_client(demo_bundle: Path, database_url: str) -> Iterator[TestClient]:
    settings = Settings(bundle=demo_bundle, database_url=database_url, policy="marketplace-example")
    with open_client(settings) as test_client:
        yield test_client


def test_every_label_states_its_guarantee(example_client: TestClient, demo_bundle: Path) -> None:
    body = example_client.post("/v1/score", json={"listing_id": "g1", "title": "blue mug"}).json()
    card = read_card(demo_bundle)
    assert body["policy_version"] == "marketplace-example-2026-12"
    for label, item in body["labels"].items():
        guarantee = item["guarantee"]
        edges = card.thresholds[label]
        assert guarantee["confidence"] == pytest.approx(0.95)
        assert guarantee["unit"] == "seller"
        assert edges.let_through is not None and edges.wrong_enforcements is not None
        assert guarantee["violations_let_through"]["certified"] == edges.let_through.certified
        assert guarantee["wrong_enforcements"]["target"] == edges.wrong_enforcements.target
        assert "sellers" in guarantee["violations_let_through"]["estimand"]
    stored = example_client.get(f"/v1/decisions/{body['decision_id']}").json()
    assert stored["labels"] == body["labels"] and stored["policy_clause"] == body["policy_clause"]


def test_a_rule_names_itself_in_the_decision_and_the_reasons(example_client: TestClient) -> None:
    listing = {"listing_id": "r1", "title": "g i f t card generator, unlimited balance"}
    body = example_client.post("/v1/score", json=listing).json()
    assert body["labels"]["fraud"]["band"] == "enforce"
    assert body["action"] == "block"
    assert body["policy_clause"] == "rules.gift-card-generator"
    assert "rule gift-card-generator: fraud -> enforce" in body["rules"]
    assert body["labels"]["fraud"]["reasons"][0]["phrase"] == "rule gift-card-generator"


def test_an_attribute_the_policy_reads_joins_the_idempotency_key(
    example_client: TestClient,
) -> None:
    listing = {"listing_id": "a1", "title": "red wine 6 bottles", "market": "US"}
    first = example_client.post("/v1/score", json=listing).json()
    again = example_client.post("/v1/score", json=listing).json()
    licensed = {**listing, "attributes": {"alcohol_licence": "TX-99"}}
    changed = example_client.post("/v1/score", json=licensed).json()
    other = {**listing, "attributes": {"colour": "red"}}
    unread = example_client.post("/v1/score", json=other).json()
    assert again["replayed"] and again["decision_id"] == first["decision_id"]
    assert not changed["replayed"] and changed["decision_id"] != first["decision_id"]
    assert unread["replayed"], "an attribute no clause reads does not re-score"
