"""The shipped mappings on the real shared datasets (skipped where the data is absent)."""

from collections import Counter
from pathlib import Path

import pytest

from data.loaders import LoadResult, load_labeled
from data.mapping import load_mapping, resolve_mapping_path
from data.schema import Listing
from data.splits import split_by_seller, stratify_labels_of
from data.validation import validate_dataset


@pytest.fixture(scope="module")
def marketplace_train(marketplace_dir: Path) -> LoadResult:
    mapping = load_mapping(resolve_mapping_path("marketplace-risk-v1"))
    return load_labeled(marketplace_dir / "train.jsonl", mapping)


def test_sms_spam_collection_reads_every_message(sms_spam_file: Path) -> None:
    mapping = load_mapping(resolve_mapping_path("sms-spam-collection"))
    result = load_labeled(sms_spam_file, mapping)
    assert result.source_rows == len(result.rows) == 5_574
    assert result.problems == []
    assert Counter(row.labels.value("fraud") for row in result.rows) == {0: 4_827, 1: 747}
    assert {
        (row.labels.value("counterfeit"), row.labels.value("regulated")) for row in result.rows
    } == {(None, None)}
    assert sum(row.listing.title.startswith('"') for row in result.rows) == 54


def test_marketplace_train_matches_the_readme(marketplace_train: LoadResult) -> None:
    assert marketplace_train.source_rows == len(marketplace_train.rows) == 46_004
    balance = {b.label: b for b in validate_dataset(marketplace_train).label_balance}
    assert balance["fraud"].positives == 282
    assert balance["counterfeit"].positives == 248
    assert balance["regulated"].positives == 6_758
    assert {b.unknown for b in balance.values()} == {0}


def test_marketplace_slices_stay_out_of_listings(marketplace_train: LoadResult) -> None:
    sources = Counter(row.slices["source"] for row in marketplace_train.rows)
    assert set(sources) == {"agora-2014", "instacart-2017", "amazon-in-2023"}
    assert "source" not in Listing.model_fields and "source_category" not in Listing.model_fields
    for row in marketplace_train.rows[:2_000]:
        assert row.listing.category is None
        assert row.slices["source_category"] not in row.listing.attributes.values()


def test_marketplace_seller_split_spreads_rare_labels(marketplace_train: LoadResult) -> None:
    splits = split_by_seller(
        marketplace_train.rows,
        fractions={"fit": 0.8, "calibration": 0.2},
        seed=0,
        stratify_labels=stratify_labels_of(marketplace_train.mapping.taxonomy),
    )
    calibration = splits["calibration"]
    sellers = [{row.listing.seller_id for row in rows} for rows in splits.values()]
    assert not sellers[0] & sellers[1]
    assert 0.18 < len(calibration) / len(marketplace_train.rows) < 0.22
    for label, total in (("fraud", 282), ("counterfeit", 248)):
        share = sum(row.labels.value(label) == 1 for row in calibration) / total
        assert 0.15 < share < 0.25, (label, share)
