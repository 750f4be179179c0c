"""``listingguard data``: check a labeled dataset through its mapping, or write demo data.

A thin layer over :mod:`data`: library errors become one-line CLI errors (exit status 1) here and
nowhere else.
"""

from pathlib import Path

import click

from data.demo import DEMO_MAPPING_NAME, write_demo_dataset
from data.errors import DataError
from data.fingerprint import dataset_fingerprint
from data.loaders import DEFAULT_MAX_DROPPED_SHARE, LoadResult, load_labeled
from data.mapping import builtin_mapping_names, load_mapping, resolve_mapping_path
from data.validation import validate_dataset

DEFAULT_SHOWN_PROBLEMS = 20

max_dropped_share_option = click.option(
    "--max-dropped-share",
    default=DEFAULT_MAX_DROPPED_SHARE,
    show_default=True,
    type=click.FloatRange(0.0, 1.0),
    help="Fail when a larger share of the file's rows is dropped.",
)


@click.group("data")
def data_group() -> None:
    """Check labeled datasets and write demo data."""


@data_group.command("validate")
@click.argument("file")
@click.option(
    "--mapping",
    "mapping_spec",
    required=True,
    help="Column-mapping YAML file, or a built-in mapping: "
    + ", ".join(builtin_mapping_names())
    + ".",
)
@click.option(
    "--show-problems",
    default=DEFAULT_SHOWN_PROBLEMS,
    show_default=True,
    type=click.IntRange(min=0),
    help="How many dropped-row problems to list.",
)
@max_dropped_share_option
def validate_command(
    file: str, mapping_spec: str, show_problems: int, max_dropped_share: float
) -> None:
    """Load FILE (or DIR[:SPLIT] of a Hugging Face dataset) and report on it.

    Exits 1 when more than --max-dropped-share of the rows are dropped.
    """
    result = _load_or_fail(file, mapping_spec)
    for line in validate_dataset(result).lines():
        click.echo(line)
    for line in result.truncation_lines():
        click.echo(line)
    click.echo(f"fingerprint: {dataset_fingerprint(result.rows, result.mapping)}")
    _echo_problems(result, show_problems)
    try:
        result.check_dropped_share(max_dropped_share)
    except DataError as error:
        raise click.ClickException(_one_line(str(error))) from None


@data_group.command("demo")
@click.argument("out_dir", type=click.Path(file_okay=False, path_type=Path))
@click.option("--rows", default=3000, show_default=True, type=click.IntRange(min=1))
@click.option("--seed", default=0, show_default=True, type=int)
def demo_command(out_dir: Path, rows: int, seed: int) -> None:
    """Write ROWS synthetic labeled listings (demo data only) to OUT_DIR."""
    try:
        path = write_demo_dataset(out_dir, n=rows, seed=seed)
    except OSError as error:
        raise click.ClickException(f"{out_dir}: cannot write demo data: {error.strerror}") from None
    click.echo(f"wrote {rows} demo listings to {path}")
    click.echo(f"check them with: listingguard data validate {path} --mapping {DEMO_MAPPING_NAME}")


def _load_or_fail(file: str, mapping_spec: str) -> LoadResult:
    try:
        mapping = load_mapping(resolve_mapping_path(mapping_spec))
        return load_labeled(file, mapping)
    except DataError as error:
        raise click.ClickException(_one_line(str(error))) from None


def _echo_problems(result: LoadResult, show: int) -> None:
    if not result.problems:
        return
    click.echo(f"problems ({len(result.problems)}):")
    for problem in result.problems[:show]:
        click.echo(f"  {_one_line(str(problem))}")
    hidden = len(result.problems) - show
    if hidden > 0:
        click.echo(f"  ... and {hidden} more (use --show-problems to list them)")


def _one_line(text: str) -> str:
    return " ".join(text.split())
