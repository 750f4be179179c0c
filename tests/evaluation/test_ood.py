"""The out-of-distribution set: its shape, its independence from training data, its report."""

from collections import Counter
from pathlib import Path

from data.demo import generate_demo_listings
from data.taxonomy import default_taxonomy
from evaluation.ood import applies_to, load_ood, ood_check
from models.policy import default_policy
from models.scorer import BundleScorer


def test_the_set_has_100_listings_across_10_groups_everyday_and_risky() -> None:
    items = load_ood()
    groups = Counter(item.group for item in items)
    assert len(items) >= 100 and len(groups) >= 10
    expected = Counter(item.expected_action for item in items)
    assert expected["allow"] >= 50 and expected["block"] >= 25 and expected["review"] >= 5
    assert len({item.listing.listing_id for item in items}) == len(items)


def test_no_listing_of_the_set_appears_in_the_demo_training_data() -> None:
    titles = {item.listing.title.casefold() for item in load_ood()}
    demo = {row.listing.title.casefold() for row in generate_demo_listings(n=3000, seed=1)}
    assert not titles & demo


def test_the_check_counts_agreement_per_group_and_lists_each_disagreement(
    demo_bundle: Path,
) -> None:
    scorer = BundleScorer(demo_bundle)
    assert applies_to(scorer)
    items = load_ood()
    result = ood_check(scorer, default_policy(default_taxonomy()), items)
    assert result["n"] == len(items) == sum(group["n"] for group in result["groups"].values())
    agreeing = round(result["agreement"] * result["n"])
    assert len(result["disagreements"]) == result["n"] - agreeing
    for item in result["disagreements"]:
        assert item["expected"] != item["got"]
    false_blocks = sum(
        1 for d in result["disagreements"] if d["expected"] == "allow" and d["got"] == "block"
    )
    assert false_blocks == result["false_blocks"]
