"""What scoring one listing yields, whatever the model family: probabilities, category, reasons."""

from dataclasses import dataclass

import numpy as np

TOP_REASONS = 3


@dataclass(frozen=True)
class Reason:
    """A phrase of the listing and how much it pushed one label's logit up."""

    phrase: str
    weight: float


@dataclass(frozen=True)
class ListingScore:
    """The model's view of one listing: calibrated probability per label, category, reasons."""

    probabilities: dict[str, float]
    category: str | None
    """The most likely category of the taxonomy's category label (None: no category head)."""
    category_probabilities: dict[str, float]
    reasons: dict[str, list[Reason]]


@dataclass(frozen=True)
class GraphOutputs:
    """A family runner's raw outputs for a batch of listings, in input order."""

    logits: np.ndarray
    """(n, L) raw risk logits, card label order."""
    categories: np.ndarray
    """(n, C) category probabilities, card category order."""
    reasons: list[dict[str, list[Reason]]] | None
    """Per listing, per label: the top reasons (None when not asked for)."""


def top_reasons(
    contributions: np.ndarray, sources: list[str], *, limit: int = TOP_REASONS
) -> list[Reason]:
    """Phrases with the largest positive summed contribution; ``contributions`` (k,)."""
    totals: dict[str, float] = {}
    for phrase, weight in zip(sources, contributions.tolist(), strict=True):
        totals[phrase] = totals.get(phrase, 0.0) + weight
    ranked = sorted(totals.items(), key=lambda item: item[1], reverse=True)
    return [Reason(phrase, round(weight, 4)) for phrase, weight in ranked[:limit] if weight > 0]
