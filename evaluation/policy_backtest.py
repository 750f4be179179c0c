"""Backtest a policy change: route the same scored listings under two policies and compare.

Both policies see the same scores, band edges, markets and attributes (the routing entry point
serving uses, :func:`models.routing.route_listing`); what differs is what changed in the file.
"""

from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass, field

from evaluation.scored import ScoredRows
from models.policy import ACTION_SEVERITY, Policy
from models.routing import route_listing
from models.thresholds import LabelThresholds

EXAMPLES_PER_CHANGE = 3


@dataclass(frozen=True)
class DecisionChange:
    """Listings whose action moves from ``old`` to ``new`` in one market and category."""

    market: str
    category: str
    old: str
    new: str

    @property
    def direction(self) -> str:
        return "stricter" if ACTION_SEVERITY[self.new] > ACTION_SEVERITY[self.old] else "looser"


@dataclass
class Backtest:
    rows: int
    changed: Counter[DecisionChange] = field(default_factory=Counter)
    examples: dict[DecisionChange, list[str]] = field(default_factory=dict)
    actions_old: Counter[str] = field(default_factory=Counter)
    actions_new: Counter[str] = field(default_factory=Counter)

    @property
    def n_changed(self) -> int:
        return sum(self.changed.values())

    def lines(self, old: Policy, new: Policy) -> list[str]:
        lines = [
            f"policy {old.version} -> {new.version} on {self.rows} listings: "
            f"{self.n_changed} decisions change "
            f"({sum(n for c, n in self.changed.items() if c.direction == 'stricter')} stricter, "
            f"{sum(n for c, n in self.changed.items() if c.direction == 'looser')} looser)",
            "actions before: " + _shares(self.actions_old, self.rows),
            "actions after:  " + _shares(self.actions_new, self.rows),
        ]
        if self.changed:
            lines.append(f"{'market':<7} {'category':<20} {'change':<16} {'listings':>8}  examples")
        for change, count in sorted(
            self.changed.items(), key=lambda item: (-item[1], item[0].market, item[0].category)
        ):
            lines.append(
                f"{change.market:<7} {change.category:<20} {change.old + ' -> ' + change.new:<16} "
                f"{count:>8}  {'; '.join(self.examples[change])}"
            )
        return lines


def backtest_policies(
    scored: ScoredRows, thresholds: Mapping[str, LabelThresholds], old: Policy, new: Policy
) -> Backtest:
    """Route every row under ``old`` and ``new``; count and sample the decisions that change."""
    result = Backtest(rows=scored.n)
    for row, probabilities, category in zip(
        scored.rows, scored.probability_dicts(), scored.predicted_category, strict=True
    ):
        routed = [
            route_listing(
                probabilities,
                category,
                thresholds=dict(thresholds),
                policy=policy,
                listing=row.listing,
            )
            for policy in (old, new)
        ]
        actions = [item.action for item in routed]
        result.actions_old[actions[0]] += 1
        result.actions_new[actions[1]] += 1
        if actions[0] == actions[1]:
            continue
        # A category is named only where its label is not auto-allowed (as serving records it).
        carrier = new.category_label
        named = carrier is not None and any(
            r.bands.get(carrier, "allow") != "allow" for r in routed
        )
        change = DecisionChange(
            row.listing.market, (category or "-") if named else "-", actions[0], actions[1]
        )
        result.changed[change] += 1
        examples = result.examples.setdefault(change, [])
        if len(examples) < EXAMPLES_PER_CHANGE:
            examples.append(f"{row.listing.listing_id} {row.listing.title[:40]!r}")
    return result


def _shares(counts: Counter[str], total: int) -> str:
    return ", ".join(
        f"{action} {counts[action]} ({100 * counts[action] / max(total, 1):.1f}%)"
        for action in ("allow", "review", "block")
    )
