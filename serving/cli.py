"""``listingguard-serve``: run the scoring service, and the commands on its database.

``listingguard-serve --bundle DIR`` serves; ``listingguard-serve retention|erase-seller|export``,
``keys|audit``, ``export-labels|cases|transparency-report|shadow-report|drift-report`` work on
the service database (``--database-url`` or ``LISTINGGUARD_DATABASE_URL``).
"""

import logging
from datetime import UTC, datetime, timedelta
from pathlib import Path

import click
import uvicorn

from serving.app import close_state, create_app, load_state
from serving.cli_access import audit, keys
from serving.cli_qa import (
    cases,
    drift_command,
    export_labels_command,
    shadow_command,
    transparency_command,
)
from serving.cli_support import (
    out_option,
    service_errors,
    session_factory_of,
    since_option,
    utc,
    write_lines,
)
from serving.data_hygiene import apply_retention, erase_seller, export_decisions
from serving.settings import Settings
from serving.workers import WorkerStartError, serve_workers


@click.group(invoke_without_command=True, context_settings={"help_option_names": ["-h", "--help"]})
@click.option("--bundle", type=click.Path(path_type=Path), help="Model bundle directory.")
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=8000, show_default=True, type=click.IntRange(0, 65535))
@click.option("--database-url", help="SQLAlchemy URL (default: LISTINGGUARD_DATABASE_URL).")
@click.option(
    "--policy",
    help="Policy file or built-in name (default: LISTINGGUARD_POLICY, else the taxonomy's own); "
    "re-read on SIGHUP.",
)
@click.option(
    "--shadow-bundle",
    type=click.Path(path_type=Path),
    help="A challenger bundle scored in shadow beside the champion (LISTINGGUARD_SHADOW_BUNDLE).",
)
@click.option(
    "--workers",
    type=click.IntRange(1, 64),
    help="Worker processes sharing the port (default: LISTINGGUARD_WORKERS, else 1); SIGHUP "
    "reloads every one.",
)
@click.option("--log-level", default="info", show_default=True)
@click.pass_context
@service_errors
def main(
    context: click.Context,
    bundle: Path | None,
    host: str,
    port: int,
    database_url: str | None,
    policy: str | None,
    shadow_bundle: Path | None,
    workers: int | None,
    log_level: str,
) -> None:
    """Serve POST /v1/score and the review queue for the bundle in --bundle or LISTINGGUARD_BUNDLE.

    Other settings come from LISTINGGUARD_* environment variables (see the README). The
    subcommands work on the service database instead of serving.
    """
    overrides: dict[str, object] = {}
    if bundle is not None:
        overrides["bundle"] = bundle
    if database_url is not None:
        overrides["database_url"] = database_url
    if policy is not None:
        overrides["policy"] = policy
    if shadow_bundle is not None:
        overrides["shadow_bundle"] = shadow_bundle
    if workers is not None:
        overrides["workers"] = workers
    settings = Settings(**overrides)  # type: ignore[arg-type]
    context.obj = settings
    if context.invoked_subcommand is not None:
        return
    logging.basicConfig(level=log_level.upper(), format="%(asctime)s %(levelname)s %(message)s")
    state = load_state(settings)  # fails fast, and migrates once, before any worker starts
    card = state.scorer.card
    click.echo(
        f"serving {card.model_id} (thresholds {card.threshold_set_id}, policy "
        f"{state.policy.version}) on {host}:{port}"
        + (f", {state.shadow.card.model_id} in shadow" if state.shadow else "")
        + (f" with {settings.workers} workers" if settings.workers > 1 else "")
        + "; SIGHUP re-reads the bundle and the policy"
    )
    if settings.workers > 1:
        close_state(state)  # each worker loads its own
        del state
        try:
            serve_workers(settings, host=host, port=port, log_level=log_level)
        except WorkerStartError as error:
            raise click.ClickException(str(error)) from None
        return
    app = create_app(state=state, tune_collector=True)  # tuned once it serves
    uvicorn.run(app, host=host, port=port, log_level=log_level)


@main.command()
@click.option(
    "--days",
    type=click.IntRange(1),
    help="Keep decisions this many days (default: LISTINGGUARD_RETENTION_DAYS).",
)
@click.option(
    "--mode",
    type=click.Choice(["anonymize", "delete"]),
    help="Strip personal content, or delete (default: LISTINGGUARD_RETENTION_MODE).",
)
@click.pass_obj
@service_errors
def retention(settings: Settings, days: int | None, mode: str | None) -> None:
    """Anonymize or delete decisions older than the retention period."""
    days = days or settings.retention_days
    if days is None:
        raise click.UsageError("give --days or set LISTINGGUARD_RETENTION_DAYS")
    chosen = mode or settings.retention_mode
    cutoff = datetime.now(UTC) - timedelta(days=days)
    counts = apply_retention(
        session_factory_of(settings),
        older_than=cutoff,
        mode="delete" if chosen == "delete" else "anonymize",
    )
    verb = "deleted" if chosen == "delete" else "anonymized"
    click.echo(
        f"{verb} {counts.decisions} decisions older than {days} days "
        f"(before {cutoff:%Y-%m-%d %H:%M} UTC) and {counts.work_items} work items"
    )


@main.command("erase-seller")
@click.argument("seller_id")
@click.pass_obj
@service_errors
def erase_seller_command(settings: Settings, seller_id: str) -> None:
    """Delete every decision and review item of SELLER_ID (erasure on request)."""
    counts = erase_seller(session_factory_of(settings), seller_id)
    click.echo(
        f"erased seller {seller_id!r}: {counts.decisions} decisions, {counts.work_items} work items"
    )


@main.command("export")
@out_option
@click.option("--redact", is_flag=True, help="Pseudonymize seller ids, drop free-text notes.")
@since_option("decisions")
@click.pass_obj
@service_errors
def export_command(
    settings: Settings, out: Path | None, redact: bool, since: datetime | None
) -> None:
    """Export decisions with their review outcomes as JSON lines."""
    factory = session_factory_of(settings)
    key = settings.pseudonym_key.get_secret_value() if settings.pseudonym_key else None
    written = write_lines(
        out,
        lambda handle: export_decisions(
            factory, handle, redact=redact, pseudonym_key=key, since=utc(since)
        ),
    )
    click.echo(f"exported {written} decisions{' (redacted)' if redact else ''}", err=True)


main.add_command(keys)
main.add_command(audit)

if __name__ == "__main__":
    main()
main.add_command(export_labels_command)
main.add_command(cases)
main.add_command(transparency_command)
main.add_command(shadow_command)
main.add_command(drift_command)
