"""Turn one source record into a :class:`LabeledListing` as a column mapping says, or problems.

A row is either fully valid or dropped with every problem found in it; nothing is silently
repaired. Labels the mapping does not list stay ``None`` (unknown).
"""

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from pydantic import ValidationError

from data.cell_values import (
    MISSING,
    CellValueError,
    MapTarget,
    apply_value_map,
    as_binary_label,
    as_price,
    as_text,
)
from data.mapping import ColumnKey, ColumnMapping, ColumnRef
from data.schema import (
    MAX_ATTRIBUTE_CHARS,
    MAX_DESCRIPTION_CHARS,
    MAX_TITLE_CHARS,
    LabeledListing,
    Labels,
    Listing,
)

RawCells = Mapping[ColumnKey, object]
"""The raw value of every mapped column in one record (:data:`MISSING` when absent)."""


@dataclass(frozen=True)
class RowProblem:
    """Why one row was dropped: where (file, row, line, column), which field, and what."""

    file: str
    row: int
    line: int | None
    reason: str
    message: str
    field: str | None = None
    column: ColumnKey | None = None

    @property
    def where(self) -> str:
        """``file:line``, or ``file:row N`` where records have no line (Parquet, datasets)."""
        return (
            f"{self.file}:{self.line}" if self.line is not None else f"{self.file}:row {self.row}"
        )

    def __str__(self) -> str:
        where = self.where
        subject = self.field or ""
        if self.column is not None and self.column != self.field:
            subject += f" (column {self.column!r})"
        return (
            f"{where}: {subject.strip()}: {self.message}" if subject else f"{where}: {self.message}"
        )


@dataclass(frozen=True)
class RecordContext:
    """Where a record came from, to locate its problems."""

    file: str
    row: int
    line: int | None

    def problem(
        self,
        reason: str,
        message: str,
        *,
        field: str | None = None,
        column: ColumnKey | None = None,
    ) -> RowProblem:
        return RowProblem(self.file, self.row, self.line, reason, message, field, column)


@dataclass(frozen=True)
class _CellPlan:
    """How to fill one target: from which column, through which value map and conversion."""

    target: str
    column: ColumnKey
    values: dict[str, MapTarget] | None
    convert: Callable[[object], Any]


class RowConverter:
    """Converts records with one mapping; the per-column plan is worked out once per load."""

    def __init__(self, mapping: ColumnMapping) -> None:
        self.mapping = mapping
        self.generated_ids = "listing_id" not in mapping.listing
        self.listing_plan = [
            _plan(target, ref, as_price if target == "price" else as_text)
            for target, ref in mapping.listing.items()
        ]
        self.attribute_plan = [
            _plan(name, ref, as_text) for name, ref in mapping.attributes.items()
        ]
        taxonomy = mapping.taxonomy
        self.label_plan = [
            _plan(target, ref, as_binary_label if target in taxonomy.label_names else as_text)
            for target, ref in mapping.labels.items()
        ]
        self.slice_plan = [_plan(name, ref, as_text) for name, ref in mapping.slices.items()]
        self.listing_constants = _constants_of(mapping, Listing)
        self.label_constants = {
            key: value for key, value in mapping.constants.items() if key in mapping.label_targets
        }
        self.truncations: list[RowProblem] = []
        """Text cut to its limit (the row is kept): one entry per field and row."""

    def convert(self, cells: RawCells, context: RecordContext) -> LabeledListing | list[RowProblem]:
        """The labeled listing of one record, or the problems that make it unusable."""
        problems: list[RowProblem] = []
        listing = self._fill(self.listing_plan, "", cells, context, problems)
        if self.generated_ids:
            listing["listing_id"] = f"{self.mapping.name}-{context.row}"
        listing.update(self.listing_constants)
        attributes = self._fill(self.attribute_plan, "attributes.", cells, context, problems)
        if attributes:
            listing["attributes"] = attributes
        self._truncate_long_text(listing, context)
        targets = self._fill(self.label_plan, "", cells, context, problems, keep_none=True)
        targets.update(self.label_constants)
        labels = self._labels(targets, context, problems)
        slices = self._fill(self.slice_plan, "slices.", cells, context, problems)
        try:
            row = LabeledListing.model_validate(
                {"listing": listing, "labels": labels, "slices": slices}
            )
        except ValidationError as error:
            return problems + self._validation_problems(error, context, problems)
        return problems or row

    def _labels(
        self, targets: dict[str, Any], context: RecordContext, problems: list[RowProblem]
    ) -> Labels:
        """Label values and the category from the label targets, the category checked."""
        taxonomy = self.mapping.taxonomy
        values = {label: targets[label] for label in taxonomy.label_names if label in targets}
        for label, value in values.items():
            if isinstance(value, str | float):  # a label constant, checked by the mapping
                values[label] = as_binary_label(value)
        category_target = taxonomy.category_target
        category = targets.get(category_target) if category_target else None
        if category is None:
            return Labels(values=values)
        column = self.mapping.source_column(category_target or "")
        if category not in taxonomy.categories:
            expected = ", ".join(taxonomy.categories)
            problems.append(
                context.problem(
                    f"{category_target}: unknown category",
                    f"unknown category {_preview(category)}; expected one of {expected}",
                    field=category_target,
                    column=column,
                )
            )
        elif values.get(taxonomy.category_label or "") == 0:
            problems.append(
                context.problem(
                    f"{category_target}: set but {taxonomy.category_label} is 0",
                    f"category {category!r} is set but {taxonomy.category_label} is 0",
                    field=category_target,
                    column=column,
                )
            )
        return Labels(values=values, category=str(category))

    def _truncate_long_text(self, listing: dict[str, Any], context: RecordContext) -> None:
        for name, limit in (("title", MAX_TITLE_CHARS), ("description", MAX_DESCRIPTION_CHARS)):
            value = listing.get(name)
            if isinstance(value, str) and len(value) > limit:
                listing[name] = value[:limit]
                self._truncated(context, name, len(value), limit)
        for key, value in (listing.get("attributes") or {}).items():
            if isinstance(value, str) and len(value) > MAX_ATTRIBUTE_CHARS:
                listing["attributes"][key] = value[:MAX_ATTRIBUTE_CHARS]
                self._truncated(context, f"attributes.{key}", len(value), MAX_ATTRIBUTE_CHARS)

    def _truncated(self, context: RecordContext, field: str, length: int, limit: int) -> None:
        message = f"{length} characters cut to the first {limit}"
        column = self.mapping.source_column(field)
        problem = context.problem(
            f"{field}: truncated to {limit} characters", message, field=field, column=column
        )
        self.truncations.append(problem)

    def _fill(
        self,
        plan: list[_CellPlan],
        prefix: str,
        cells: RawCells,
        context: RecordContext,
        problems: list[RowProblem],
        *,
        keep_none: bool = False,
    ) -> dict[str, Any]:
        values: dict[str, Any] = {}
        for step in plan:
            raw = cells[step.column]
            try:
                mapped = apply_value_map(raw, step.values) if step.values is not None else raw
                value = step.convert(None if mapped is MISSING else mapped)
            except CellValueError as error:
                field = prefix + step.target
                reason = f"{field}: {error.reason}"
                problems.append(
                    context.problem(reason, error.detail, field=field, column=step.column)
                )
                continue
            if value is not None or keep_none:
                values[step.target] = value
        return values

    def _validation_problems(
        self, error: ValidationError, context: RecordContext, earlier: list[RowProblem]
    ) -> list[RowProblem]:
        """Problems pydantic found, except for cells already reported as not converting."""
        reported = {problem.field for problem in earlier}
        problems = []
        for detail in error.errors():
            problem = self._validation_problem(detail, context)
            if problem.field not in reported:
                problems.append(problem)
        return problems

    def _validation_problem(self, detail: Any, context: RecordContext) -> RowProblem:
        location = [str(part) for part in detail["loc"]]
        field = ".".join(location[1:]) or location[0]
        message = detail["msg"].removeprefix("Value error, ")
        named = _NAMED_FIELD.match(message)
        if named and len(location) == 1:
            # A rule over several fields (title or description) names the one it needs.
            field, message = named[1], message[named.end() :]
        value = detail.get("input")
        shown = "" if isinstance(value, dict) else f" (value {_preview(value)})"
        return context.problem(
            f"{field}: {message}",
            f"{message}{shown}",
            field=field,
            column=self.mapping.source_column(field),
        )


_NAMED_FIELD = re.compile(r"^([a-z_]+): ")


def _plan(target: str, ref: ColumnRef, convert: Callable[[object], Any]) -> _CellPlan:
    return _CellPlan(target, ref.column, ref.values, convert)


def _constants_of(mapping: ColumnMapping, model: type[Listing]) -> dict[str, Any]:
    return {key: value for key, value in mapping.constants.items() if key in model.model_fields}


def _preview(value: object) -> str:
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."
