"""GET /metrics: the Prometheus exposition parsed as a scraper reads it, on both databases."""

from typing import Any

from fastapi.testclient import TestClient
from prometheus_client.parser import text_string_to_metric_families

from serving.metrics import QueueFigures, ServiceMetrics
from tests.serving.http_checks import as_
from tests.serving.test_review_api import TOBACCO


def scrape(client: TestClient) -> dict[str, list[Any]]:
    """Samples by metric family name (a scrape carries no API key)."""
    response = client.get("/metrics", headers={"Authorization": ""})
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("text/plain; version=0.0.4")
    return {family.name: family.samples for family in text_string_to_metric_families(response.text)}


def value(samples: dict[str, list[Any]], family: str, sample: str, **labels: str) -> float:
    found = [
        s.value
        for s in samples.get(family, [])
        if s.name == sample and all(s.labels.get(k) == v for k, v in labels.items())
    ]
    return float(sum(found))


def test_scoring_moves_the_request_decision_and_score_series(client: TestClient) -> None:
    before = scrape(client)
    listings = [
        {"listing_id": "m-1", "title": "ceramic mug, blue", "price": 12.0},
        {"listing_id": "m-2", "title": "replica rolex watch aaa quality", "price": 25.0},
    ]
    decisions = [client.post("/v1/score", json=listing).json() for listing in listings]
    replay = client.post("/v1/score", json=listings[0]).json()
    assert replay["replayed"] is True
    assert client.get("/v1/decisions/nope").status_code == 404
    after = scrape(client)

    requests = "listingguard_http_requests"
    scored = value(after, requests, f"{requests}_total", route="/v1/score", status="200")
    assert scored - value(before, requests, f"{requests}_total", route="/v1/score") == 3
    # Routes are templates, never raw paths: the id is not a series of its own.
    assert (
        value(
            after, requests, f"{requests}_total", route="/v1/decisions/{decision_id}", status="404"
        )
        == 1
    )
    latency = "listingguard_http_request_duration_seconds"
    assert value(after, latency, f"{latency}_count", route="/v1/score", method="POST") == 3

    actions = [d["action"] for d in decisions]
    for action in set(actions):
        fresh = value(after, "listingguard_decisions", "listingguard_decisions_total",
                      action=action, replayed="false")  # fmt: skip
        assert fresh == actions.count(action)
    assert (
        value(after, "listingguard_decisions", "listingguard_decisions_total", replayed="true") == 1
    )
    for label, score in decisions[1]["labels"].items():
        # Fresh decisions only: the replay is not observed a second time.
        assert value(after, "listingguard_score", "listingguard_score_count", label=label) == 2
        assert value(
            after, "listingguard_label_bands", "listingguard_label_bands_total",
            label=label, band=score["band"],
        ) >= 1  # fmt: skip
        below = [d["labels"][label]["probability"] <= 0.5 for d in decisions]
        assert value(
            after, "listingguard_score", "listingguard_score_bucket", label=label, le="0.5"
        ) == sum(below)


def test_the_queue_and_versions_are_read_at_scrape_time(
    client: TestClient, keys: dict[str, str]
) -> None:
    first = scrape(client)
    queued = "listingguard_work_items_active"
    open_reviews = value(first, queued, queued, kind="review", status="open")
    decision = client.post("/v1/score", json=TOBACCO).json()
    assert decision["action"] == "review" and decision["review_item_id"], decision
    samples = scrape(client)
    assert value(samples, queued, queued, kind="review", status="open") == open_reviews + 1
    claimed = client.post("/v1/queue/claim", json={"kind": "review"}, headers=as_(keys["ana"]))
    assert claimed.status_code == 200
    again = scrape(client)
    assert value(again, queued, queued, kind="review", status="claimed") == 1
    assert value(again, queued, queued, kind="review", status="open") == open_reviews
    oldest = "listingguard_work_items_oldest_open_age_seconds"
    assert value(samples, oldest, oldest, kind="review") >= 0.0
    assert value(samples, "listingguard_work_items_read_ok", "listingguard_work_items_read_ok") == 1
    (model,) = samples["listingguard_model_info"]
    assert model.value == 1 and model.labels["model_id"] == decision["model_version"]
    assert model.labels["threshold_set_id"] == decision["threshold_set_id"]
    (policy,) = samples["listingguard_policy_info"]
    assert policy.labels["version"] == decision["policy_version"]


def test_a_scrape_the_database_misses_keeps_the_queue_figures_and_says_so() -> None:
    metrics = ServiceMetrics()
    metrics.exposition(QueueFigures({("review", "open"): 7}, {"review": 90.0}))
    text = metrics.exposition(None).decode()
    assert 'listingguard_work_items_active{kind="review",status="open"} 7.0' in text
    assert 'listingguard_work_items_oldest_open_age_seconds{kind="review"} 90.0' in text
    assert "listingguard_work_items_read_ok 0.0" in text
