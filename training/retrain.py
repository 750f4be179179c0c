"""``listingguard retrain``: the original cases joined with the service's decided items.

The feedback is ``listingguard-serve export-labels`` output (the ``feedback`` mapping): decided
review, senior, appeal, second-review and QA items. Joined by listing id, one row per listing:

* a listing's latest verdict wins (the export is in decision order); a label the verdict did
  not judge (null) keeps the original case's value, and the listing's content is the one judged;
* every row carries a design weight in the slice column ``weight``: 1 for original cases and
  for items the model chose to route (review, appeal: they over-represent what the model was
  unsure of, so they count once rather than standing for anything), ``1 / inclusion
  probability`` for QA audits of randomly sampled automatic decisions (the unbiased signal:
  each stands for its stratum).

The challenger is trained with the same config and these weights (``weights.column: weight``):
fitting caps them at ``weights.max_fit_weight`` so a few audits cannot dominate, the Platt
calibration uses them in full (edges, certification and validation figures are unweighted). It is
registered as a new version (the ``challenger`` alias); ``models promote`` decides whether it
replaces the champion.
"""

from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass

from data.schema import LabeledListing, Labels
from training.config import TrainConfig
from training.errors import TrainingError

WEIGHT_COLUMN = "weight"
Echo = Callable[[str], None]


@dataclass(frozen=True)
class MergeSummary:
    original: int
    feedback: int
    listings_with_feedback: int
    new_listings: int
    labels_changed: int
    by_source: dict[str, int]
    max_weight: float


def merge_feedback(
    original: list[LabeledListing], feedback: list[LabeledListing], *, category_label: str | None
) -> tuple[list[LabeledListing], MergeSummary]:
    """One row per listing id, original order first, then listings only the feedback has;
    ``category_label`` is the taxonomy's label whose violations carry a category."""
    latest: dict[str, LabeledListing] = {}
    for row in feedback:
        latest[row.listing.listing_id] = row  # later verdicts replace earlier ones
    by_id = {row.listing.listing_id: row for row in original}
    merged: list[LabeledListing] = []
    changed = 0
    for row in original:
        verdict = latest.get(row.listing.listing_id)
        if verdict is None:
            merged.append(_weighted(row, 1.0))
            continue
        combined = _combined(row, verdict, category_label)
        changed += any(
            combined.labels.value(label) != row.labels.value(label)
            for label in combined.labels.values
        )
        merged.append(combined)
    new = [row for listing_id, row in latest.items() if listing_id not in by_id]
    merged += [_weighted(row, _weight_of(row)) for row in new]
    weights = [float(row.slices[WEIGHT_COLUMN]) for row in merged]
    summary = MergeSummary(
        original=len(original),
        feedback=len(feedback),
        listings_with_feedback=len(latest),
        new_listings=len(new),
        labels_changed=changed,
        by_source=dict(Counter(row.slices.get("source", "?") for row in latest.values())),
        max_weight=max(weights, default=1.0),
    )
    return merged, summary


def weighted_config(config: TrainConfig) -> TrainConfig:
    weights = config.weights.model_copy(update={"column": WEIGHT_COLUMN})
    return config.model_copy(update={"weights": weights})


def summary_lines(summary: MergeSummary) -> list[str]:
    sources = ", ".join(f"{name} {count}" for name, count in sorted(summary.by_source.items()))
    return [
        f"joined {summary.original} original cases with {summary.feedback} feedback rows "
        f"({summary.listings_with_feedback} listings: {sources})",
        f"  {summary.labels_changed} original labels changed by a verdict, "
        f"{summary.new_listings} listings new to the training data; largest design weight "
        f"{summary.max_weight:.1f}",
    ]


def _combined(
    original: LabeledListing, verdict: LabeledListing, category_label: str | None
) -> LabeledListing:
    values = dict(original.labels.values)
    values.update({k: v for k, v in verdict.labels.values.items() if v is not None})
    judged = category_label is not None and verdict.labels.value(category_label) is not None
    category = verdict.labels.category if judged else original.labels.category
    slices = {**original.slices, **verdict.slices, WEIGHT_COLUMN: str(_weight_of(verdict))}
    return LabeledListing(
        listing=verdict.listing, labels=Labels(values=values, category=category), slices=slices
    )


def _weighted(row: LabeledListing, weight: float) -> LabeledListing:
    return row.model_copy(update={"slices": {**row.slices, WEIGHT_COLUMN: str(weight)}})


def _weight_of(row: LabeledListing) -> float:
    raw = row.slices.get(WEIGHT_COLUMN)
    try:
        weight = float(raw) if raw not in (None, "") else 1.0
    except ValueError:
        raise TrainingError(
            f"feedback listing {row.listing.listing_id}: weight {raw!r} is not a number"
        ) from None
    if not weight > 0:
        raise TrainingError(f"feedback listing {row.listing.listing_id}: weight {raw!r} <= 0")
    return weight
