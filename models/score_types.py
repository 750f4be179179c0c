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
    contributions: np.ndarray,
    phrase_of: np.ndarray,
    phrases: list[str],
    labels: list[str],
    *,
    limit: int = TOP_REASONS,
) -> dict[str, list[Reason]]:
    """Per label, the phrases with the largest positive summed contribution.

    ``contributions`` (k, L) are one listing's features' pushes on each label's logit;
    ``phrases[phrase_of[i]]`` is feature i's phrase. A phrase's features are summed in feature
    order in float64 and ties keep the phrases' order of first appearance.
    """
    reasons: dict[str, list[Reason]] = {}
    for column, label in enumerate(labels):
        totals = np.bincount(phrase_of, weights=contributions[:, column], minlength=len(phrases))
        top = np.argsort(-totals, kind="stable")[:limit]
        reasons[label] = [
            Reason(phrases[index], round(weight, 4))
            for index, weight in zip(top.tolist(), totals[top].tolist(), strict=True)
            if weight > 0
        ]
    return reasons
