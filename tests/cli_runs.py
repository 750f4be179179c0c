"""Running ``listingguard`` in-process against a LISTINGGUARD_HOME of a test's own."""

import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from click.testing import CliRunner, Result

from training.cli import main


def invoke(*args: str | Path) -> Result:
    return CliRunner().invoke(main, [str(arg) for arg in args])


@contextmanager
def listingguard_home(home: Path) -> Iterator[Path]:
    """LISTINGGUARD_HOME at ``home``, the default tracking store; the environment restored after."""
    saved = dict(os.environ)
    os.environ["LISTINGGUARD_HOME"] = str(home)
    os.environ.pop("MLFLOW_TRACKING_URI", None)
    try:
        yield home
    finally:
        # The CLI sets telemetry and cache variables with setdefault: undo those as well.
        os.environ.clear()
        os.environ.update(saved)
