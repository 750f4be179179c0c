"""``listingguard thresholds``: the promises that fit a review capacity, or which must give."""

from pathlib import Path
from typing import TYPE_CHECKING

import click

from data.loaders import load_labeled
from data.mapping import load_mapping, resolve_mapping_path
from models.policy_file import load_policy
from models.scorer import BundleScorer
from models.thresholds import ThresholdTargets
from training.cli_errors import user_errors

if TYPE_CHECKING:
    from evaluation.capacity import CapacityPoint


@click.command("thresholds")
@click.option("--model", "bundle", required=True, type=click.Path(path_type=Path))
@click.option("--data", "data_path", required=True, help="Labeled data the model was not fit on.")
@click.option("--mapping", required=True, help="Column mapping YAML or built-in name.")
@click.option("--capacity", required=True, type=click.FloatRange(min=0), help="Reviews a day.")
@click.option("--traffic", required=True, type=click.FloatRange(min=1), help="Listings a day.")
@click.option("--policy", default="default", show_default=True, help="Policy file or name.")
@user_errors
def thresholds(
    bundle: Path, data_path: str, mapping: str, capacity: float, traffic: float, policy: str
) -> None:
    """Certify each pair of promises on --data and show the review volume each costs."""
    from evaluation.capacity import plan_capacity
    from evaluation.scored import score_rows

    scorer = BundleScorer(bundle)
    card = scorer.card
    rows = load_labeled(data_path, load_mapping(resolve_mapping_path(mapping))).rows
    points = plan_capacity(score_rows(scorer, rows), card, load_policy(policy, card.taxonomy))
    click.echo(
        f"{len(rows)} listings; capacity {capacity:g} reviews/day at {traffic:g} listings/day "
        f"(confidence {(card.guarantee.confidence if card.guarantee else 0.95):.0%}, per label)"
    )
    click.echo(
        f"{'let through':>11} {'wrong enf':>9} {'review':>7} {'reviews/day':>11}  fits  certified"
    )
    for point in points:
        fits = point.reviews_per_day(traffic) <= capacity
        uncertified = [
            f"{label}:{'LW'[i]}"
            for label, pair in point.certified.items()
            for i, ok in enumerate(pair)
            if not ok
        ]
        click.echo(
            f"{point.let_through:>11.0%} {point.wrong_enforcements:>9.0%} "
            f"{point.review_share:>7.1%} {point.reviews_per_day(traffic):>11.0f}  "
            f"{'yes' if fits else 'no ':<4}  "
            f"{'all' if not uncertified else 'not ' + ', '.join(uncertified)}"
        )
    for line in _verdict(points, card.threshold_targets, capacity, traffic):
        click.echo(line)


def _verdict(
    points: "list[CapacityPoint]",
    targets: dict[str, ThresholdTargets],
    capacity: float,
    traffic: float,
) -> list[str]:
    fitting = [p for p in points if p.reviews_per_day(traffic) <= capacity]
    if not fitting:
        loosest = min(points, key=lambda p: p.review_share)
        return [
            f"no pair fits: the fewest reviews are {loosest.reviews_per_day(traffic):.0f}/day "
            f"(let through {loosest.let_through:.0%}, wrong enf {loosest.wrong_enforcements:.0%});"
            " raise the capacity or loosen past the grid"
        ]
    strictest = min(fitting, key=lambda p: (p.let_through + p.wrong_enforcements, p.let_through))
    lines = [
        f"strictest pair that fits: let through <= {strictest.let_through:.0%}, wrong "
        f"enforcements <= {strictest.wrong_enforcements:.0%} "
        f"({strictest.reviews_per_day(traffic):.0f} reviews/day)"
    ]
    configured = next(iter(targets.values()), None)
    if configured is not None:
        miss, wrong = configured.max_violations_let_through, configured.max_wrong_enforcements
        same_wrong = [p for p in fitting if p.wrong_enforcements == wrong and p.let_through >= miss]
        same_miss = [p for p in fitting if p.let_through == miss and p.wrong_enforcements >= wrong]
        if any(p.let_through == miss and p.wrong_enforcements == wrong for p in fitting):
            lines.append(f"the configured promises ({miss:.0%} / {wrong:.0%}) fit")
        else:
            if same_wrong:
                lines.append(
                    f"to keep wrong enforcements at {wrong:.0%}, let-through must give to "
                    f"{min(p.let_through for p in same_wrong):.0%} (configured {miss:.0%})"
                )
            if same_miss:
                lines.append(
                    f"to keep let-through at {miss:.0%}, wrong enforcements must give to "
                    f"{min(p.wrong_enforcements for p in same_miss):.0%} (configured {wrong:.0%})"
                )
    return lines
