"""Seller-grouped, seeded, deterministic splits with rare labels spread proportionally.

All listings of one seller land in the same split, so a model is never scored on a seller it saw
in training. A row without a seller id is a group of its own. Groups holding positives of a rare
label (fraud, counterfeit: a few sellers carry most of them) are placed first so that each split
gets its share of those labels (:mod:`data.split_balance`); the remaining groups then fill the row
fractions. Visiting orders come from a hash of the seed and the group key, so the result does not
depend on the order of the input rows.
"""

import hashlib
import math
from collections import Counter
from collections.abc import Mapping, Sequence

from data.schema import LabeledListing
from data.split_balance import place_rare_groups
from data.taxonomy import Taxonomy


def split_by_seller(
    rows: Sequence[LabeledListing],
    *,
    fractions: Mapping[str, float],
    seed: int,
    stratify_labels: Sequence[str] | None = None,
) -> dict[str, list[LabeledListing]]:
    """Rows split by seller into ``fractions`` (e.g. ``{"fit": 0.8, "calibration": 0.2}``).

    Sellers with positives of ``stratify_labels`` are spread first (default: every label the rows
    carry; :func:`stratify_labels_of` gives training's choice). Each split's rows come sorted by
    listing id; every split named in ``fractions`` is present, possibly empty.
    """
    _check_fractions(fractions)
    carried = sorted({label for row in rows for label in row.labels.values})
    if stratify_labels is None:
        stratify_labels = carried
    unknown = [label for label in stratify_labels if label not in carried]
    if unknown:
        raise ValueError(f"stratify_labels: unknown label(s) {unknown}; the rows carry {carried}")
    groups = group_by_seller(rows)
    assignment = _assign_groups(groups, fractions, seed, stratify_labels)
    splits: dict[str, list[LabeledListing]] = {name: [] for name in fractions}
    for key, group in groups.items():
        splits[assignment[key]].extend(group)
    for split_rows in splits.values():
        split_rows.sort(key=lambda row: row.listing.listing_id)
    return splits


def stratify_labels_of(taxonomy: Taxonomy) -> tuple[str, ...]:
    """The labels training spreads evenly over its splits: all but the category label, whose
    categories make it common (in the default taxonomy, ``regulated``)."""
    return tuple(label for label in taxonomy.label_names if label != taxonomy.category_label)


def group_key(row: LabeledListing) -> str:
    """The seller a row belongs to; a row without seller id is its own group."""
    seller = row.listing.seller_id
    return f"seller:{seller}" if seller is not None else f"listing:{row.listing.listing_id}"


def group_by_seller(rows: Sequence[LabeledListing]) -> dict[str, list[LabeledListing]]:
    """Rows by :func:`group_key`."""
    groups: dict[str, list[LabeledListing]] = {}
    for row in rows:
        groups.setdefault(group_key(row), []).append(row)
    return groups


def _check_fractions(fractions: Mapping[str, float]) -> None:
    if not fractions:
        raise ValueError("fractions: name at least one split")
    for name, fraction in fractions.items():
        if not name or not 0 < fraction <= 1:
            raise ValueError(
                f"fractions: {name!r} must be a named fraction in (0, 1], got {fraction}"
            )
    total = sum(fractions.values())
    if not math.isclose(total, 1.0, abs_tol=1e-6):
        raise ValueError(f"fractions: must sum to 1, got {total} from {dict(fractions)}")


def _assign_groups(
    groups: Mapping[str, list[LabeledListing]],
    fractions: Mapping[str, float],
    seed: int,
    stratify_labels: Sequence[str],
) -> dict[str, str]:
    """Split name per group key: groups with rare positives first, then the rest by rows."""
    counts = {key: _counts(group) for key, group in groups.items()}
    rare = [label for label in stratify_labels if any(c[label] for c in counts.values())]
    rare_counts = {key: c for key, c in counts.items() if any(c[label] for label in rare)}
    assignment = place_rare_groups(rare_counts, fractions, rare, seed)
    placed: dict[str, Counter[str]] = {name: Counter() for name in fractions}
    for key, split in assignment.items():
        placed[split] += counts[key]
    others = sorted(set(counts) - set(assignment), key=lambda key: _visit_order(seed, key))
    for key in others:
        assignment[key] = _furthest_behind(placed, fractions, "rows")
        placed[assignment[key]] += counts[key]
    return assignment


def _counts(group: list[LabeledListing]) -> Counter[str]:
    """Positives per label in a group, and its number of ``rows``."""
    counts = Counter(
        label for row in group for label, value in row.labels.values.items() if value == 1
    )
    counts["rows"] = len(group)
    return counts


def _furthest_behind(
    placed: Mapping[str, Counter[str]], fractions: Mapping[str, float], measure: str
) -> str:
    """The split furthest short of its share of ``measure`` so far.

    The size of the group about to be placed plays no part on purpose: otherwise large groups
    (say, catalogue pseudo-sellers) would favour the largest split and skew its source mix.
    """
    total = sum(counts[measure] for counts in placed.values())
    return max(fractions, key=lambda name: fractions[name] * total - placed[name][measure])


def _visit_order(seed: int, key: str) -> bytes:
    """A seeded position for a group that no other group's presence or order can change."""
    return hashlib.blake2b(f"{seed}\x00{key}".encode(), digest_size=16).digest()
