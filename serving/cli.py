"""``listingguard-serve``: run the scoring service on one model bundle."""

import logging
from pathlib import Path

import click
import uvicorn
from pydantic import ValidationError
from sqlalchemy.exc import SQLAlchemyError

from models.errors import BundleError
from serving.app import StartupError, create_app, load_state
from serving.settings import Settings


@click.command(context_settings={"help_option_names": ["-h", "--help"]})
@click.option("--bundle", type=click.Path(path_type=Path), help="Model bundle directory.")
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=8000, show_default=True, type=click.IntRange(0, 65535))
@click.option("--database-url", help="SQLAlchemy URL (default: LISTINGGUARD_DATABASE_URL).")
@click.option("--log-level", default="info", show_default=True)
def main(
    bundle: Path | None, host: str, port: int, database_url: str | None, log_level: str
) -> None:
    """Serve POST /v1/score and the review queue for the bundle in --bundle or LISTINGGUARD_BUNDLE.

    Other settings come from LISTINGGUARD_* environment variables (see the README).
    """
    logging.basicConfig(level=log_level.upper(), format="%(asctime)s %(levelname)s %(message)s")
    overrides: dict[str, object] = {}
    if bundle is not None:
        overrides["bundle"] = bundle
    if database_url is not None:
        overrides["database_url"] = database_url
    try:
        settings = Settings(**overrides)  # type: ignore[arg-type]
        state = load_state(settings)
    except ValidationError as error:
        problems = "; ".join(
            f"LISTINGGUARD_{'_'.join(str(part) for part in item['loc']).upper()}: {item['msg']}"
            for item in error.errors()
        )
        raise click.ClickException(problems) from None
    except (StartupError, BundleError, SQLAlchemyError, OSError, ValueError) as error:
        raise click.ClickException(" ".join(str(error).split())) from None
    card = state.scorer.card
    click.echo(f"serving {card.model_id} (thresholds {card.threshold_set_id}) on {host}:{port}")
    uvicorn.run(create_app(state=state), host=host, port=port, log_level=log_level)


if __name__ == "__main__":
    main()
