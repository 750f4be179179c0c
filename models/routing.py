"""Routing: calibrated scores -> per-label bands -> listing action (serving and evaluation)."""

from dataclasses import dataclass

from data.taxonomy import Action
from models.policy import Policy, decide_action
from models.thresholds import BANDS, LabelThresholds


@dataclass(frozen=True)
class RoutedListing:
    """The bands of each label, the action the policy derives and the rules that fired."""

    bands: dict[str, str]
    action: Action
    rules: list[str]
    review_priority: float


def band_of(probability: float, thresholds: LabelThresholds) -> str:
    """``allow`` below the allow edge, ``enforce`` at/above the enforce edge, else ``review``."""
    if probability < thresholds.allow:
        return BANDS[0]
    if thresholds.enforce is not None and probability >= thresholds.enforce:
        return BANDS[2]
    return BANDS[1]


def route_listing(
    probabilities: dict[str, float],
    category: str | None,
    *,
    thresholds: dict[str, LabelThresholds],
    policy: Policy,
) -> RoutedListing:
    """Route one scored listing. Review priority is the highest probability among review bands."""
    bands = {label: band_of(p, thresholds[label]) for label, p in probabilities.items()}
    outcome = decide_action(bands, category, policy)
    in_review = [probabilities[label] for label, band in bands.items() if band == "review"]
    return RoutedListing(
        bands=bands,
        action=outcome.action,
        rules=outcome.rules,
        review_priority=max(in_review, default=0.0),
    )
