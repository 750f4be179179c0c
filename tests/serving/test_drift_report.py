"""Drift of inputs and scores between two windows of real decisions (SQLite and PostgreSQL)."""

from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import update

from serving.settings import Settings
from serving.tables import DecisionRecord, utc_now
from tests.serving.http_checks import as_, keys_of, open_client
from tests.serving.test_console import _sign_in

N = 240


@pytest.fixture
def drifted(demo_bundle: Path, database_url: str) -> Iterator[TestClient]:
    """Yesterday-and-before: cheap mugs; today: the same mugs at a hundred times the price."""
    with open_client(Settings(bundle=demo_bundle, database_url=database_url)) as client:
        for window, price in (("ref", 12.0), ("cur", 1200.0)):
            for start in range(0, N, 120):
                listings = [
                    {"listing_id": f"{window}-{i}", "title": f"ceramic mug {i % 7} blue",
                     "price": price + i % 5, "market": "US" if i % 3 else "DE"}
                    for i in range(start, start + 120)
                ]  # fmt: skip
                answer = client.post("/v1/score/batch", json={"listings": listings})
                assert answer.status_code == 200, answer.text
            if window == "ref":
                factory = client.app.state.service.session_factory  # type: ignore[attr-defined]
                with factory.begin() as session:
                    session.execute(
                        update(DecisionRecord).values(created_at=utc_now() - timedelta(days=3))
                    )
        yield client


def test_a_price_shift_alerts_where_the_counts_allow(drifted: TestClient) -> None:
    qa = as_(keys_of(drifted)["quinn"])
    body = drifted.get("/v1/reports/drift", params={"min_count": 100}, headers=qa).json()
    assert body["reference"]["decisions"] == N and body["current"]["decisions"] == N
    everything = {check["feature"]: check for check in body["segments"]["all markets"]}
    assert everything["price"]["alert"] and everything["price"]["psi"] > 1.0
    assert not everything["text length"]["alert"] and not everything["market"]["alert"]
    assert everything["price"]["threshold"] >= 0.1
    assert {"segment": "all markets", "feature": "price", "psi": everything["price"]["psi"]} in (
        body["alerts"]
    )
    # US has 160 decisions per side, DE 80: only US is judged on its own at 100.
    assert set(body["segments"]) == {"all markets", "US"}
    strict = drifted.get("/v1/reports/drift", params={"min_count": 500}, headers=qa).json()
    assert strict["alerts"] == [] and all(
        check["psi"] is None for check in strict["segments"]["all markets"]
    )
    page = drifted.get("/v1/reports/drift", params={"format": "html", "min_count": 100}, headers=qa)
    assert "drift alert" in page.text and 'class="drift"' in page.text
    assert drifted.get("/v1/reports/drift", headers=as_(keys_of(drifted)["ana"])).status_code == 403


def test_the_kpi_page_shows_the_drift_section(drifted: TestClient) -> None:
    _sign_in(drifted, keys_of(drifted)["quinn"])
    page = drifted.get("/console/kpi")
    assert page.status_code == 200
    # The page judges at 200 decisions per side: the price shift of all markets alerts.
    assert 'id="drift-alerts" class="error"' in page.text and "all markets · price" in page.text


def test_the_cli_writes_the_drift_and_shadow_reports(
    demo_bundle: Path, sqlite_url: str, tmp_path: Path
) -> None:
    from click.testing import CliRunner

    from serving.cli import main

    with open_client(Settings(bundle=demo_bundle, database_url=sqlite_url)) as client:
        client.post("/v1/score", json={"listing_id": "cli-1", "title": "ceramic mug"})
    runner = CliRunner()
    common = ["--bundle", str(demo_bundle), "--database-url", sqlite_url]
    drift = runner.invoke(main, [*common, "drift-report", "--out-dir", str(tmp_path / "d")])
    assert drift.exit_code == 0, drift.output
    assert "0 alerts" in drift.output and (tmp_path / "d" / "drift.html").is_file()
    shadow = runner.invoke(main, [*common, "shadow-report", "--out-dir", str(tmp_path / "s")])
    assert shadow.exit_code == 0, shadow.output
    assert "0 decisions scored in shadow" in shadow.output
    assert (tmp_path / "s" / "shadow.json").is_file()


def test_scores_of_another_model_are_not_read_as_drift(drifted: TestClient) -> None:
    factory = drifted.app.state.service.session_factory  # type: ignore[attr-defined]
    with factory.begin() as session:
        session.execute(
            update(DecisionRecord)
            .where(DecisionRecord.listing_id.like("ref-%"))
            .values(model_version="the-previous-champion")
        )
    qa = as_(keys_of(drifted)["quinn"])
    body = drifted.get("/v1/reports/drift", params={"min_count": 100}, headers=qa).json()
    checks = {check["feature"]: check for check in body["segments"]["all markets"]}
    for name, check in checks.items():
        if name.startswith("score: "):
            assert check["psi"] is None and check["n_reference"] == 0, check
    assert checks["price"]["alert"], "inputs are compared whatever model scored them"
