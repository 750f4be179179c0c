"""What every ``listingguard-serve`` command shares: error handling and the database."""

import sys
from collections.abc import Callable
from datetime import UTC, datetime
from functools import wraps
from pathlib import Path
from typing import IO, Any, TypeVar

import click
from pydantic import ValidationError
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session, sessionmaker

from models.errors import BundleError, PolicyError
from serving.app import StartupError
from serving.db import create_db_engine, make_session_factory, upgrade_database
from serving.errors import ServingError
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
            ServingError,
        ) as error:
            raise click.ClickException(" ".join(str(error).split())) from None

    return wrapper  # type: ignore[return-value]


def out_option(command: F) -> F:
    """``--out FILE`` (default: stdout)."""
    option = click.option(
        "--out", type=click.Path(path_type=Path, dir_okay=False), help="Default: stdout."
    )
    return option(command)


def since_option(what: str) -> Callable[[F], F]:
    """``--since DATE|DATETIME`` (UTC): only ``what`` from then on."""
    return click.option(
        "--since",
        type=click.DateTime(formats=["%Y-%m-%d", "%Y-%m-%dT%H:%M:%S"]),
        help=f"Only {what} from this UTC date or time on.",
    )


def write_lines(out: Path | None, write: Callable[[IO[str]], int]) -> int:
    """Run ``write`` on stdout, or on ``out`` opened for writing; what it returns."""
    if out is None:
        return write(sys.stdout)
    with out.open("w", encoding="utf-8") as handle:
        return write(handle)


def utc(moment: datetime | None) -> datetime | None:
    """A naive command-line datetime read as UTC."""
    return moment.replace(tzinfo=UTC) if moment else None


def session_factory_of(settings: Settings) -> sessionmaker[Session]:
    """Sessions on the service database, migrated first unless auto-migration is off."""
    if settings.auto_migrate:
        upgrade_database(settings.database_url)
    engine = create_db_engine(settings.database_url, timeout_s=settings.database_timeout_seconds)
    return make_session_factory(engine)
