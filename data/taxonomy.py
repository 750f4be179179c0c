"""The risk taxonomy: which labels exist, which one carries categories, and their default actions.

A taxonomy is a YAML file (``data/taxonomies/default.yaml`` is today's three labels with their
regulated-product categories). A mapping names the taxonomy its dataset is labeled in; training
copies it onto the model card, so serving's schemas, the default policy and every report follow
the labels it defines. Nothing else in the code base names a label.
"""

import re
from functools import cache
from pathlib import Path
from typing import Final, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from data.errors import DataError
from data.yaml_files import read_yaml_keys

BUILTIN_TAXONOMIES_DIR: Final = Path(__file__).with_name("taxonomies")
DEFAULT_TAXONOMY_NAME: Final = "default"
NAME_PATTERN: Final = r"^[a-z][a-z0-9_]{0,39}$"

Action = Literal["allow", "review", "block"]
"""What a listing's outcome can be; the policy maps auto-enforced labels to one of these."""


class TaxonomyError(DataError):
    """A taxonomy file that is malformed or inconsistent; ``field`` is the key."""


class CategoryDef(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    description: str = ""
    enforce_action: Action = "review"
    """The default policy's action when the label is auto-enforced with this category."""


class LabelDef(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str = Field(pattern=NAME_PATTERN)
    description: str = ""
    enforce_action: Action = "review"
    """The default policy's action when this label is auto-enforced (for the label that carries
    categories: when its category is unknown or not listed)."""
    categories: dict[str, CategoryDef] | None = None

    @model_validator(mode="after")
    def _category_names(self) -> "LabelDef":
        for name in self.categories or {}:
            if not _is_name(name):
                raise ValueError(f"category {name!r} must match {NAME_PATTERN}")
        if self.categories is not None and len(self.categories) < 2:
            raise ValueError("categories: list at least two (a single category says nothing)")
        return self


class Taxonomy(BaseModel):
    """Labels in output order; at most one of them carries categories."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str = Field(min_length=1, max_length=100)
    labels: tuple[LabelDef, ...] = Field(min_length=1)

    @model_validator(mode="after")
    def _consistent(self) -> "Taxonomy":
        names = [label.name for label in self.labels]
        repeated = sorted({name for name in names if names.count(name) > 1})
        if repeated:
            raise ValueError(f"labels: {repeated} listed more than once")
        carriers = [label.name for label in self.labels if label.categories is not None]
        if len(carriers) > 1:
            raise ValueError(f"labels: only one label may carry categories, not {carriers}")
        if self.category_target is not None and self.category_target in names:
            raise ValueError(f"labels: {self.category_target!r} is the category target's name")
        return self

    @property
    def label_names(self) -> tuple[str, ...]:
        return tuple(label.name for label in self.labels)

    @property
    def category_label(self) -> str | None:
        """The label whose violations are further split into categories, if any."""
        return next((label.name for label in self.labels if label.categories is not None), None)

    @property
    def categories(self) -> tuple[str, ...]:
        """The category label's categories, in the order of the category head's outputs."""
        carrier = next((label for label in self.labels if label.categories is not None), None)
        return tuple(carrier.categories or {}) if carrier is not None else ()

    @property
    def category_target(self) -> str | None:
        """The mapping and label key of the category: ``<category label>_category``."""
        return None if self.category_label is None else f"{self.category_label}_category"

    def label(self, name: str) -> LabelDef:
        for label in self.labels:
            if label.name == name:
                return label
        raise KeyError(f"unknown label {name!r}; {self.valid_labels_text()}")

    def unknown_labels(self, names: object) -> list[str]:
        """The names in ``names`` that are not labels of this taxonomy, sorted."""
        return sorted(set(names) - set(self.label_names))  # type: ignore[call-overload]

    def valid_labels_text(self) -> str:
        return f"taxonomy {self.name!r} has labels {list(self.label_names)}"

    def check_labels(self, names: object, where: str) -> None:
        """Raise ``ValueError`` naming ``where`` when ``names`` holds unknown labels."""
        unknown = self.unknown_labels(names)
        if unknown:
            raise ValueError(f"{where}: unknown label(s) {unknown}; {self.valid_labels_text()}")

    def check_category(self, value: str | None, where: str) -> None:
        if value is not None and value not in self.categories:
            expected = ", ".join(self.categories) or "none (no label carries categories)"
            raise ValueError(f"{where}: unknown category {value!r}; expected one of {expected}")


def load_taxonomy(spec: str | Path) -> Taxonomy:
    """A taxonomy from a YAML file or a built-in name (``default``); errors name the file."""
    path = resolve_taxonomy_path(spec)
    return _load_file(str(path.resolve()))


def default_taxonomy() -> Taxonomy:
    return load_taxonomy(DEFAULT_TAXONOMY_NAME)


def builtin_taxonomy_names() -> list[str]:
    return sorted(path.stem for path in BUILTIN_TAXONOMIES_DIR.glob("*.yaml"))


def resolve_taxonomy_path(spec: str | Path, base_dir: Path | None = None) -> Path:
    """``spec`` as a file (relative to ``base_dir`` when given), else a built-in name."""
    path = Path(spec)
    if base_dir is not None and not path.is_absolute():
        path = base_dir / path
    if path.is_file():
        return path
    builtin = BUILTIN_TAXONOMIES_DIR / f"{spec}.yaml"
    if builtin.is_file():
        return builtin
    names = ", ".join(builtin_taxonomy_names())
    raise TaxonomyError(f"no such taxonomy file, nor a built-in taxonomy ({names})", file=str(path))


@cache
def _load_file(file: str) -> Taxonomy:
    document = read_yaml_keys(file, TaxonomyError, "taxonomy")
    try:
        return Taxonomy.model_validate(document)
    except ValidationError as error:
        detail = error.errors()[0]
        key = ".".join(str(part) for part in detail["loc"]) or None
        message = detail["msg"].removeprefix("Value error, ")
        raise TaxonomyError(message, file=file, field=key) from None


def _is_name(value: str) -> bool:
    return re.fullmatch(NAME_PATTERN, value) is not None
