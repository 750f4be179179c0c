"""Policy files: YAML validated into :class:`models.policy.Policy`; errors ``file:line: clause``."""

from pathlib import Path
from typing import Any

import yaml
from pydantic import ValidationError

from data.taxonomy import Taxonomy
from data.yaml_files import line_of
from models.errors import PolicyError
from models.policy import Policy, default_policy

BUILTIN_POLICIES_DIR = Path(__file__).with_name("policies")


def resolve_policy_path(spec: str | Path) -> Path:
    """A policy file, or a built-in policy by name (``marketplace-example``)."""
    path = Path(spec)
    if path.is_file():
        return path
    builtin = BUILTIN_POLICIES_DIR / f"{spec}.yaml"
    if builtin.is_file():
        return builtin
    names = ", ".join(["default", *sorted(p.stem for p in BUILTIN_POLICIES_DIR.glob("*.yaml"))])
    raise PolicyError(f"{spec}: no such policy file, nor a built-in policy ({names})")


DEFAULT_POLICY_SPEC = "default"
"""Names the taxonomy's own default policy (:func:`models.policy.default_policy`)."""


def load_policy(spec: str | Path, taxonomy: Taxonomy | None = None) -> Policy:
    """Read, validate and (given ``taxonomy``) check a policy file; one-line errors.

    ``default`` (where no such file exists) is the default policy of ``taxonomy``.
    """
    if str(spec) == DEFAULT_POLICY_SPEC and taxonomy is not None and not Path(spec).exists():
        return default_policy(taxonomy)
    path = resolve_policy_path(spec)
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as error:
        raise PolicyError(f"{path}: cannot read the policy: {error.strerror}") from None
    except UnicodeDecodeError as error:
        raise PolicyError(f"{path}: not UTF-8 text (byte {error.start})") from None
    try:
        document: Any = yaml.safe_load(text)
    except yaml.MarkedYAMLError as error:
        mark = error.problem_mark
        where = f"{path}:{mark.line + 1}:{mark.column + 1}" if mark else str(path)
        raise PolicyError(f"{where}: invalid YAML: {error.problem}") from None
    except yaml.YAMLError as error:  # e.g. a control character the reader refuses
        raise PolicyError(f"{path}: invalid YAML: {' '.join(str(error).split())}") from None
    if not isinstance(document, dict):
        raise PolicyError(f"{path}: a policy file is a YAML mapping of keys")
    try:
        policy = Policy.model_validate(document)
    except ValidationError as error:
        detail = error.errors()[0]
        location = tuple(part for part in detail["loc"] if not str(part).startswith("function-"))
        message = detail["msg"].removeprefix("Value error, ")
        clause = ".".join(str(part) for part in location)
        if not clause and ":" in message.split(" ")[0]:
            clause, message = message.split(": ", 1)
            location = tuple(clause.split("."))
        raise PolicyError(
            f"{_where(path, text, location)}: {clause or 'policy'}: {message}"
        ) from None
    if taxonomy is not None:
        try:
            policy.check_against(taxonomy)
        except ValueError as error:
            clause, _, message = str(error).partition(": ")
            raise PolicyError(
                f"{_where(path, text, tuple(clause.split('.')))}: {clause}: {message}"
            ) from None
    return policy


def _where(path: Path, text: str, location: tuple[Any, ...]) -> str:
    found = line_of(text, location)
    return f"{path}:{found[0]}" if found else str(path)
