"""A team's own taxonomy end to end: four labels (one renamed, one added, categories on another)
through ``listingguard train`` -> bundle -> the HTTP API -> ``listingguard evaluate``.

The data are generated here from word lists, so the labels are learnable from a few hundred rows.
"""

import csv
import json
import random
import re
from collections.abc import Iterator
from pathlib import Path

import pytest

from models.bundle import read_card
from serving.settings import Settings
from tests.cli_runs import invoke, listingguard_home
from tests.serving.http_checks import open_client

TAXONOMY = """\
name: shop-risks
labels:
  - name: scam
    description: advance-fee and gift-card scams
    enforce_action: block
  - name: counterfeit
    enforce_action: block
  - name: restricted
    enforce_action: review
    categories:
      weapons: {enforce_action: block}
      alcohol: {enforce_action: allow}
      tobacco: {enforce_action: review}
  - name: fake_review
    description: bought or swapped product reviews
    enforce_action: review
"""

MAPPING = """\
name: shop-risks-demo
taxonomy: taxonomy.yaml
listing: {listing_id: id, title: title, seller_id: seller, price: price}
labels:
  scam: scam
  counterfeit: counterfeit
  restricted: restricted
  restricted_category: {column: category, values: {rifle: weapons, vodka: alcohol, cigs: tobacco}}
  fake_review: fake_review
"""

# Small feature blocks keep the graph and the test fast (the default term group names
# counterfeit, a label this taxonomy keeps).
CONFIG = """\
features:
  title_word_buckets: 4096
  title_char_buckets: 4096
  description_buckets: 1024
"""
# A config written for the default taxonomy: it names fraud, which this team calls scam.
FRAUD_CONFIG = """\
features:
  term_groups:
    gift_card_words: {labels: [fraud], tokens: [gift, wire]}
"""

KINDS = {
    "benign": (["cotton", "kettle", "lamp", "desk", "mug", "scarf", "chair"], {}),
    "scam": (["gift", "card", "wire", "transfer", "advance", "fee", "winner"], {"scam": 1}),
    "counterfeit": (["replica", "aaa", "mirror", "copy", "1:1", "grade"], {"counterfeit": 1}),
    "rifle": (["rifle", "scope", "ammo", "caliber", "hunting"], {"restricted": 1}),
    "vodka": (["vodka", "bottle", "proof", "distilled", "liter"], {"restricted": 1}),
    "cigs": (["cigarettes", "carton", "menthol", "nicotine"], {"restricted": 1}),
    "fake_review": (["reviews", "five", "star", "rating", "boost", "buy"], {"fake_review": 1}),
}
LABELS = ("scam", "counterfeit", "restricted", "fake_review")


def write_rows(path: Path, n: int, seed: int) -> Path:
    rng = random.Random(seed)
    filler = ["new", "blue", "large", "set", "pack", "gift", "classic", "home"]
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(["id", "title", "seller", "price", *LABELS, "category"])
        for index in range(n):
            kind = rng.choice(list(KINDS)) if rng.random() < 0.6 else "benign"
            words, positives = KINDS[kind]
            title = " ".join(rng.sample(words, 3) + rng.sample(filler, 2))
            values = [positives.get(label, 0) for label in LABELS]
            category = kind if kind in ("rifle", "vodka", "cigs") else ""
            seller = f"{seed}-s{rng.randrange(80)}"
            price = round(rng.uniform(3, 300), 2)
            writer.writerow([f"{seed}-{index}", title, seller, price, *values, category])
    return path


@pytest.fixture(scope="module")
def team_dir(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """A team's folder (taxonomy, mapping, config, data) and LISTINGGUARD_HOME inside it."""
    folder = tmp_path_factory.mktemp("team")
    (folder / "taxonomy.yaml").write_text(TAXONOMY, encoding="utf-8")
    (folder / "mapping.yaml").write_text(MAPPING, encoding="utf-8")
    (folder / "config.yaml").write_text(CONFIG, encoding="utf-8")
    write_rows(folder / "train.csv", 900, seed=1)
    write_rows(folder / "validation.csv", 300, seed=2)
    with listingguard_home(folder / "var"):
        yield folder


@pytest.fixture(scope="module")
def trained(team_dir: Path) -> Path:
    """The bundle ``listingguard train`` wrote for the team's data."""
    result = invoke(
        "train",
        "--data", team_dir / "train.csv",
        "--mapping", team_dir / "mapping.yaml",
        "--config", team_dir / "config.yaml",
        "--validation", team_dir / "validation.csv",
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    run_id = re.search(r"^MLflow run ([0-9a-f]{32}) ", result.output, re.MULTILINE)
    assert run_id, result.output
    assert "registered listingguard-shop-risks-demo version 1" in result.output
    return team_dir / "var" / "runs" / run_id.group(1) / "bundle"


def test_data_validate_reports_the_taxonomy_labels(team_dir: Path) -> None:
    result = invoke(
        "data", "validate", team_dir / "train.csv", "--mapping", team_dir / "mapping.yaml"
    )
    assert result.exit_code == 0, result.output
    for label in LABELS:
        assert re.search(rf"^\s+{label}: \d+ / \d+ / 0 ", result.output, re.MULTILINE), (
            result.output
        )
    assert "restricted categories:" in result.output
    assert re.search(r"^\s+weapons: \d+$", result.output, re.MULTILINE), result.output


def test_a_config_naming_a_label_the_taxonomy_lacks_is_refused(team_dir: Path) -> None:
    (team_dir / "fraud-config.yaml").write_text(FRAUD_CONFIG, encoding="utf-8")
    result = invoke(
        "train",
        "--data", team_dir / "train.csv",
        "--mapping", team_dir / "mapping.yaml",
        "--config", team_dir / "fraud-config.yaml",
        "--no-register",
    )  # fmt: skip
    assert result.exit_code == 1, result.output
    assert "term_groups.gift_card_words.labels: unknown label(s) ['fraud']" in result.output
    assert "['scam', 'counterfeit', 'restricted', 'fake_review']" in result.output
    assert "Traceback" not in result.output


def test_the_card_carries_the_taxonomy(trained: Path) -> None:
    card = read_card(trained)
    assert card.taxonomy.name == "shop-risks"
    assert card.labels == list(LABELS)
    assert card.regulated_categories == ["weapons", "alcohol", "tobacco"]
    assert card.taxonomy.category_label == "restricted"


def test_serving_follows_the_taxonomy(trained: Path, tmp_path: Path) -> None:
    settings = Settings(bundle=trained, database_url=f"sqlite:///{tmp_path / 'lg.db'}")
    with open_client(settings) as client:
        schema = client.get("/openapi.json").json()["components"]["schemas"]
        scam = client.post(
            "/v1/score",
            json={"listing_id": "x1", "title": "gift card wire transfer winner", "seller_id": "n"},
        ).json()
        rifle = client.post(
            "/v1/score",
            json={"listing_id": "x2", "title": "hunting rifle scope ammo", "seller_id": "n"},
        ).json()
    labels = schema["DecisionOut"]["properties"]["labels"]
    assert labels["required"] == list(LABELS) and labels["additionalProperties"] is False
    assert schema["CategoryOut"]["properties"]["name"]["anyOf"][0]["enum"] == [
        "weapons", "alcohol", "tobacco",
    ]  # fmt: skip
    assert list(scam["labels"]) == list(LABELS)
    assert scam["policy_version"] == "shop-risks-v1"
    assert scam["labels"]["scam"]["probability"] > 0.5
    assert scam["action"] in ("block", "review")
    assert rifle["category"]["label"] == "restricted"
    assert rifle["labels"]["restricted"]["band"] != "allow", rifle
    assert rifle["category"]["name"] == "weapons", rifle


def test_evaluate_reports_every_label_of_the_taxonomy(trained: Path, team_dir: Path) -> None:
    out = team_dir / "evaluation"
    result = invoke(
        "evaluate",
        "--model", trained,
        "--data", team_dir / "validation.csv",
        "--mapping", team_dir / "mapping.yaml",
        "--resamples", "20",
        "--out", out,
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    report = json.loads((out / "report.json").read_text())
    assert list(report["labels"]) == list(LABELS)
    assert report["labels"]["fake_review"]["metrics"]["average_precision"]["estimate"] > 0.9
    assert report["settings"]["policy"] == "shop-risks-v1"
    assert report["figures"]["category_confusion"]["label"] == "restricted"
    assert "fake_review" in (out / "report.html").read_text()
