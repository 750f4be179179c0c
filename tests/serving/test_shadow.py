"""A challenger scored in shadow: the champion decides, both scores are stored, the report
compares them (SQLite and PostgreSQL)."""

from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from data.schema import LabeledListing, Labels, Listing
from models.bundle import read_card
from models.errors import BundleError
from models.routing import route_listing
from models.scorer import BundleScorer
from serving.app import load_state
from serving.data_hygiene import erase_seller
from serving.db import create_db_engine, make_session_factory
from serving.settings import Settings
from serving.tables import ShadowScore
from tests.serving.http_checks import as_, keys_of, open_client

LISTINGS = [
    {"listing_id": f"sh-{i}", "title": title, "price": price, "seller_id": "seller-sh"}
    for i, (title, price) in enumerate(
        [
            ("ceramic mug, blue", 12.0),
            ("replica rolex watch aaa quality", 25.0),
            ("oxycodone 30mg pills no prescription", 90.0),
            ("Hand-rolling tobacco pouch 50g, menthol", 14.0),
            ("used iphone 12 64gb unlocked", 310.0),
            ("gift card generator unlimited balance", 5.0),
        ]
    )
]


@pytest.fixture
def shadowed(demo_bundle: Path, second_bundle: Path, database_url: str) -> Iterator[TestClient]:
    settings = Settings(bundle=demo_bundle, shadow_bundle=second_bundle, database_url=database_url)
    with open_client(settings) as client:
        yield client


def test_the_champion_decides_and_the_challengers_scores_are_stored(
    shadowed: TestClient, demo_bundle: Path, second_bundle: Path, database_url: str
) -> None:
    response = shadowed.post("/v1/score/batch", json={"listings": LISTINGS[:5]})
    assert response.status_code == 200, response.text
    response = shadowed.post("/v1/score", json=LISTINGS[5])
    assert response.status_code == 200, response.text
    decisions = [
        *shadowed.post("/v1/score/batch", json={"listings": LISTINGS[:5]}).json()["results"],
        response.json(),
    ]  # the batch again: replays, no second shadow row
    champion = read_card(demo_bundle)
    assert {d["model_version"] for d in decisions} == {champion.model_id}
    challenger = BundleScorer(second_bundle)
    state = shadowed.app.state.service  # type: ignore[attr-defined]
    expected = challenger.score([Listing.model_validate(item) for item in LISTINGS])
    with state.session_factory() as session:
        rows = {row.decision_id: row for row in session.scalars(select(ShadowScore))}
    assert len(rows) == len(LISTINGS)
    for decision, item, score in zip(decisions, LISTINGS, expected, strict=True):
        stored = rows[decision["decision_id"]]
        assert stored.model_version == challenger.card.model_id
        assert stored.scores == pytest.approx(score.probabilities)
        routed = route_listing(
            score.probabilities,
            score.category,
            thresholds=challenger.card.thresholds,
            policy=state.policy,
            listing=Listing.model_validate(item),
        )
        assert stored.action == routed.action and stored.bands == routed.bands

    report = shadowed.get("/v1/reports/shadow", headers=as_(keys_of(shadowed)["quinn"]))
    assert report.status_code == 200, report.text
    body = report.json()
    assert body["compared"] == len(LISTINGS)
    assert body["champion_versions"] == {champion.model_id: len(LISTINGS)}
    assert sum(sum(row.values()) for row in body["actions"].values()) == len(LISTINGS)
    differ = {
        d["decision_id"] for d in decisions if d["model_action"] != rows[d["decision_id"]].action
    }
    assert {c["decision_id"] for c in body["changes"]} == differ
    assert body["changed_actions"] == len(differ)
    for label in champion.labels:
        changes = [
            abs(rows[d["decision_id"]].scores[label] - d["labels"][label]["probability"])
            for d in decisions
        ]
        assert body["labels"][label]["mean_abs_change"] == pytest.approx(
            sum(changes) / len(changes), abs=1e-6
        )
    page = shadowed.get("/v1/reports/shadow?format=html", headers=as_(keys_of(shadowed)["quinn"]))
    assert page.status_code == 200 and "What the challenger would have changed" in page.text
    refused = shadowed.get("/v1/reports/shadow", headers=as_(keys_of(shadowed)["ana"]))
    assert refused.status_code == 403
    metrics = shadowed.get("/metrics").text
    agreed = sum(
        float(line.rsplit(" ", 1)[1])
        for line in metrics.splitlines()
        if line.startswith("listingguard_shadow_decisions_total")
    )
    assert agreed == len(LISTINGS)

    # Erasing the seller takes the shadow rows with the decisions.
    engine = create_db_engine(database_url)
    erase_seller(make_session_factory(engine), "seller-sh")
    with make_session_factory(engine)() as session:
        assert list(session.scalars(select(ShadowScore))) == []
    engine.dispose()


def test_a_shadow_of_other_labels_is_refused_at_startup(
    demo_bundle: Path,
    demo_rows: list[LabeledListing],
    demo_validation_rows: list[LabeledListing],
    tmp_path: Path,
) -> None:
    from training.config import load_config
    from training.pipeline import train_bundle

    def without_counterfeit(row: LabeledListing) -> LabeledListing:
        values = {k: v for k, v in row.labels.values.items() if k != "counterfeit"}
        return row.model_copy(
            update={"labels": Labels(values=values, category=row.labels.category)}
        )

    other = tmp_path / "other"
    train_bundle(
        [without_counterfeit(row) for row in demo_rows[:1200]],
        config=load_config(),
        data_fingerprint="demo-other-labels",
        bundle_dir=other,
        validation_rows=[without_counterfeit(row) for row in demo_validation_rows],
    )
    settings = Settings(
        bundle=demo_bundle, shadow_bundle=other, database_url=f"sqlite:///{tmp_path / 'lg.db'}"
    )
    with pytest.raises(BundleError, match="a shadow must score the champion's labels"):
        load_state(settings)


def test_a_failing_shadow_never_fails_the_champions_decision(
    demo_bundle: Path, second_bundle: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from models.policy import default_policy
    from serving.scoring import decide_listings

    champion, shadow = BundleScorer(demo_bundle), BundleScorer(second_bundle)

    def broken(listings: list[Listing]) -> list[object]:
        raise RuntimeError("the challenger's graph fails on this input")

    monkeypatch.setattr(shadow, "score", broken)  # fault injection: the challenger breaks
    listings = [Listing.model_validate(item) for item in LISTINGS[:2]]
    policy = default_policy(champion.card.taxonomy)
    decided = decide_listings(
        listings, scorer=champion, policy=policy, request_id="r-1", shadow=shadow
    )
    alone = decide_listings(listings, scorer=champion, policy=policy, request_id="r-1")
    assert [d.shadow for d in decided] == [None, None]
    assert [d.scores for d in decided] == [d.scores for d in alone]
