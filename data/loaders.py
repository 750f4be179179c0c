"""Load a labeled dataset file through a column mapping.

``load_labeled`` raises :class:`DataError` only for a file that cannot be read at all (missing,
undecodable, invalid JSON, a mapped column that does not exist). Rows that fail validation are
dropped, counted by reason and listed as :class:`RowProblem` so the caller can report them.
"""

from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from data.cell_values import MISSING
from data.errors import DataError
from data.mapping import ColumnKey, ColumnMapping
from data.readers import SourceRecord, SourceTable, read_source
from data.row_conversion import RecordContext, RowConverter, RowProblem
from data.schema import LabeledListing

__all__ = [
    "DEFAULT_MAX_DROPPED_SHARE",
    "DUPLICATE_ID_REASON",
    "LoadResult",
    "RowProblem",
    "load_labeled",
]

DUPLICATE_ID_REASON = "duplicate listing_id"
DEFAULT_MAX_DROPPED_SHARE = 0.01
"""Share of a file's rows that may be dropped before loading it counts as a failure."""


@dataclass
class LoadResult:
    """The rows kept from one file and an account of those dropped."""

    file: str
    mapping: ColumnMapping
    rows: list[LabeledListing] = field(default_factory=list)
    problems: list[RowProblem] = field(default_factory=list)
    dropped_by_reason: dict[str, int] = field(default_factory=dict)
    source_rows: int = 0
    truncations: list[RowProblem] = field(default_factory=list)
    """Kept rows whose text was cut to its limit, one entry per field."""

    @property
    def dropped_rows(self) -> int:
        return sum(self.dropped_by_reason.values())

    @property
    def dropped_share(self) -> float:
        return self.dropped_rows / self.source_rows if self.source_rows else 0.0

    def truncation_lines(self) -> list[str]:
        """One line per truncated field: how many rows, and the first file:line."""
        counts: Counter[str] = Counter(problem.reason for problem in self.truncations)
        first: dict[str, RowProblem] = {}
        for problem in self.truncations:
            first.setdefault(problem.reason, problem)
        return [
            f"warning: {count} rows kept with {reason} (first at {first[reason].where})"
            for reason, count in counts.most_common()
        ]

    def check_dropped_share(self, max_share: float) -> None:
        """Raise :class:`DataError` when more than ``max_share`` of the rows were dropped.

        The message counts the drops per reason, each with the first file:line it happened at.
        """
        if self.dropped_share <= max_share:
            return
        first: dict[str, RowProblem] = {}
        for problem in self.problems:
            first.setdefault(problem.reason, problem)
        reasons = "; ".join(
            f"{count} x {reason} (first at {first[reason].where})"
            for reason, count in self.dropped_by_reason.items()
        )
        raise DataError(
            f"{self.dropped_rows} of {self.source_rows} rows dropped "
            f"({self.dropped_share:.1%}, more than the {max_share:.1%} allowed): {reasons}",
            file=self.file,
        )


def load_labeled(path: str | Path, mapping: ColumnMapping) -> LoadResult:
    """Read ``path`` (a file, or ``dir[:split]`` for a Hugging Face dataset) with ``mapping``."""
    table = read_source(path, mapping.read)
    result = LoadResult(file=table.file, mapping=mapping)
    lookups = (
        _PositionalLookups(table, mapping) if table.positional else _KeyedLookups(table, mapping)
    )
    first_row_of_id: dict[str, int] = {}
    dropped: Counter[str] = Counter()
    for record in table.records:
        result.source_rows += 1
        context = RecordContext(table.file, record.row, record.line)
        converted = lookups.convert(record, context)
        if isinstance(converted, LabeledListing):
            converted = _unique(converted, context, first_row_of_id)
        if isinstance(converted, LabeledListing):
            result.rows.append(converted)
        else:
            result.problems.extend(converted)
            dropped[converted[0].reason] += 1
    lookups.check_columns_seen(result.source_rows)
    result.truncations = lookups.converter.truncations
    result.dropped_by_reason = dict(dropped.most_common())
    return result


def _unique(
    row: LabeledListing, context: RecordContext, first_row_of_id: dict[str, int]
) -> LabeledListing | list[RowProblem]:
    listing_id = row.listing.listing_id
    if listing_id in first_row_of_id:
        message = f"listing_id {listing_id!r} already used by row {first_row_of_id[listing_id]}"
        return [context.problem(DUPLICATE_ID_REASON, message, field="listing_id")]
    first_row_of_id[listing_id] = context.row
    return row


class _PositionalLookups:
    """CSV records: every mapped column resolved to a position once, against the header."""

    def __init__(self, table: SourceTable, mapping: ColumnMapping) -> None:
        self.converter = RowConverter(mapping)
        self.width = table.width or 0
        self.positions = {
            ref.column: _position(ref.column, key, table) for key, ref in mapping.column_refs()
        }

    def convert(
        self, record: SourceRecord, context: RecordContext
    ) -> LabeledListing | list[RowProblem]:
        cells = record.cells
        assert isinstance(cells, list)
        if len(cells) != self.width:
            message = f"expected {self.width} fields, found {len(cells)}"
            return [context.problem("wrong number of fields", message)]
        raw = {column: cells[position] for column, position in self.positions.items()}
        return self.converter.convert(raw, context)

    def check_columns_seen(self, source_rows: int) -> None:
        """Positions were checked against the header up front."""


def _position(column: ColumnKey, key: str, table: SourceTable) -> int:
    width = table.width or 0
    if isinstance(column, int):
        if table.width is not None and column >= width > 0:
            raise DataError(
                f"column index {column} is out of range: records have {width} fields",
                file=table.file,
                field=key,
            )
        return column
    if table.header is None:
        raise DataError(
            f"column {column!r} is a name but the file has no header (read.header: false); "
            "map it by 0-based index",
            file=table.file,
            field=key,
        )
    if column not in table.header:
        raise DataError(
            f"column {column!r} is not in the header ({', '.join(table.header)})",
            file=table.file,
            line=1,
            field=key,
        )
    return table.header.index(column)


class _KeyedLookups:
    """JSON-like records: dotted paths looked up per record; a column absent everywhere fails."""

    def __init__(self, table: SourceTable, mapping: ColumnMapping) -> None:
        self.mapping = mapping
        self.converter = RowConverter(mapping)
        self.file = table.file
        self.columns = {str(ref.column) for _, ref in mapping.column_refs()}
        self.seen: set[ColumnKey] = set()
        self.first_keys: list[str] | None = None
        for key, ref in mapping.column_refs():
            if isinstance(ref.column, int):
                raise DataError(
                    f"column {ref.column} is an index, but these records are keyed by name",
                    file=table.file,
                    field=key,
                )

    def convert(
        self, record: SourceRecord, context: RecordContext
    ) -> LabeledListing | list[RowProblem]:
        cells = record.cells
        if not isinstance(cells, dict):
            message = f"expected an object of named fields, found {type(cells).__name__}"
            return [context.problem("not an object", message)]
        if self.first_keys is None:
            self.first_keys = list(cells)
        raw: dict[ColumnKey, object] = {
            name: cells[name] if name in cells else lookup_path(cells, name)
            for name in self.columns
        }
        if len(self.seen) < len(self.columns):
            self.seen.update(name for name, value in raw.items() if value is not MISSING)
        return self.converter.convert(raw, context)

    def check_columns_seen(self, source_rows: int) -> None:
        """A mapped column found in no record is a mapping mistake, not missing values."""
        if source_rows == 0 or self.first_keys is None:
            return
        for key, ref in self.mapping.column_refs():
            if str(ref.column) not in self.seen:
                raise DataError(
                    f"column {ref.column!r} is in no record "
                    f"(the first record has: {', '.join(self.first_keys)})",
                    file=self.file,
                    field=key,
                )


def lookup_path(record: dict[str, Any], column: str) -> object:
    """``record[column]``, else the nested value at a dotted path like ``labels.fraud``."""
    if column in record:
        return record[column]
    node: object = record
    for part in column.split("."):
        if not isinstance(node, dict) or part not in node:
            return MISSING
        node = node[part]
    return node
