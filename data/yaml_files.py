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


def line_of(text: str, path: tuple[str | int, ...]) -> tuple[int, int] | None:
    """1-based (line, column) of the YAML node at ``path`` (keys and list indices), or of the
    deepest node on the way that exists; None when the text does not parse."""
    try:
        node = yaml.compose(text)
    except yaml.YAMLError:
        return None
    found = node
    for part in path:
        child = _child(found, part) if found is not None else None
        if child is None:
            break
        found = child
    if found is None:
        return None
    return found.start_mark.line + 1, found.start_mark.column + 1


def _child(node: yaml.Node, part: str | int) -> yaml.Node | None:
    if isinstance(node, yaml.MappingNode):
        for key, value in node.value:
            if str(key.value) == str(part):
                found: yaml.Node = value
                return found
    if isinstance(node, yaml.SequenceNode) and isinstance(part, int) and part < len(node.value):
        child: yaml.Node = node.value[part]
        return child
    return None
