"""Reading a YAML file of keys (mappings, taxonomies) with errors that name file, line, column."""

from pathlib import Path
from typing import Any

import yaml

from data.errors import DataError


def read_yaml_keys(file: str, error: type[DataError], kind: str) -> dict[str, Any]:
    """The top-level mapping of ``file``; ``error(...)`` names file (and line, column) otherwise."""
    try:
        text = Path(file).read_text(encoding="utf-8")
    except OSError as problem:
        raise error(f"cannot read {kind}: {problem.strerror}", file=file) from None
    try:
        document = yaml.safe_load(text)
    except yaml.MarkedYAMLError as problem:
        mark = problem.problem_mark
        line, column = (mark.line + 1, mark.column + 1) if mark is not None else (None, None)
        raise error(
            f"invalid YAML: {problem.problem}", file=file, line=line, column=column
        ) from None
    if not isinstance(document, dict):
        raise error(f"a {kind} file must be a YAML mapping of keys", file=file)
    return document
