"""``listingguard policy``: check a policy file, and backtest a change on labeled data."""

from pathlib import Path

import click

from data.loaders import load_labeled
from data.mapping import load_mapping, resolve_mapping_path
from models.policy_file import load_policy
from models.scorer import BundleScorer
from training.cli_errors import user_errors


@click.group("policy")
def policy_group() -> None:
    """Policy files: check one against a model, or backtest a change."""


@policy_group.command("check")
@click.argument("policy")
@click.option("--model", "bundle", required=True, type=click.Path(path_type=Path))
@user_errors
def check(policy: str, bundle: Path) -> None:
    """Validate POLICY (a file or built-in name) against the model's taxonomy."""
    card = BundleScorer(bundle).card
    loaded = load_policy(policy, card.taxonomy)
    click.echo(
        f"{policy}: policy {loaded.version} is valid for {card.model_id} "
        f"({len(loaded.markets)} market overrides; reads attributes "
        f"{list(loaded.attributes_read()) or 'none'})"
    )


@policy_group.command("diff")
@click.argument("old")
@click.argument("new")
@click.option("--data", "data_path", required=True, help="Labeled (or unlabeled) listings.")
@click.option("--mapping", required=True, help="Column mapping YAML or built-in name.")
@click.option("--model", "bundle", required=True, type=click.Path(path_type=Path))
@user_errors
def diff(old: str, new: str, data_path: str, mapping: str, bundle: Path) -> None:
    """Backtest OLD -> NEW: the decisions that change, which way, per market and category."""
    from evaluation.policy_backtest import backtest_policies
    from evaluation.scored import score_rows

    scorer = BundleScorer(bundle)
    policies = [load_policy(spec, scorer.card.taxonomy) for spec in (old, new)]
    rows = load_labeled(data_path, load_mapping(resolve_mapping_path(mapping))).rows
    scored = score_rows(scorer, rows)
    result = backtest_policies(scored, scorer.card.thresholds, *policies)
    for line in result.lines(*policies):
        click.echo(line)
