"""``listingguard-serve keys`` (create, list, revoke API keys) and ``audit export``."""

from datetime import datetime
from pathlib import Path

import click

from serving.api_keys import create_key, list_keys, revoke_key
from serving.audit_log import export_audit, log_action
from serving.cli_support import (
    out_option,
    service_errors,
    session_factory_of,
    since_option,
    utc,
    write_lines,
)
from serving.roles import ROLES
from serving.settings import Settings

CLI_ACTOR = "listingguard-serve"


@click.group()
def keys() -> None:
    """API keys: every endpoint but /healthz and /readyz needs one."""


@keys.command("create")
@click.option("--name", required=True, help="Who the key stands for (the reviewer's name).")
@click.option("--role", required=True, type=click.Choice(ROLES))
@click.option("--rate-per-minute", type=click.IntRange(1), help="Default: the role's.")
@click.pass_obj
@service_errors
def create(settings: Settings, name: str, role: str, rate_per_minute: int | None) -> None:
    """Create a key and print it: it is shown this once, only its digest is stored."""
    factory = session_factory_of(settings)
    record, key = create_key(factory, name, role, rate_per_minute=rate_per_minute)
    log_action(
        factory, "key.create", actor=CLI_ACTOR, role=None, target=record.id,
        detail={"name": record.name, "role": record.role},
    )  # fmt: skip
    click.echo(key)
    click.echo(
        f"key {record.id} for {record.name!r} ({record.role}, "
        f"{record.rate_per_minute} requests/minute): store it now, it is not shown again",
        err=True,
    )


@keys.command("list")
@click.pass_obj
@service_errors
def list_command(settings: Settings) -> None:
    """Keys with their names, roles, limits and whether they are revoked (never the secret)."""
    for record in list_keys(session_factory_of(settings)):
        state = f"revoked {record.revoked_at:%Y-%m-%d %H:%M}" if record.revoked_at else "active"
        click.echo(
            f"{record.id}  {record.role:<16} {record.rate_per_minute:>8}/min  {state:<24} "
            f"{record.name}"
        )


@keys.command("revoke")
@click.argument("key_id")
@click.pass_obj
@service_errors
def revoke(settings: Settings, key_id: str) -> None:
    """Revoke KEY_ID: requests with it are refused (after at most 30 s on each replica)."""
    factory = session_factory_of(settings)
    record = revoke_key(factory, key_id)
    log_action(factory, "key.revoke", actor=CLI_ACTOR, role=None, target=record.id)
    click.echo(f"revoked key {record.id} ({record.name!r}, {record.role})")


@click.group()
def audit() -> None:
    """The audit log of actions and work-item moves."""


@audit.command("export")
@out_option
@since_option("entries")
@click.pass_obj
@service_errors
def export(settings: Settings, out: Path | None, since: datetime | None) -> None:
    """Write the audit log as JSON lines, oldest first."""
    factory = session_factory_of(settings)
    written = write_lines(out, lambda handle: export_audit(factory, handle, since=utc(since)))
    click.echo(f"exported {written} audit entries", err=True)
