"""Routing: calibrated scores -> per-label bands -> listing action (serving and evaluation)."""

from dataclasses import dataclass

from data.schema import Listing
from data.taxonomy import Action
from models.policy import Policy, decide_action
from models.policy_rules import Rule, readable_text
from models.thresholds import BANDS, LabelThresholds


@dataclass(frozen=True)
class RoutedListing:
    """The bands of each label, the action the policy derives and the rules that fired."""

    bands: dict[str, str]
    action: Action
    rules: list[str]
    clause: str
    """The policy clause that decided the action."""
    fired_rules: tuple[Rule, ...] = ()
    """The policy rules that matched, in file order."""


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
    listing: Listing | None = None,
    apply_rules: bool = True,
) -> RoutedListing:
    """Route one scored listing; the one entry point of serving and evaluation.

    Bands come from the edges, then the policy's rules may force a band or the action (never a
    probability; ``apply_rules=False`` routes true labels, which need no heuristics), then the
    policy turns bands into the action in the listing's market.
    """
    bands = {label: band_of(p, thresholds[label]) for label, p in probabilities.items()}
    fired = _matching_rules(policy, listing) if apply_rules else []
    forced: dict[str, str] = {}
    for rule in fired:
        if rule.band is not None and rule.label in bands:
            bands[rule.label] = rule.band  # later rules win: order them in the file
            forced[rule.label] = rule.id
    market = listing.market if listing is not None else "US"
    attributes = listing.attributes if listing is not None else {}
    outcome = decide_action(bands, category, policy, market=market, attributes=attributes)
    action, clause, rules = outcome.action, outcome.clause, list(outcome.rules)
    if outcome.label in forced:  # the band that decided was forced by a rule
        clause = f"rules.{forced[outcome.label]}"
    for rule in fired:
        rules.append(f"rule {rule.id}: {rule.label} -> {rule.band or rule.action}")
        if rule.action is not None:
            action, clause = rule.action, f"rules.{rule.id}"
    return RoutedListing(
        bands=bands,
        action=action,
        rules=rules,
        clause=clause,
        fired_rules=tuple(fired),
    )


def _matching_rules(policy: Policy, listing: Listing | None) -> list[Rule]:
    if listing is None or not policy.rules:
        return []
    text = readable_text(listing)
    return [rule for rule in policy.rules if rule.matches(listing, text)]
