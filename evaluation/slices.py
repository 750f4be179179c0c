"""Slices: where a model does worse than on the whole, with seller-cluster bootstrap intervals.

Standard slices cut rows by the listing's ``category``, ``market``, price band and text length,
and by every slice-only column the mapping names (``LabeledListing.slices``, e.g. ``source``).
Per slice and label the report gives average precision (the flagging metric) and, where band
edges are given, the share of clean listings the model does not auto-allow and the share it
auto-enforces (what hard-negative slices are about).

Flagging rule, per label: a slice is *flagged* when the upper end of its average-precision
interval lies below the whole dataset's estimate. A slice with fewer than
:data:`MIN_POSITIVES_TO_FLAG` positives is shown but never flagged (its interval says too little),
and a slice without positives shows n/a. A label unknown on a slice's rows is left out, not
counted as 0.
"""

import math
import re
from collections import Counter
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass

import numpy as np

from data.schema import LabeledListing, Listing
from evaluation.bootstrap import Interval, bootstrap_many
from evaluation.inputs import FloatArray, IntArray
from evaluation.metrics import Statistic, average_precision
from evaluation.scored import BoolArray, ScoredRows
from models.thresholds import LabelThresholds

MIN_POSITIVES_TO_FLAG = 10
MAX_VALUES_PER_DIMENSION = 20
PRICE_DECADES = (10, 100, 1000)
TEXT_LENGTH_EDGES = (30, 60, 120)
MISSING_VALUE = "(none)"
WHOLE = "all rows"

FLAGGED, OK, FEW_POSITIVES, NOT_APPLICABLE = "flagged", "ok", "few positives", "n/a"


@dataclass(frozen=True, eq=False)
class SliceSpec:
    """A named subset of the rows: ``mask`` (n,) is True for the rows in the slice."""

    dimension: str
    value: str
    mask: BoolArray


@dataclass(frozen=True)
class SliceSet:
    """The slices to report, and how many small values of each dimension were left out."""

    slices: list[SliceSpec]
    left_out: dict[str, int]


@dataclass(frozen=True)
class LabelSlice:
    """One label on one slice; intervals are None where undefined (no positives, no negatives)."""

    n: int
    positives: int
    status: str
    average_precision: Interval | None
    negatives_not_allowed: Interval | None
    negatives_enforced: Interval | None


@dataclass(frozen=True)
class SliceResult:
    """One slice: its size, each known label's figures and the routed actions' shares."""

    dimension: str
    value: str
    n_rows: int
    n_sellers: int
    labels: dict[str, LabelSlice]
    actions: dict[str, float]


def price_band(listing: Listing) -> str:
    """``USD 10-99``-style decade bands in the listing's own currency; prices are not converted."""
    if listing.price is None:
        return "no price"
    for low, high in zip((0, *PRICE_DECADES), PRICE_DECADES, strict=False):
        if listing.price < high:
            return f"{listing.currency} {low}-{high - 1}"
    return f"{listing.currency} {PRICE_DECADES[-1]}+"


def text_length_band(listing: Listing) -> str:
    """Characters of title plus description, in bands."""
    length = len(listing.title) + len(listing.description)
    for low, high in zip((0, *TEXT_LENGTH_EDGES), TEXT_LENGTH_EDGES, strict=False):
        if length < high:
            return f"{low}-{high - 1} chars"
    return f"{TEXT_LENGTH_EDGES[-1]}+ chars"


STANDARD_DIMENSIONS: Mapping[str, Callable[[Listing], str]] = {
    "category": lambda listing: listing.category or MISSING_VALUE,
    "market": lambda listing: listing.market,
    "price band": price_band,
    "text length": text_length_band,
}


def standard_slices(
    rows: Sequence[LabeledListing], *, max_values: int = MAX_VALUES_PER_DIMENSION
) -> SliceSet:
    """Slices by the standard dimensions and every slice-only column of ``rows``.

    A dimension with a single value (the slice would be the whole) is skipped; of a dimension
    with more than ``max_values`` values only the largest are kept, and the rest are counted.
    """
    columns = sorted({key for row in rows for key in row.slices})
    dimensions: dict[str, list[str]] = {
        name: [describe(row.listing) for row in rows]
        for name, describe in STANDARD_DIMENSIONS.items()
    }
    for column in columns:
        dimensions[column] = [row.slices.get(column, MISSING_VALUE) for row in rows]
    slices: list[SliceSpec] = []
    left_out: dict[str, int] = {}
    for dimension, values in dimensions.items():
        counts = Counter(values)
        if len(counts) < 2:
            continue
        kept = [value for value, _ in counts.most_common(max_values)]
        if len(counts) > len(kept):
            left_out[dimension] = len(counts) - len(kept)
        array = np.array(values, dtype=object)
        slices += [
            SliceSpec(dimension, value, array == value) for value in sorted(kept, key=natural_order)
        ]
    return SliceSet(slices, left_out)


def natural_order(value: str) -> tuple[tuple[int, int | str], ...]:
    """Sort key reading digit runs as numbers, so ``30-59 chars`` comes before ``120+ chars``."""
    return tuple(
        (0, int(chunk)) if chunk.isdigit() else (1, chunk)
        for chunk in re.findall(r"\d+|\D+", value)
    )


def whole_slice(n: int) -> SliceSpec:
    return SliceSpec(WHOLE, WHOLE, np.ones(n, dtype=bool))


def slice_status(positives: int, interval: Interval | None, whole_estimate: float) -> str:
    """The flagging rule of the module docstring."""
    if positives == 0 or interval is None:
        return NOT_APPLICABLE
    if positives < MIN_POSITIVES_TO_FLAG:
        return FEW_POSITIVES
    return FLAGGED if interval.high < whole_estimate else OK


def evaluate_slices(
    scored: ScoredRows,
    slices: Sequence[SliceSpec],
    *,
    thresholds: Mapping[str, LabelThresholds] | None = None,
    actions: Sequence[str] | None = None,
    n_resamples: int = 1000,
    confidence: float = 0.95,
    seed: int = 0,
) -> list[SliceResult]:
    """Figures of every slice, the whole dataset first; ``actions`` (n,) are routed actions.

    Only labels the dataset carries are evaluated. Intervals resample sellers within the slice.
    """
    labels = scored.evaluated_labels()
    whole = {label: _whole_estimate(scored, label) for label in labels}
    results = []
    for spec in [whole_slice(scored.n), *slices]:
        figures = {}
        for label in labels:
            edges = thresholds.get(label) if thresholds is not None else None
            figure = _label_slice(
                scored, label, spec.mask, edges, whole[label], n_resamples, confidence, seed
            )
            if figure is not None:
                figures[label] = figure
        results.append(
            SliceResult(
                spec.dimension,
                spec.value,
                int(spec.mask.sum()),
                len(set(scored.groups[spec.mask].tolist())),
                figures,
                _action_shares(actions, spec.mask),
            )
        )
    return results


def _whole_estimate(scored: ScoredRows, label: str) -> float:
    data = scored.label_data(label)
    return average_precision(data.y_true, data.scores)


def _label_slice(
    scored: ScoredRows,
    label: str,
    mask: BoolArray,
    edges: LabelThresholds | None,
    whole_estimate: float,
    n_resamples: int,
    confidence: float,
    seed: int,
) -> LabelSlice | None:
    data = scored.label_data(label, mask)
    n = int(data.y_true.size)
    if n == 0:
        return None
    statistics: dict[str, Statistic] = {"ap": average_precision}
    if edges is not None:
        statistics["not_allowed"] = negatives_at_or_above(edges.allow)
        if edges.enforce is not None:
            statistics["enforced"] = negatives_at_or_above(edges.enforce)
    intervals = bootstrap_many(
        statistics,
        data.y_true,
        data.scores,
        groups=data.groups,
        n_resamples=n_resamples,
        confidence=confidence,
        seed=seed,
    )
    positives = data.positives
    ap = intervals["ap"] if positives else None
    return LabelSlice(
        n=n,
        positives=positives,
        status=slice_status(positives, ap, whole_estimate),
        average_precision=ap,
        negatives_not_allowed=_defined(intervals.get("not_allowed")),
        negatives_enforced=_defined(intervals.get("enforced")),
    )


def negatives_at_or_above(threshold: float) -> Statistic:
    """Share of negatives (label 0) scoring at or above ``threshold``; ``nan`` without negatives."""

    def statistic(
        y_true: IntArray, scores: FloatArray, /, *, sample_weight: FloatArray | None = None
    ) -> float:
        weights = np.ones(y_true.shape[0]) if sample_weight is None else sample_weight
        negative = y_true == 0
        total = float(weights[negative].sum())
        if total <= 0:
            return float("nan")
        return float(weights[negative & (scores >= threshold)].sum()) / total

    return statistic


def _defined(interval: Interval | None) -> Interval | None:
    return None if interval is None or math.isnan(interval.estimate) else interval


def _action_shares(actions: Sequence[str] | None, mask: BoolArray) -> dict[str, float]:
    if actions is None or not mask.any():
        return {}
    chosen = np.asarray(actions, dtype=object)[mask]
    return {action: float(np.mean(chosen == action)) for action in ("allow", "review", "block")}
