"""``listingguard``: offline work — data checks, training, the model registry, the quickstart.

A thin layer over the library: library errors become one-line CLI errors here, at the edge.
"""

import subprocess
from datetime import UTC, datetime
from pathlib import Path

import click

from training import tracking
from training.cli_data import data_group, max_dropped_share_option
from training.cli_errors import user_errors
from training.cli_evaluate import evaluate
from training.cli_policy import policy_group
from training.cli_thresholds import thresholds
from training.config import FAMILY_NAMES, load_config, with_family, with_model_name
from training.quickstart import run_quickstart
from training.runner import load_checked, run_training
from training.summary import summary_lines
from training.workspace import var_dir


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="listingguard")
def main() -> None:
    """ListingGuard: train, evaluate and register marketplace risk classifiers."""


main.add_command(data_group)
main.add_command(evaluate)
main.add_command(policy_group)
main.add_command(thresholds)


@main.command()
@click.option("--data", "data_path", required=True, help="Labeled training data (file or HF dir).")
@click.option("--mapping", required=True, help="Column mapping YAML (or a built-in name).")
@click.option("--validation", help="Labeled validation data, same mapping: metrics only.")
@click.option("--config", "config_path", type=click.Path(path_type=Path), help="Training YAML.")
@click.option(
    "--model",
    "family",
    type=click.Choice(FAMILY_NAMES),
    help="Model family (default: the config's, hashed-linear); transformer and ensemble need "
    "the [transformer] extra.",
)
@click.option(
    "--encoder",
    help="Local Hugging Face model folder to fine-tune (default: bundled all-MiniLM-L6-v2).",
)
@click.option(
    "--checkpoint-dir",
    type=click.Path(path_type=Path),
    help="Where fine-tuning state is kept and resumed from (default: var/checkpoints).",
)
@click.option("--no-register", is_flag=True, help="Track the run but do not register it.")
@click.option(
    "--model-name", help="Registered model name (default: the config's, else listingguard-MAPPING)."
)
@max_dropped_share_option
@user_errors
def train(
    data_path: str,
    mapping: str,
    validation: str | None,
    config_path: Path | None,
    family: str | None,
    encoder: str | None,
    checkpoint_dir: Path | None,
    no_register: bool,
    model_name: str | None,
    max_dropped_share: float,
) -> None:
    """Train a model (hashed-linear, transformer or ensemble), export ONNX, check it, log it to
    MLflow and register it."""
    config = with_family(load_config(config_path), family, encoder)
    if model_name is not None:
        config = with_model_name(config, model_name)
    run = run_training(
        data_path,
        mapping,
        config=config,
        validation=validation,
        register=not no_register,
        max_dropped_share=max_dropped_share,
        echo=click.echo,
        checkpoint_dir=checkpoint_dir,
    )
    click.echo("")
    for line in summary_lines(run.card):
        click.echo(line)
    click.echo(f"\nbundle: {run.bundle_dir}")


@main.group()
def models() -> None:
    """The MLflow model registry: list, promote, pull."""


@models.command("list")
@click.option("--name", help="Only this registered model.")
@user_errors
def list_models(name: str | None) -> None:
    """Registered versions with their aliases."""
    versions = tracking.list_versions(name)
    if not versions:
        click.echo(f"no registered models in {tracking.tracking_uri()}")
    for item in versions:
        aliases = ", ".join(item.aliases) or "-"
        click.echo(f"{item.name:<28} v{item.version:<4} {aliases:<22} run {item.run_id}")


@models.command()
@click.argument("name")
@click.argument("version")
@click.option("--alias", default="champion", show_default=True, type=click.Choice(tracking.ALIASES))
@click.option(
    "--eval-data",
    help="The pinned evaluation set (file or DIR[:SPLIT]) the gate compares the two versions on; "
    "needed to replace a champion.",
)
@click.option("--mapping", help="Column mapping of --eval-data (default: named like it).")
@click.option("--pin", is_flag=True, help="Pin --eval-data as the model's evaluation set.")
@click.option(
    "--margin",
    default=0.02,
    show_default=True,
    type=click.FloatRange(0.0, 1.0),
    help="Refuse when an AP difference is confidently below -MARGIN.",
)
@click.option("--resamples", default=1000, show_default=True, type=click.IntRange(min=50))
@click.option("--force", is_flag=True, help="Promote even if the gate refuses (needs --reason).")
@click.option("--reason", help="Why the gate is overridden (recorded on the version).")
@user_errors
def promote(
    name: str,
    version: str,
    alias: str,
    eval_data: str | None,
    mapping: str | None,
    pin: bool,
    margin: float,
    resamples: int,
    force: bool,
    reason: str | None,
) -> None:
    """Point ALIAS (champion or challenger) of model NAME at VERSION.

    Replacing a champion runs the promotion gate on the pinned evaluation set: refused (exit
    status 1, aliases unchanged) when VERSION is confidently worse than the champion on a label's
    average precision or a slice's, or breaks a routing promise there.
    """
    from training.promotion import GateSettings
    from training.promotion import promote as gated_promote

    settings = GateSettings(
        eval_data=eval_data, mapping=mapping, pin=pin, margin=margin, resamples=resamples
    )
    decision = gated_promote(
        name, version, alias, settings, force=force, reason=reason, echo=click.echo
    )
    suffix = " (gate overridden: recorded with the reason)" if decision == "forced" else ""
    click.echo(f"{name} v{version} is now {alias}{suffix}")


@models.command()
@click.argument("reference")
@click.argument("destination", type=click.Path(path_type=Path))
@click.option("--force", is_flag=True, help="Replace DESTINATION if it holds a bundle.")
@user_errors
def pull(reference: str, destination: Path, force: bool) -> None:
    """Materialize NAME@ALIAS (or NAME/VERSION) as a bundle directory DESTINATION."""
    version = tracking.resolve(reference)
    path = tracking.download_version(version, destination, force=force)
    click.echo(f"{version.name} v{version.version} -> {path}")


@models.command()
@click.argument("bundle", type=click.Path(path_type=Path, exists=True, file_okay=False))
@user_errors
def upgrade(bundle: Path) -> None:
    """Upgrade the format-1 bundle directory BUNDLE in place to the current format."""
    from training.bundle_upgrade import upgrade_bundle

    card = upgrade_bundle(bundle)
    click.echo(f"upgraded {bundle} to bundle format {card.format_version} ({card.model_id})")


@main.command()
@click.option("--data", "data_path", required=True, help="The original labeled cases.")
@click.option("--mapping", required=True, help="Column mapping of --data (or a built-in name).")
@click.option(
    "--feedback",
    required=True,
    help="Decided items exported by `listingguard-serve export-labels` (feedback mapping).",
)
@click.option("--validation", help="Labeled validation data, same mapping as --data: metrics only.")
@click.option("--config", "config_path", type=click.Path(path_type=Path), help="Training YAML.")
@click.option("--no-register", is_flag=True, help="Track the run but do not register it.")
@click.option("--model-name", help="Registered model name (default: as `train` names it).")
@max_dropped_share_option
@user_errors
def retrain(
    data_path: str,
    mapping: str,
    feedback: str,
    validation: str | None,
    config_path: Path | None,
    no_register: bool,
    model_name: str | None,
    max_dropped_share: float,
) -> None:
    """Train a challenger on the original cases joined with the service's decided items: one row
    per listing (the latest verdict wins), audits weighted by their inverse inclusion
    probability (capped for fitting, in full for calibration), the same config otherwise."""
    from training.retrain import merge_feedback, weighted_config
    from training.retrain import summary_lines as merge_lines
    from training.runner import train_rows

    config = weighted_config(load_config(config_path))
    if model_name is not None:
        config = with_model_name(config, model_name)
    click.echo(f"loading {data_path}")
    original = load_checked(data_path, mapping, click.echo, max_dropped_share=max_dropped_share)
    click.echo(f"loading {feedback}")
    verdicts = load_checked(feedback, "feedback", click.echo, max_dropped_share=max_dropped_share)
    if verdicts.mapping.taxonomy != original.mapping.taxonomy:
        raise click.UsageError("the feedback's taxonomy differs from the original data's")
    rows, summary = merge_feedback(
        original.rows, verdicts.rows, category_label=original.mapping.taxonomy.category_label
    )
    for line in merge_lines(summary):
        click.echo(line)
    validation_rows = None
    if validation:
        validation_rows = load_checked(
            validation, mapping, click.echo, max_dropped_share=max_dropped_share
        ).rows
    run = train_rows(
        rows,
        original.mapping,
        config=config,
        validation_rows=validation_rows,
        register=not no_register,
        echo=click.echo,
        checkpoint_dir=None,
        tags={"data": str(data_path), "feedback": str(feedback),
              "feedback_listings": str(summary.listings_with_feedback)},
    )  # fmt: skip
    click.echo("")
    for line in summary_lines(run.card):
        click.echo(line)
    click.echo(f"\nbundle: {run.bundle_dir}")


@main.command("label-audit")
@click.option("--data", "data_path", required=True, help="Labeled training data (file or HF dir).")
@click.option("--mapping", required=True, help="Column mapping YAML (or a built-in name).")
@click.option("--config", "config_path", type=click.Path(path_type=Path), help="Training YAML.")
@click.option(
    "--folds", default=5, show_default=True, type=click.IntRange(2, 20), help="Seller folds."
)
@click.option(
    "--out-dir",
    type=click.Path(path_type=Path, file_okay=False),
    help="Where label_issues.csv, .json and .html go (default: var/label-audits/<UTC time>).",
)
@max_dropped_share_option
@user_errors
def label_audit(
    data_path: str,
    mapping: str,
    config_path: Path | None,
    folds: int,
    out_dir: Path | None,
    max_dropped_share: float,
) -> None:
    """List training cases whose label is likely wrong (out-of-fold scores by seller, cleanlab's
    confident learning) for QA to re-check; nothing is relabelled."""
    from training.label_audit import audit_labels, write_audit

    loaded = load_checked(data_path, mapping, click.echo, max_dropped_share=max_dropped_share)
    summaries, issues = audit_labels(
        loaded.rows,
        load_config(config_path),
        taxonomy=loaded.mapping.taxonomy,
        folds=folds,
        echo=click.echo,
    )
    target = out_dir or var_dir() / "label-audits" / datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    write_audit(target, summaries, issues, source=str(data_path))
    click.echo(f"{len(issues)} cases to re-check: {target / 'label_issues.html'} (and .csv, .json)")


@main.command("mlflow-ui")
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=5000, show_default=True, type=click.IntRange(1, 65535))
@user_errors
def mlflow_ui(host: str, port: int) -> None:
    """Open MLflow's web UI on this project's store (runs, registry, artifacts under var/)."""
    command = tracking.ui_command(host=host, port=port)
    click.echo(f"MLflow UI on http://{host}:{port} for {tracking.tracking_uri()} (Ctrl-C stops)")
    try:
        completed = subprocess.run(command, check=False)
    except KeyboardInterrupt:
        return
    if completed.returncode not in (0, -2, 130):
        raise click.ClickException(f"mlflow ui exited with status {completed.returncode}")


@main.command()
@click.option("--smoke", is_flag=True, help="Exit after scoring instead of serving on.")
@click.option("--rows", default=4000, show_default=True, type=click.IntRange(200, 200_000))
@click.option("--port", default=0, type=click.IntRange(0, 65535), help="0 picks a free port.")
@click.option(
    "--model",
    "family",
    default="hashed-linear",
    show_default=True,
    type=click.Choice(FAMILY_NAMES),
    help="transformer / ensemble: a tiny fine-tuning of the bundled encoder (a few minutes, "
    "needs the [transformer] extra).",
)
@user_errors
def quickstart(smoke: bool, rows: int, port: int, family: str) -> None:
    """Demo data -> train -> register -> serve -> score, all on embedded defaults."""
    run_quickstart(rows=rows, port=port, smoke=smoke, echo=click.echo, family=family)


@main.command("score-catalog")
@click.option(
    "--input",
    "source",
    required=True,
    type=click.Path(path_type=Path),
    help="A Parquet file, or a folder of them; columns named as the listing's fields.",
)
@click.option("--output", required=True, type=click.Path(path_type=Path), help="Output folder.")
@click.option(
    "--bundle",
    "bundle_dir",
    required=True,
    type=click.Path(path_type=Path),
    help="The model bundle folder to score with.",
)
@click.option("--policy", "policy_spec", help="Policy file or built-in name (default: taxonomy's).")
@click.option("--address", help="An existing Ray cluster (ray://... or host:port); default: local.")
@click.option("--workers", default=1, show_default=True, type=click.IntRange(1, 512))
@click.option("--record", "record_url", help="Service URL: record the decisions through it.")
@click.option(
    "--api-key-env",
    default="LISTINGGUARD_API_KEY",
    show_default=True,
    help="Environment variable holding the service's pipeline API key (with --record).",
)
@user_errors
def score_catalog(
    source: Path,
    output: Path,
    bundle_dir: Path,
    policy_spec: str | None,
    address: str | None,
    workers: int,
    record_url: str | None,
    api_key_env: str,
) -> None:
    """Score a catalog of listings on Ray Data; resumes, skipping files already scored."""
    import os

    from training.catalog import score_catalog as run_catalog
    from training.catalog_files import input_files
    from training.catalog_record import record_catalog

    api_key = os.environ.get(api_key_env, "") if record_url else ""
    if record_url and not api_key:
        raise click.UsageError(f"--record needs an API key in ${api_key_env}")
    run = run_catalog(
        source,
        output,
        bundle_dir=bundle_dir,
        policy_spec=policy_spec,
        address=address,
        workers=workers,
        echo=click.echo,
    )
    click.echo(
        f"scored {run.listings} listings from {len(run.files_scored)} file(s) "
        f"({run.listings_per_s:.0f} listings/s, {run.invalid} invalid), "
        f"skipped {len(run.files_skipped)} finished file(s); output in {output}"
    )
    if record_url:
        recording = record_catalog(
            input_files(source), output, url=record_url, api_key=api_key, echo=click.echo
        )
        click.echo(
            f"recorded {recording.listings} listings from {recording.files} file(s) "
            f"({recording.replayed} already stored, {recording.disagreements} decided otherwise "
            f"by the service, {recording.retries} retries); {recording.files_skipped} file(s) "
            "were recorded before"
        )
