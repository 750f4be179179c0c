"""Placing the seller groups that hold rare positives so each split gets its share of them.

In marketplace-risk-v1 a handful of sellers hold most fraud and counterfeit listings, and some
hold both. A single greedy pass cannot undo an early choice, so placement runs several greedy
passes (the first largest group first, the others in seeded random orders), improves each by
moving or swapping the largest groups while that lowers :func:`share_error`, and keeps the best.
"""

import hashlib
import itertools
from collections import Counter
from collections.abc import Iterator, Mapping, Sequence

RESTARTS = 32
LOCAL_SEARCH_GROUPS = 48
"""Largest groups whose greedy placement is then improved by moves and swaps (quadratic)."""

Placement = dict[str, str]
Change = tuple[tuple[str, str, str], ...]
"""Group moves ``(key, from split, to split)`` applied together: one for a move, two for a swap."""


def place_rare_groups(
    counts: Mapping[str, Counter[str]],
    fractions: Mapping[str, float],
    labels: Sequence[str],
    seed: int,
) -> Placement:
    """Split name per group key, for groups given as counts of positives per label.

    ``labels`` are the rare labels to balance; every group in ``counts`` holds some of them.
    """
    best: tuple[float, Placement] | None = None
    for restart in range(RESTARTS):
        order = _visit_order(counts, labels, seed, restart)
        placement, placed = _greedy(order, counts, fractions, labels)
        error = _improve(order[:LOCAL_SEARCH_GROUPS], placement, placed, counts, fractions, labels)
        if best is None or error < best[0] - 1e-12:
            best = (error, placement)
    return best[1] if best is not None else {}


def share_error(
    placed: Mapping[str, Counter[str]], fractions: Mapping[str, float], labels: Sequence[str]
) -> float:
    """Sum over labels of how far splits are from their fractions, relative to the label total."""
    error = 0.0
    for label in labels:
        total = sum(counts[label] for counts in placed.values())
        if total:
            deviation = sum(abs(fractions[n] * total - placed[n][label]) for n in fractions)
            error += deviation / total
    return error


def _visit_order(
    counts: Mapping[str, Counter[str]], labels: Sequence[str], seed: int, restart: int
) -> list[str]:
    """Largest share first on the first pass; a seeded shuffle on the others."""
    totals = {label: sum(group[label] for group in counts.values()) for label in labels}

    def share(key: str) -> float:
        return sum(counts[key][label] / totals[label] for label in labels if totals[label])

    def shuffled(key: str) -> bytes:
        return hashlib.blake2b(f"{seed}\x00{restart}\x00{key}".encode(), digest_size=16).digest()

    by_size = sorted(counts, key=lambda key: (-share(key), shuffled(key)))
    return by_size if restart == 0 else sorted(counts, key=shuffled)


def _greedy(
    order: Sequence[str],
    counts: Mapping[str, Counter[str]],
    fractions: Mapping[str, float],
    labels: Sequence[str],
) -> tuple[Placement, dict[str, Counter[str]]]:
    placement: Placement = {}
    placed: dict[str, Counter[str]] = {name: Counter() for name in fractions}
    for key in order:

        def error_if_placed_in(split: str, key: str = key) -> float:
            placed[split] += counts[key]
            error = share_error(placed, fractions, labels)
            placed[split] -= counts[key]
            return error

        placement[key] = min(fractions, key=error_if_placed_in)
        placed[placement[key]] += counts[key]
    return placement, placed


def _improve(
    keys: Sequence[str],
    placement: Placement,
    placed: dict[str, Counter[str]],
    counts: Mapping[str, Counter[str]],
    fractions: Mapping[str, float],
    labels: Sequence[str],
) -> float:
    """First-improvement local search; every accepted change lowers the error, so it ends."""
    error = share_error(placed, fractions, labels)
    improved = True
    while improved:
        improved = False
        for change in _candidate_changes(keys, placement, fractions):
            _apply(change, placement, placed, counts)
            changed_error = share_error(placed, fractions, labels)
            if changed_error < error - 1e-12:
                error, improved = changed_error, True
                break
            _apply(_undo(change), placement, placed, counts)
    return error


def _candidate_changes(
    keys: Sequence[str], placement: Placement, fractions: Mapping[str, float]
) -> Iterator[Change]:
    for key in keys:
        for split in fractions:
            if split != placement[key]:
                yield ((key, placement[key], split),)
    for first, second in itertools.combinations(keys, 2):
        if placement[first] != placement[second]:
            yield (
                (first, placement[first], placement[second]),
                (second, placement[second], placement[first]),
            )


def _apply(
    change: Change,
    placement: Placement,
    placed: dict[str, Counter[str]],
    counts: Mapping[str, Counter[str]],
) -> None:
    for key, source, target in change:
        placed[source] -= counts[key]
        placed[target] += counts[key]
        placement[key] = target


def _undo(change: Change) -> Change:
    return tuple((key, target, source) for key, source, target in reversed(change))
