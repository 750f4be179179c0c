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
    taxonomy: default             # a taxonomy file (relative to this file) or a built-in
                                  #   name; its labels are the ones `labels` may name
    listing:                      # listing_id title description price currency category
      title: name                 #   seller_id market; a column name, a dotted JSON path
      price: 3                    #   (offer.price) or a 0-based index; a title or a
                                  #   description is required
    attributes:
      condition: item_condition
    labels:                       # the taxonomy's labels (default: fraud counterfeit
      fraud: {column: verdict, values: {spam: 1, ham: 0}}   # regulated) and the category
                                  #   target <category label>_category (regulated_category)
    constants: {market: US, currency: USD}
    slices:                       # report-only columns, never model features
      source: source
"""

import codecs
import re
from pathlib import Path
from typing import Any, Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    ValidationError,
    ValidationInfo,
    field_validator,
    model_validator,
)

from data.cell_values import CellValueError, MapTarget, as_binary_label, lookup_text
from data.errors import MappingError
from data.schema import Listing
from data.taxonomy import (
    Taxonomy,
    TaxonomyError,
    default_taxonomy,
    load_taxonomy,
    resolve_taxonomy_path,
)
from data.yaml_files import read_yaml_keys

BUILTIN_MAPPINGS_DIR = Path(__file__).with_name("mappings")

ListingTarget = Literal[
    "listing_id", "title", "description", "price", "currency", "category", "seller_id", "market"
]
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
    taxonomy: Taxonomy = Field(default_factory=default_taxonomy)
    """The labels this dataset is labeled in; YAML names a file or a built-in taxonomy."""
    attributes: dict[str, ColumnRef] = Field(default_factory=dict)
    labels: dict[str, ColumnRef] = Field(default_factory=dict)
    """Label targets: the taxonomy's labels and its category target."""
    constants: dict[str, str | int | float] = Field(default_factory=dict)
    slices: dict[str, ColumnRef] = Field(default_factory=dict)

    @field_validator("taxonomy", mode="before")
    @classmethod
    def _taxonomy_file(cls, value: Any, info: ValidationInfo) -> Any:
        if not isinstance(value, str):
            return value
        base_dir = (info.context or {}).get("base_dir")
        try:
            return load_taxonomy(resolve_taxonomy_path(value, base_dir))
        except TaxonomyError as error:
            raise ValueError(str(error)) from None

    @model_validator(mode="after")
    def _consistent(self) -> "ColumnMapping":
        if "title" not in self.listing and "description" not in self.listing:
            raise ValueError("listing: map a title or a description column (or both)")
        self._check_label_targets()
        self._check_constants()
        self._check_slices_are_slice_only()
        return self

    @property
    def label_targets(self) -> tuple[str, ...]:
        """What ``labels`` (and label constants) may name: the taxonomy's labels, its category."""
        category = self.taxonomy.category_target
        return self.taxonomy.label_names + ((category,) if category else ())

    def _check_label_targets(self) -> None:
        for target in self.labels:
            if target not in self.label_targets:
                raise ValueError(
                    f"labels.{target}: not a label of taxonomy {self.taxonomy.name!r}; "
                    f"expected one of {list(self.label_targets)}"
                )

    def _check_constants(self) -> None:
        for target in self.constants:
            if target in self.listing or target in self.labels:
                section = "listing" if target in self.listing else "labels"
                raise ValueError(f"constants.{target}: also mapped from a column in {section}")
            if target not in Listing.model_fields and target not in self.label_targets:
                expected = sorted(set(Listing.model_fields) | set(self.label_targets))
                raise ValueError(f"constants.{target}: unknown target; expected one of {expected}")
        listing_constants = {k: v for k, v in self.constants.items() if k in Listing.model_fields}
        try:
            Listing.model_validate({"listing_id": "-", "title": "-", **listing_constants})
        except ValidationError as error:
            first = error.errors()[0]
            key = ".".join(str(part) for part in first["loc"])
            raise ValueError(f"constants.{key}: {first['msg']}") from None
        for label in self.taxonomy.label_names:
            if label in self.constants:
                try:
                    as_binary_label(self.constants[label])
                except CellValueError as problem:
                    raise ValueError(f"constants.{label}: {problem.detail}") from None
        category = self.taxonomy.category_target
        if category in self.constants:
            self.taxonomy.check_category(str(self.constants[category]), f"constants.{category}")

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
        """The labels this dataset carries, in taxonomy order; the others are unknown."""
        return tuple(
            label
            for label in self.taxonomy.label_names
            if label in self.labels or label in self.constants
        )

    def semantic_content(self) -> dict[str, Any]:
        """What the mapping means, independent of file format and column positions or names."""
        value_maps = {key: ref.values for key, ref in self.column_refs() if ref.values}
        return {
            "name": self.name,
            "taxonomy": self.taxonomy.model_dump(mode="json"),
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
    document = read_yaml_keys(file, MappingError, "mapping")
    try:
        return ColumnMapping.model_validate(document, context={"base_dir": Path(path).parent})
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


_NAMED_KEY = re.compile(r"^([a-z_]+(?:\.[A-Za-z0-9_]+)*): ")


def _mapping_error(error: ValidationError, file: str) -> MappingError:
    problems = []
    for detail in error.errors():
        key = ".".join(str(part) for part in detail["loc"] if part != "[key]")
        message = detail["msg"].removeprefix("Value error, ")
        named = _NAMED_KEY.match(message)
        if not key and named:  # a rule over the whole mapping that names its key
            key, message = named[1], message[named.end() :]
        problems.append((key, message))
    if len(problems) == 1:
        key, message = problems[0]
        return MappingError(message, file=file, field=key or None)
    return MappingError(
        "; ".join(f"{key}: {msg}" if key else msg for key, msg in problems), file=file
    )
