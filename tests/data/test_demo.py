"""The demo generator: deterministic, covers every risk, and reads back through its mapping."""

import string
import time
from collections import Counter, defaultdict
from pathlib import Path

import pytest

from data.demo import SCENARIOS, SELLER_PROFILES, generate_demo_listings, write_demo_dataset
from data.demo_vocab import VOCABULARY
from data.loaders import load_labeled
from data.mapping import load_mapping, resolve_mapping_path
from data.schema import LabeledListing
from data.taxonomy import default_taxonomy

TAXONOMY = default_taxonomy()


@pytest.fixture(scope="module")
def demo_rows() -> list[LabeledListing]:
    return generate_demo_listings(3000, seed=0)


def test_same_seed_same_rows_other_seed_other_rows(demo_rows: list[LabeledListing]) -> None:
    assert generate_demo_listings(3000, seed=0) == demo_rows
    assert generate_demo_listings(3000, seed=1) != demo_rows
    assert len({row.listing.listing_id for row in demo_rows}) == 3000


def test_generation_is_fast() -> None:
    started = time.perf_counter()
    generate_demo_listings(3000, seed=5)
    assert time.perf_counter() - started < 2.0  # well under a second on a laptop; slack for CI


def test_every_label_and_category_occurs(demo_rows: list[LabeledListing]) -> None:
    for label in TAXONOMY.label_names:
        positives = sum(row.labels.value(label) == 1 for row in demo_rows)
        assert 0.02 < positives / len(demo_rows) < 0.25, label
        assert all(row.labels.value(label) is not None for row in demo_rows)
    categories = Counter(row.labels.category for row in demo_rows)
    assert set(TAXONOMY.categories) <= set(categories)


def test_scenarios_cover_the_risks_and_hard_negatives(demo_rows: list[LabeledListing]) -> None:
    scenarios = {row.slices["scenario"] for row in demo_rows}
    for expected in (
        "fraud/gift_card_scam",
        "fraud/account_sale",
        "fraud/carding",
        "fraud/fake_documents",
        "counterfeit/replica_watch",
        "counterfeit/replica_bag",
        "counterfeit/pirated_software",
        "hard_negative/genuine_watch",
        "hard_negative/software_licence",
        "hard_negative/kitchen_knives",
    ):
        assert expected in scenarios


def test_markets_currencies_sellers_and_text(demo_rows: list[LabeledListing]) -> None:
    assert {"US", "GB", "DE", "IN"} <= {row.listing.market for row in demo_rows}
    assert {"USD", "GBP", "EUR", "INR"} <= {row.listing.currency for row in demo_rows}
    assert len({row.listing.seller_id for row in demo_rows}) > 150
    assert all(row.listing.description for row in demo_rows)
    assert all("{" not in row.listing.title + row.listing.description for row in demo_rows)
    assert 0 < sum(row.listing.price is None for row in demo_rows) < 300


def test_some_sellers_are_mostly_bad(demo_rows: list[LabeledListing]) -> None:
    by_seller: dict[str | None, list[LabeledListing]] = defaultdict(list)
    for row in demo_rows:
        by_seller[row.listing.seller_id].append(row)
    bad_sellers = [
        seller
        for seller, rows in by_seller.items()
        if len(rows) >= 5 and sum(row.labels.value("fraud") == 1 for row in rows) / len(rows) > 0.6
    ]
    assert bad_sellers


def test_some_labels_are_flipped_mostly_as_missed_violations(
    demo_rows: list[LabeledListing],
) -> None:
    flipped = [row for row in demo_rows if row.slices["label_noise"] != "none"]
    assert 0.005 < len(flipped) / len(demo_rows) < 0.05
    missed = [row for row in flipped if row.labels.value(row.slices["label_noise"][8:]) == 0]
    assert len(missed) > len(flipped) / 2
    for row in flipped:
        label = row.slices["label_noise"].removeprefix("flipped_")
        scenario = SCENARIOS[row.slices["scenario"]]
        expected = scenario.regulated if label == "regulated" else getattr(scenario, label)
        assert row.labels.value(label) == 1 - expected


def test_written_file_reads_back_identically_with_the_demo_mapping(tmp_path: Path) -> None:
    path = write_demo_dataset(tmp_path / "out", n=400, seed=3)
    result = load_labeled(path, load_mapping(resolve_mapping_path("demo")))
    assert result.problems == []
    assert result.rows == generate_demo_listings(400, seed=3)
    assert (path.parent / "mapping.yaml").read_text() == resolve_mapping_path("demo").read_text()


def test_every_template_slot_has_vocabulary() -> None:
    fixed_per_listing = {"city", "handle"}
    for scenario in SCENARIOS.values():
        templates = scenario.titles + scenario.descriptions
        for template in templates + tuple(value for v in VOCABULARY.values() for value in v):
            for _, name, _, _ in string.Formatter().parse(template):
                if name is not None:
                    assert name in VOCABULARY or name in scenario.slots or name in fixed_per_listing


def test_seller_profiles_name_existing_scenarios() -> None:
    for share, weights in SELLER_PROFILES.values():
        assert 0 < share < 1
        assert set(weights) <= set(SCENARIOS)
    assert sum(share for share, _ in SELLER_PROFILES.values()) == pytest.approx(1.0)


def test_tiny_and_invalid_sizes() -> None:
    assert len(generate_demo_listings(1, seed=0)) == 1
    with pytest.raises(ValueError, match="at least 1"):
        generate_demo_listings(0)
