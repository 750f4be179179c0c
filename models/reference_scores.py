"""Reference scores: a bundle's answers for a few fixed listings, recorded in its card where the
export was checked and scored again wherever it loads.

The parity check compares the graph with the in-memory model on the training machine. Another
machine can still compute the same graph differently (an int8 graph's integer kernels differ
between CPU instruction sets; another onnxruntime build): its scores would move against the
edges the card certified, silently. Scoring the reference listings at every load catches that
before the first request.
"""

from collections.abc import Callable
from typing import Final

import numpy as np
import onnxruntime as ort
from pydantic import BaseModel, ConfigDict, Field, model_validator

from data.schema import Listing
from models.errors import BundleError

REFERENCE_TOLERANCE: Final = 1e-3
"""Largest |probability now - probability at export| accepted: far above float reordering
between CPUs (about 1e-7 here), far below a move that shifts a routing edge."""

REFERENCE_LISTINGS: Final = (
    Listing(listing_id="reference-1", title="replica rolex submariner aaa quality", price=45.0),
    Listing(listing_id="reference-2", title="oxycodone 30mg pills no prescription", price=90.0),
    Listing(
        listing_id="reference-3",
        title="netflix premium account lifetime",
        description="instant delivery, pay with gift cards only",
        price=5.0,
    ),
    Listing(listing_id="reference-4", title="used iphone 12 64gb unlocked", price=310.0),
    Listing(listing_id="reference-5", title="handmade ceramic coffee mug", price=18.0),
    Listing(
        listing_id="reference-6",
        title="vape juice 60ml nicotine salt",
        description="adults only, ships within the country",
        price=12.5,
    ),
    Listing(listing_id="reference-7", title="kids running sneakers size 32", price=29.9),
    Listing(listing_id="reference-8", title="r\u200bep\u200blica designer handbag", price=60.0),
)
"""Fixed, made-up listings across the risks and everyday goods (no real seller's data)."""

Scores = Callable[[list[Listing]], tuple[np.ndarray, np.ndarray]]
"""Calibrated probabilities (n, L) and category probabilities (n, C) of listings."""


class ReferenceScores(BaseModel):
    """The exported graph's scores of :data:`REFERENCE_LISTINGS`, where its export was checked."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    listings: list[Listing] = Field(min_length=1)
    probabilities: list[list[float]]
    """Calibrated risk probabilities, one row per listing, in the card's label order."""
    categories: list[list[float]]
    tolerance: float = Field(gt=0, allow_inf_nan=False)
    onnxruntime: str
    """The onnxruntime version that computed them."""

    @model_validator(mode="after")
    def _one_finite_row_per_listing(self) -> "ReferenceScores":
        for name, rows in (("probabilities", self.probabilities), ("categories", self.categories)):
            widths = {len(row) for row in rows}
            if len(rows) != len(self.listings) or len(widths) > 1:
                raise ValueError(
                    f"{name} must hold one row per reference listing ({len(self.listings)}), "
                    "all of one length"
                )
            if not np.isfinite(np.asarray(rows, dtype=float)).all():
                raise ValueError(f"{name} must be finite numbers")
        return self


def record_reference_scores(scores: Scores) -> ReferenceScores:
    """The reference listings' scores; a :class:`BundleError` when the graph gives any score
    that is not a finite number (a card must not record what no load could compare)."""
    listings = list(REFERENCE_LISTINGS)
    probabilities, categories = scores(listings)
    if not (np.isfinite(probabilities).all() and np.isfinite(categories).all()):
        raise BundleError(
            "the exported graph scores the reference listings as NaN or infinity: it cannot be "
            "served"
        )
    return ReferenceScores(
        listings=listings,
        probabilities=probabilities.astype(float).tolist(),
        categories=categories.astype(float).tolist(),
        tolerance=REFERENCE_TOLERANCE,
        onnxruntime=ort.__version__,
    )


def reference_drift(reference: ReferenceScores, scores: Scores) -> str | None:
    """Why the graph's scores of the reference listings here are not the recorded ones (one
    line), or None when they agree within the card's tolerance."""
    expected = (np.asarray(reference.probabilities), np.asarray(reference.categories))
    actual = scores(reference.listings)
    for name, want, got in zip(("risk", "category"), expected, actual, strict=True):
        if want.shape != got.shape:
            return (
                f"its card records {name} scores of shape {want.shape} for the reference "
                f"listings, the graph gives {got.shape}"
            )
    if not all(np.isfinite(got).all() for got in actual):
        return "the graph scores its reference listings as NaN or infinity here"
    gap = max(
        float(np.abs(got - want).max(initial=0.0))
        for want, got in zip(expected, actual, strict=True)
    )
    if gap <= reference.tolerance:
        return None
    return (
        f"the graph scores its reference listings up to {gap:.3g} away from the scores recorded "
        f"at export (tolerance {reference.tolerance:g}; recorded with onnxruntime "
        f"{reference.onnxruntime}, this is {ort.__version__}): this machine computes the graph "
        "differently, so the card's certified edges do not hold here; export the model again "
        "on this hardware (or ship fp32 weights)"
    )
