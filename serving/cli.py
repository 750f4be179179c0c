"""``listingguard-serve``: run the scoring service, and the commands on its database.

``listingguard-serve --bundle DIR`` serves; ``listingguard-serve retention|erase-seller|export``
work on the service database (``--database-url`` or ``LISTINGGUARD_DATABASE_URL``).
"""

import logging
import sys
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from functools import wraps
from pathlib import Path
from typing import Any, TypeVar

import click
import uvicorn
from pydantic import ValidationError
from sqlalchemy.exc import SQLAlchemyError

from models.errors import BundleError, PolicyError
from serving.app import StartupError, create_app, load_state
from serving.data_hygiene import apply_retention, erase_seller, export_decisions
from serving.db import create_db_engine, make_session_factory, upgrade_database
from serving.settings import Settings

F = TypeVar("F", bound=Callable[..., Any])


def service_errors(command: F) -> F:
    """Bad settings, bundles and databases end the command with one line, not a traceback."""

    @wraps(command)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return command(*args, **kwargs)
        except ValidationError as error:
            problems = "; ".join(
                f"LISTINGGUARD_{'_'.join(str(part) for part in item['loc']).upper()}: {item['msg']}"
                for item in error.errors()
            )
            raise click.ClickException(problems) from None
        except (
            StartupError,
            BundleError,
            PolicyError,
            SQLAlchemyError,
            OSError,
            ValueError,
        ) as error:
            raise click.ClickException(" ".join(str(error).split())) from None

    return wrapper  # type: ignore[return-value]


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
    settings = Settings(**overrides)  # type: ignore[arg-type]
    context.obj = settings
    if context.invoked_subcommand is not None:
        return
    logging.basicConfig(level=log_level.upper(), format="%(asctime)s %(levelname)s %(message)s")
    state = load_state(settings)
    card = state.scorer.card
    click.echo(
        f"serving {card.model_id} (thresholds {card.threshold_set_id}, policy "
        f"{state.policy.version}) on {host}:{port}; SIGHUP re-reads the policy"
    )
    uvicorn.run(create_app(state=state), host=host, port=port, log_level=log_level)


def _session_factory(settings: Settings) -> Any:
    if settings.auto_migrate:
        upgrade_database(settings.database_url)
    engine = create_db_engine(settings.database_url, timeout_s=settings.database_timeout_seconds)
    return make_session_factory(engine)


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
        _session_factory(settings),
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
    counts = erase_seller(_session_factory(settings), seller_id)
    click.echo(
        f"erased seller {seller_id!r}: {counts.decisions} decisions, {counts.work_items} work items"
    )


@main.command("export")
@click.option("--out", type=click.Path(path_type=Path, dir_okay=False), help="Default: stdout.")
@click.option("--redact", is_flag=True, help="Pseudonymize seller ids, drop free-text notes.")
@click.option(
    "--since",
    type=click.DateTime(formats=["%Y-%m-%d", "%Y-%m-%dT%H:%M:%S"]),
    help="Only decisions from this UTC date or time on.",
)
@click.pass_obj
@service_errors
def export_command(
    settings: Settings, out: Path | None, redact: bool, since: datetime | None
) -> None:
    """Export decisions with their review outcomes as JSON lines."""
    factory = _session_factory(settings)
    key = settings.pseudonym_key.get_secret_value() if settings.pseudonym_key else None
    since_utc = since.replace(tzinfo=UTC) if since else None
    if out is None:
        written = export_decisions(
            factory, sys.stdout, redact=redact, pseudonym_key=key, since=since_utc
        )
    else:
        with out.open("w", encoding="utf-8") as handle:
            written = export_decisions(
                factory, handle, redact=redact, pseudonym_key=key, since=since_utc
            )
    click.echo(f"exported {written} decisions{' (redacted)' if redact else ''}", err=True)


if __name__ == "__main__":
    main()
