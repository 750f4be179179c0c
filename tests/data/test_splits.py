"""Seller-grouped splits: partition, no shared seller, order-free, rare labels spread."""

import random

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from data.schema import LabeledListing
from data.splits import group_key, split_by_seller
from tests.data.factories import make_row

TWO_WAY = {"fit": 0.8, "calibration": 0.2}
THREE_WAY = {"train": 0.6, "validation": 0.2, "test": 0.2}

row_specs = st.lists(
    st.tuples(
        st.one_of(st.none(), st.integers(min_value=0, max_value=15)),
        st.integers(min_value=0, max_value=1),
        st.integers(min_value=0, max_value=1),
    ),
    min_size=1,
    max_size=120,
)


def _rows(specs: list[tuple[int | None, int, int]]) -> list[LabeledListing]:
    return [
        make_row(
            f"row-{index:04d}",
            seller_id=None if seller is None else f"seller-{seller}",
            fraud=fraud,
            counterfeit=counterfeit,
        )
        for index, (seller, fraud, counterfeit) in enumerate(specs)
    ]


def _ids(splits: dict[str, list[LabeledListing]]) -> dict[str, list[str]]:
    return {name: [row.listing.listing_id for row in rows] for name, rows in splits.items()}


@settings(deadline=None, max_examples=60)
@given(specs=row_specs, seed=st.integers(min_value=0, max_value=2**32), three_way=st.booleans())
def test_partition_without_shared_sellers(
    specs: list[tuple[int | None, int, int]], seed: int, three_way: bool
) -> None:
    rows = _rows(specs)
    fractions = THREE_WAY if three_way else TWO_WAY
    splits = split_by_seller(rows, fractions=fractions, seed=seed)
    assert list(splits) == list(fractions)
    all_ids = sorted(listing_id for ids in _ids(splits).values() for listing_id in ids)
    assert all_ids == sorted(row.listing.listing_id for row in rows)
    owners: dict[str, str] = {}
    for name, split_rows in splits.items():
        for row in split_rows:
            assert owners.setdefault(group_key(row), name) == name


@settings(deadline=None, max_examples=40)
@given(specs=row_specs, seed=st.integers(min_value=0, max_value=1000), shuffle_seed=st.integers())
def test_result_does_not_depend_on_row_order(
    specs: list[tuple[int | None, int, int]], seed: int, shuffle_seed: int
) -> None:
    rows = _rows(specs)
    shuffled = list(rows)
    random.Random(shuffle_seed).shuffle(shuffled)
    first = split_by_seller(rows, fractions=THREE_WAY, seed=seed)
    assert _ids(first) == _ids(split_by_seller(shuffled, fractions=THREE_WAY, seed=seed))
    for split_rows in first.values():
        ids = [row.listing.listing_id for row in split_rows]
        assert ids == sorted(ids)


@settings(deadline=None, max_examples=60)
@given(specs=row_specs, seed=st.integers(min_value=0, max_value=1000))
def test_rare_label_share_is_within_one_group_of_its_target(
    specs: list[tuple[int | None, int, int]], seed: int
) -> None:
    rows = _rows(specs)
    splits = split_by_seller(rows, fractions=TWO_WAY, seed=seed, stratify_labels=("fraud",))
    per_group: dict[str, int] = {}
    for row in rows:
        per_group[group_key(row)] = per_group.get(group_key(row), 0) + (
            row.labels.value("fraud") or 0
        )
    largest_group = max(per_group.values())
    total = sum(per_group.values())
    for name, split_rows in splits.items():
        placed = sum(row.labels.value("fraud") or 0 for row in split_rows)
        assert abs(placed - TWO_WAY[name] * total) <= largest_group + 1e-9


def test_seed_changes_the_split_and_is_deterministic() -> None:
    rows = _rows([(None, 0, 0)] * 200)
    first = _ids(split_by_seller(rows, fractions=TWO_WAY, seed=1))
    assert first == _ids(split_by_seller(rows, fractions=TWO_WAY, seed=1))
    assert first != _ids(split_by_seller(rows, fractions=TWO_WAY, seed=2))


def test_rows_without_seller_fill_the_row_fractions() -> None:
    splits = split_by_seller(_rows([(None, 0, 0)] * 1000), fractions=TWO_WAY, seed=0)
    assert (len(splits["fit"]), len(splits["calibration"])) == (800, 200)


def test_few_fraud_sellers_are_spread_across_splits() -> None:
    # Ten fraud sellers with 1..10 fraud listings each, among 300 clean single-listing rows.
    specs: list[tuple[int | None, int, int]] = [(None, 0, 0)] * 300
    for seller in range(10):
        specs += [(seller, 1, 0)] * (seller + 1)
    splits = split_by_seller(_rows(specs), fractions=TWO_WAY, seed=3)
    fraud = {
        name: sum(row.labels.value("fraud") or 0 for row in rows) for name, rows in splits.items()
    }
    assert fraud == {"fit": 44, "calibration": 11}


@pytest.mark.parametrize(
    ("fractions", "message"),
    [
        ({}, "at least one split"),
        ({"fit": 0.7, "calibration": 0.2}, "must sum to 1"),
        ({"fit": 1.2, "calibration": -0.2}, "'fit' must be a named fraction"),
    ],
)
def test_bad_fractions_are_refused(fractions: dict[str, float], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        split_by_seller(_rows([(None, 0, 0)]), fractions=fractions, seed=0)


def test_unknown_stratify_label_is_refused() -> None:
    with pytest.raises(ValueError, match="unknown label"):
        split_by_seller(_rows([(None, 0, 0)]), fractions=TWO_WAY, seed=0, stratify_labels=("x",))
