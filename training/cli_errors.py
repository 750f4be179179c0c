"""Library errors become one-line CLI errors here, at the edge: exit status 1, no traceback."""

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from functools import wraps
from typing import ParamSpec, TypeVar

import click

from data.errors import DataError
from evaluation.errors import EvaluationError
from models.errors import BundleError, PolicyError
from training.errors import TrainingError

P = ParamSpec("P")
R = TypeVar("R")
USER_ERRORS = (DataError, BundleError, PolicyError, TrainingError, EvaluationError)


@contextmanager
def one_line_errors() -> Iterator[None]:
    """Domain and file-system errors as one line and exit status 1, never a traceback."""
    try:
        yield
    except USER_ERRORS as error:
        raise click.ClickException(" ".join(str(error).split())) from None
    except OSError as error:
        where = f"{error.filename}: " if error.filename else ""
        raise click.ClickException(f"{where}{error.strerror or error}") from None


def user_errors(function: Callable[P, R]) -> Callable[P, R]:
    """Decorator form of :func:`one_line_errors` for click commands."""

    @wraps(function)
    def wrapper(*args: P.args, **kwargs: P.kwargs) -> R:
        with one_line_errors():
            return function(*args, **kwargs)

    return wrapper
