"""Hand-made labeled rows and scores for evaluation tests (no model involved)."""

from collections.abc import Sequence
from typing import Any

import numpy as np

from data.schema import LabeledListing, Labels, Listing
from evaluation.scored import ScoredRows, scored_from_arrays

LABELS = ("fraud", "counterfeit", "regulated")


def labeled_row(
    index: int,
    *,
    seller: str | None = None,
    fraud: int | None = None,
    counterfeit: int | None = None,
    regulated: int | None = None,
    regulated_category: str | None = None,
    slices: dict[str, str] | None = None,
    **listing: Any,
) -> LabeledListing:
    """A listing ``l-<index>`` by ``seller`` (default: its own seller ``s-<index>``)."""
    fields = {"title": f"listing {index}", "seller_id": seller or f"s-{index}", **listing}
    return LabeledListing(
        listing=Listing(listing_id=f"l-{index}", **fields),
        labels=Labels(
            values={"fraud": fraud, "counterfeit": counterfeit, "regulated": regulated},
            category=regulated_category,
        ),
        slices=slices or {},
    )


def fraud_rows(
    y_true: Sequence[int], *, sellers: Sequence[str] | None = None
) -> list[LabeledListing]:
    """Rows where only fraud is known, one seller per row unless ``sellers`` says otherwise."""
    return [
        labeled_row(i, fraud=int(value), seller=None if sellers is None else sellers[i])
        for i, value in enumerate(y_true)
    ]


def scored(
    rows: Sequence[LabeledListing],
    probabilities: Sequence[Sequence[float]] | np.ndarray,
    *,
    labels: Sequence[str] = LABELS,
    predicted: Sequence[str | None] | None = None,
) -> ScoredRows:
    """:class:`ScoredRows` from given probabilities (n, L)."""
    return scored_from_arrays(
        rows,
        labels,
        np.asarray(probabilities, dtype=np.float64).reshape(len(rows), len(labels)),
        list(predicted) if predicted is not None else [None] * len(rows),
    )
