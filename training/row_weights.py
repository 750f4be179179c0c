"""Design weights of training rows, read from a slice column (never a model feature)."""

import math

import numpy as np

from data.schema import LabeledListing
from training.config import WeightSettings
from training.errors import TrainingError


def row_weights(
    rows: list[LabeledListing], settings: WeightSettings, *, capped: bool
) -> np.ndarray | None:
    """Each row's weight (n,), capped at ``max_fit_weight`` for fitting; None when unweighted.

    A row without the column counts once; a value that is not a positive finite number is an
    error naming the listing.
    """
    if settings.column is None:
        return None
    weights = np.ones(len(rows))
    for index, row in enumerate(rows):
        raw = row.slices.get(settings.column)
        if raw is None or raw == "":
            continue
        try:
            value = float(raw)
        except ValueError:
            value = math.nan
        if not math.isfinite(value) or value <= 0:
            raise TrainingError(
                f"listing {row.listing.listing_id}: weight column {settings.column!r} holds "
                f"{raw!r}; expected a positive number"
            )
        weights[index] = value
    return np.minimum(weights, settings.max_fit_weight) if capped else weights
