"""Column mappings: how the columns of a labeled dataset file become listings, labels and slices.

A mapping YAML file holds two kinds of content:

* ``read``: how to parse this particular file (format, header, delimiter, quoting, encoding,
  Hugging Face split). It is about the container, so the dataset fingerprint leaves it out.
* everything else: which source column feeds which listing field, label or slice, value maps and
  constants. Its meaning (not where the columns sit) is :meth:`ColumnMapping.semantic_content`,
  part of the fingerprint.

Labels not listed under ``labels`` or ``constants`` are unknown (``None``) for every row, never 0.
Columns listed under ``slices`` land in :attr:`LabeledListing.slices` only and may not also feed a
listing field, so a slice-only column can never become a model feature.

Every key, with the defaults of ``read``::

    name: my-shop                 # dataset name; unmapped listing ids become my-shop-<row>
    description: free text        # for people; not part of the fingerprint
    read:
      format: csv                 # csv | jsonl | parquet | hf; default: from the file suffix
      header: true                # csv: first line names the columns
      delimiter: ","              # csv: default "," ("\\t" for .tsv/.tab)
      quoting: minimal            # csv: minimal | none (quote characters are plain text)
      encoding: utf-8
      split: train                # hf: which split of a DatasetDict (or pass dir:split)
    listing:                      # listing_id title description price currency category
      title: name                 #   seller_id market; a column name, a dotted JSON path
      price: 3                    #   (offer.price) or a 0-based index; title is required
    attributes:
      condition: item_condition
    labels:                       # fraud counterfeit regulated regulated_category
      fraud: {column: verdict, values: {spam: 1, ham: 0}}
    constants: {market: US, currency: USD}
    slices:                       # report-only columns, never model features
      source: source
"""

import codecs
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from data.cell_values import MapTarget, lookup_text
from data.errors import MappingError
from data.schema import Labels, Listing
from data.taxonomy import LABELS

BUILTIN_MAPPINGS_DIR = Path(__file__).with_name("mappings")

ListingTarget = Literal[
    "listing_id", "title", "description", "price", "currency", "category", "seller_id", "market"
]
LabelTarget = Literal["fraud", "counterfeit", "regulated", "regulated_category"]
FileFormat = Literal["csv", "jsonl", "parquet", "hf"]
ColumnKey = str | int


class ColumnRef(BaseModel):
    """One source column (a name, a dotted JSON path or a 0-based index) and its value map.

    In YAML either the bare column (``title: name`` or ``title: 1``) or an object
    ``{column: 0, values: {spam: 1, ham: 0}}``.
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    column: ColumnKey
    values: dict[str, MapTarget] | None = None

    @model_validator(mode="before")
    @classmethod
    def _bare_column(cls, data: Any) -> Any:
        return data if isinstance(data, dict | ColumnRef) else {"column": data}

    @field_validator("column", mode="before")
    @classmethod
    def _name_or_index(cls, value: Any) -> Any:
        is_index = isinstance(value, int) and not isinstance(value, bool) and value >= 0
        if is_index or (isinstance(value, str) and value.strip()):
            return value
        raise ValueError(f"column must be a column name or a 0-based index, got {value!r}")

    @field_validator("values", mode="before")
    @classmethod
    def _normalized_keys(cls, value: Any) -> Any:
        """Keys as :func:`lookup_text` writes cells, so ``1:`` and ``"1":`` match the same."""
        if not isinstance(value, dict):
            return value
        normalized = {lookup_text(key): target for key, target in value.items()}
        if len(normalized) != len(value):
            raise ValueError("value map has keys that are the same once written as text")
        return normalized


class ReadOptions(BaseModel):
    """How to parse the file; format-specific, so excluded from the dataset fingerprint."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    format: FileFormat | None = None
    header: bool = True
    delimiter: str | None = Field(default=None, min_length=1, max_length=1)
    quoting: Literal["minimal", "none"] = "minimal"
    encoding: str = "utf-8"
    split: str | None = Field(default=None, min_length=1)

    @field_validator("encoding")
    @classmethod
    def _known_encoding(cls, value: str) -> str:
        try:
            codecs.lookup(value)
        except LookupError:
            raise ValueError(f"unknown encoding {value!r}") from None
        return value


class ColumnMapping(BaseModel):
    """A validated column mapping; build it with :func:`load_mapping`."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str = Field(pattern=r"^[A-Za-z0-9][A-Za-z0-9._-]*$", max_length=100)
    description: str = ""
    read: ReadOptions = ReadOptions()
    listing: dict[ListingTarget, ColumnRef]
    attributes: dict[str, ColumnRef] = Field(default_factory=dict)
    labels: dict[LabelTarget, ColumnRef] = Field(default_factory=dict)
    constants: dict[ListingTarget | LabelTarget, str | int | float] = Field(default_factory=dict)
    slices: dict[str, ColumnRef] = Field(default_factory=dict)

    @model_validator(mode="after")
    def _consistent(self) -> "ColumnMapping":
        if "title" not in self.listing and "description" not in self.listing:
            raise ValueError("listing: map a title or a description column (or both)")
        self._check_constants()
        self._check_slices_are_slice_only()
        return self

    def _check_constants(self) -> None:
        for target in self.constants:
            if target in self.listing or target in self.labels:
                section = "listing" if target in self.listing else "labels"
                raise ValueError(f"constants.{target}: also mapped from a column in {section}")
        listing_constants = {k: v for k, v in self.constants.items() if k in Listing.model_fields}
        label_constants = {k: v for k, v in self.constants.items() if k in Labels.model_fields}
        try:
            Listing.model_validate({"listing_id": "-", "title": "-", **listing_constants})
            Labels.model_validate(label_constants)
        except ValidationError as error:
            first = error.errors()[0]
            key = ".".join(str(part) for part in first["loc"]) or "labels"
            raise ValueError(f"constants.{key}: {first['msg']}") from None

    def _check_slices_are_slice_only(self) -> None:
        feature_columns = {
            ref.column: key
            for key, ref in self.column_refs()
            if key.startswith(("listing.", "attributes."))
        }
        for name, ref in self.slices.items():
            if ref.column in feature_columns:
                raise ValueError(
                    f"slices.{name}: column {ref.column!r} also feeds "
                    f"{feature_columns[ref.column]}; slice columns must stay out of listings"
                )

    def column_refs(self) -> list[tuple[str, ColumnRef]]:
        """Every mapped column with the mapping key that uses it, e.g. ``("labels.fraud", ref)``."""
        sections: dict[str, dict[Any, ColumnRef]] = {
            "listing": dict(self.listing),
            "attributes": self.attributes,
            "labels": dict(self.labels),
            "slices": self.slices,
        }
        return [
            (f"{section}.{key}", ref)
            for section, refs in sections.items()
            for key, ref in refs.items()
        ]

    def source_column(self, field: str) -> ColumnKey | None:
        """The column feeding a listing field or label, None when unmapped or constant."""
        for key, ref in self.column_refs():
            if key in (f"listing.{field}", f"labels.{field}"):
                return ref.column
        return None

    @property
    def known_labels(self) -> tuple[str, ...]:
        """The labels this dataset carries, in :data:`LABELS` order; the others are unknown."""
        return tuple(label for label in LABELS if label in self.labels or label in self.constants)

    def semantic_content(self) -> dict[str, Any]:
        """What the mapping means, independent of file format and column positions or names."""
        value_maps = {key: ref.values for key, ref in self.column_refs() if ref.values}
        return {
            "name": self.name,
            "listing_fields": sorted(self.listing),
            "attributes": sorted(self.attributes),
            "known_labels": list(self.known_labels),
            "label_fields": sorted(self.labels),
            "constants": {key: self.constants[key] for key in sorted(self.constants)},
            "value_maps": {key: value_maps[key] for key in sorted(value_maps)},
            "slices": sorted(self.slices),
        }


def load_mapping(path: str | Path) -> ColumnMapping:
    """Read and validate a mapping YAML file; errors name the file, the key and the line."""
    file = str(path)
    try:
        text = Path(path).read_text(encoding="utf-8")
    except OSError as error:
        raise MappingError(f"cannot read mapping: {error.strerror}", file=file) from None
    try:
        document = yaml.safe_load(text)
    except yaml.MarkedYAMLError as error:
        mark = error.problem_mark
        line, column = (mark.line + 1, mark.column + 1) if mark is not None else (None, None)
        message = f"invalid YAML: {error.problem}"
        raise MappingError(message, file=file, line=line, column=column) from None
    if not isinstance(document, dict):
        raise MappingError("a mapping file must be a YAML mapping of keys", file=file)
    try:
        return ColumnMapping.model_validate(document)
    except ValidationError as error:
        raise _mapping_error(error, file) from None


def resolve_mapping_path(spec: str | Path) -> Path:
    """A mapping file path, or the path of a built-in mapping named like ``sms-spam-collection``."""
    path = Path(spec)
    if path.is_file():
        return path
    builtin = BUILTIN_MAPPINGS_DIR / f"{spec}.yaml"
    if builtin.is_file():
        return builtin
    names = ", ".join(builtin_mapping_names())
    raise MappingError(f"no such mapping file, nor a built-in mapping ({names})", file=str(spec))


def builtin_mapping_names() -> list[str]:
    """Names of the mappings shipped in ``data/mappings``."""
    return sorted(path.stem for path in BUILTIN_MAPPINGS_DIR.glob("*.yaml"))


def _mapping_error(error: ValidationError, file: str) -> MappingError:
    problems = []
    for detail in error.errors():
        key = ".".join(str(part) for part in detail["loc"] if part != "[key]")
        problems.append((key, detail["msg"].removeprefix("Value error, ")))
    if len(problems) == 1:
        key, message = problems[0]
        return MappingError(message, file=file, field=key or None)
    return MappingError(
        "; ".join(f"{key}: {msg}" if key else msg for key, msg in problems), file=file
    )
