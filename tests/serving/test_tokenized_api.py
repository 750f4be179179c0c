"""The HTTP API on tokenized bundles: serving builds the scorer from the card and nothing else
in the service knows the family."""

from pathlib import Path

import pytest

from serving.settings import Settings
from tests.serving.http_checks import open_client

RISKY = {"listing_id": "tok-1", "title": "replica rolex watch aaa quality", "price": 25.0}
PHONE = {"listing_id": "tok-2", "title": "used iphone 12 64gb unlocked", "price": 310.0}


@pytest.mark.parametrize("family_bundle", ["transformer_bundle", "ensemble_bundle"])
def test_a_tokenized_bundle_is_served_like_any_other(
    family_bundle: str, request: pytest.FixtureRequest, sqlite_url: str
) -> None:
    bundle: Path = request.getfixturevalue(family_bundle)
    settings = Settings(bundle=bundle, database_url=sqlite_url)
    with open_client(settings) as client:
        assert client.get("/readyz").status_code == 200
        single = client.post("/v1/score", json=RISKY)
        assert single.status_code == 200, single.text
        body = single.json()
        assert set(body["labels"]) == {"fraud", "counterfeit", "regulated"}
        assert body["model_version"].startswith("listingguard-model-")
        assert any(label["reasons"] for label in body["labels"].values())
        again = {**RISKY, "listing_id": "tok-1b"}  # a new listing: scored, not replayed
        batch = client.post("/v1/score/batch", json={"listings": [again, PHONE]})
        assert batch.status_code == 200, batch.text
        results = batch.json()["results"]
        assert [item["listing_id"] for item in results] == ["tok-1b", "tok-2"]
        # The batch scores the same listing as the single call did (int8 runs alone).
        assert results[0]["labels"]["fraud"]["probability"] == pytest.approx(
            body["labels"]["fraud"]["probability"], abs=1e-9
        )
        schema = client.get("/openapi.json").json()
        assert "fraud" in str(schema["components"]["schemas"])
