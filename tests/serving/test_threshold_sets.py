"""Threshold sets stored once: a decision keeps its model and set ids, its answer the edges."""

import dataclasses
import uuid

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from serving import threshold_sets
from serving.db import create_db_engine, make_session_factory, upgrade_database
from serving.decision_store import get_decision, record_decision
from serving.tables import DecisionRecord, ThresholdSetRecord, utc_now
from tests.factories import make_new_decision

EDGES = {
    "fraud": {"allow": 0.1, "enforce": 0.9, "guarantee": None},
    "counterfeit": {"allow": 0.2, "enforce": None, "guarantee": None},
    "regulated": {"allow": 0.3, "enforce": 0.95, "guarantee": None},
}


def test_decisions_name_their_set_and_answers_show_its_edges(client: TestClient) -> None:
    fresh = client.post(
        "/v1/score/batch",
        json={"listings": [{"listing_id": f"l-{i}", "title": f"mug {i}"} for i in range(3)]},
    ).json()["results"]
    factory = client.app.state.service.session_factory  # type: ignore[attr-defined]
    card = client.app.state.service.scorer.card  # type: ignore[attr-defined]
    with factory() as session:
        sets = session.scalars(select(ThresholdSetRecord)).all()
        explanations = session.scalars(select(DecisionRecord.explanation)).all()
    assert [(s.model_version, s.threshold_set_id) for s in sets] == [
        (card.model_id, card.threshold_set_id)
    ]
    assert explanations and all("thresholds" not in e for e in explanations)
    for label, edges in card.thresholds.items():
        assert sets[0].edges[label]["allow"] == edges.allow
        assert fresh[0]["labels"][label]["allow_below"] == edges.allow
    stored = client.get(f"/v1/decisions/{fresh[0]['decision_id']}").json()
    assert stored["labels"] == fresh[0]["labels"]
    again = client.post("/v1/score", json={"listing_id": "l-0", "title": "mug 0"}).json()
    assert again["replayed"] and again["labels"] == fresh[0]["labels"]


@pytest.mark.blank_database  # migrated to 0008 first
def test_the_migration_fills_sets_from_stored_decisions(database_url: str) -> None:
    upgrade_database(database_url, "0008")
    engine = create_db_engine(database_url)
    factory = make_session_factory(engine)
    try:
        with factory.begin() as session:  # decisions as revision 0008 stored them
            for model, edges in (
                ("m-1", EDGES),
                ("m-1", EDGES),
                ("m-2", {"fraud": EDGES["fraud"]}),
            ):
                new = make_new_decision()
                session.add(
                    DecisionRecord(
                        id=uuid.uuid4().hex, idempotency_key=new.idempotency_key,
                        listing_id=new.listing_id, content_hash="h", request_id="r",
                        market="US", listing={}, scores={}, bands={}, regulated_category=None,
                        category_scores={}, action="allow",
                        explanation={"reasons": {}, "rules": [], "thresholds": edges},
                        model_version=model, threshold_set_id="ts-1", policy_version="p",
                        created_at=utc_now(),
                    )
                )  # fmt: skip
        upgrade_database(database_url)
        with factory() as session:
            sets = {
                (s.model_version, s.threshold_set_id): s.edges
                for s in session.scalars(select(ThresholdSetRecord))
            }
        assert sets == {("m-1", "ts-1"): EDGES, ("m-2", "ts-1"): {"fraud": EDGES["fraud"]}}
        new = dataclasses.replace(make_new_decision(), model_version="m-3", thresholds=EDGES)
        stored, _created = record_decision(factory, new)
        threshold_sets._EDGES.clear()  # read back from the database, as another process would
        assert get_decision(factory, stored.id).thresholds == EDGES  # type: ignore[union-attr]
    finally:
        engine.dispose()
