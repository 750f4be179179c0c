"""Parse dataset files into source records: CSV/TSV, JSON lines, Parquet, Hugging Face datasets.

Text files are read whole and decoded up front so that an encoding error names its line. Parquet
and Hugging Face readers import pyarrow and ``datasets`` inside the function: the serving side
imports the data package and must never pull those in.
"""

import codecs
import csv
import io
import json
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from data.errors import DataError
from data.mapping import FileFormat, ReadOptions

SUFFIX_FORMATS: dict[str, FileFormat] = {
    ".csv": "csv",
    ".tsv": "csv",
    ".tab": "csv",
    ".jsonl": "jsonl",
    ".ndjson": "jsonl",
    ".parquet": "parquet",
    ".pq": "parquet",
}
TAB_SUFFIXES = (".tsv", ".tab")
NOT_LOCAL = "no such local file or directory (datasets are read locally, never downloaded)"


@dataclass(frozen=True)
class SourceRecord:
    """One record of a file: CSV cells by position, other formats keyed by column name."""

    row: int
    line: int | None
    cells: list[str] | dict[str, Any]


@dataclass(frozen=True)
class SourceTable:
    """The records of one file; ``header`` and ``width`` are set for CSV only."""

    file: str
    records: Iterable[SourceRecord]
    positional: bool
    header: list[str] | None = None
    width: int | None = None


def read_source(path: str | Path, options: ReadOptions) -> SourceTable:
    """Parse ``path`` (or ``dir:split`` for a Hugging Face dataset) as ``options`` say."""
    spec = str(path)
    file_format = options.format or infer_format(spec)
    if file_format == "csv":
        return _read_csv(spec, options)
    if file_format == "jsonl":
        return _read_jsonl(spec, options)
    if file_format == "parquet":
        return _read_parquet(spec)
    return _read_hf(spec, options)


def infer_format(spec: str) -> FileFormat:
    """The format a path's suffix (or a directory, for Hugging Face datasets) implies."""
    path = Path(spec)
    if path.is_dir() or (not path.exists() and Path(spec.rpartition(":")[0]).is_dir()):
        return "hf"
    if not path.exists():
        raise DataError(NOT_LOCAL, file=spec)
    file_format = SUFFIX_FORMATS.get(path.suffix.lower())
    if file_format is None:
        known = ", ".join(SUFFIX_FORMATS)
        raise DataError(
            f"cannot tell the format from the name (known suffixes: {known}); "
            "set read.format in the mapping",
            file=spec,
        )
    return file_format


def _read_text(spec: str, encoding: str) -> str:
    try:
        data = Path(spec).read_bytes()
    except OSError as error:
        raise DataError(f"cannot read file: {error.strerror}", file=spec) from None
    # utf-8-sig also drops a byte-order mark, which would otherwise stick to the first header.
    codec = "utf-8-sig" if codecs.lookup(encoding).name == "utf-8" else encoding
    try:
        return data.decode(codec)
    except UnicodeDecodeError as error:
        line = data.count(b"\n", 0, error.start) + 1
        column = error.start - (data.rfind(b"\n", 0, error.start) + 1) + 1
        message = f"not valid {encoding} text ({error.reason})"
        raise DataError(message, file=spec, line=line, column=column) from None


def _read_csv(spec: str, options: ReadOptions) -> SourceTable:
    text = _read_text(spec, options.encoding)
    delimiter = options.delimiter or ("\t" if spec.lower().endswith(TAB_SUFFIXES) else ",")
    lines_and_cells = _csv_rows(text, spec, delimiter=delimiter, quoting=options.quoting)
    header: list[str] | None = None
    if options.header:
        if not lines_and_cells:
            raise DataError("the file is empty but the mapping expects a header line", file=spec)
        header = [name.strip() for name in lines_and_cells.pop(0)[1]]
    records = [
        SourceRecord(row=row, line=line, cells=cells)
        for row, (line, cells) in enumerate(lines_and_cells, start=1)
    ]
    width = len(header) if header is not None else (len(records[0].cells) if records else 0)
    return SourceTable(spec, records, positional=True, header=header, width=width)


def _csv_rows(text: str, spec: str, *, delimiter: str, quoting: str) -> list[tuple[int, list[str]]]:
    """``(first line, cells)`` of each non-blank CSV record."""
    reader = csv.reader(
        io.StringIO(text, newline=""),
        delimiter=delimiter,
        quoting=csv.QUOTE_MINIMAL if quoting == "minimal" else csv.QUOTE_NONE,
    )
    rows: list[tuple[int, list[str]]] = []
    line = 1
    try:
        for cells in reader:
            if cells:
                rows.append((line, cells))
            line = reader.line_num + 1
    except csv.Error as error:
        raise DataError(f"cannot parse CSV: {error}", file=spec, line=line) from None
    return rows


def _read_jsonl(spec: str, options: ReadOptions) -> SourceTable:
    text = _read_text(spec, options.encoding)
    return SourceTable(spec, _json_records(text.split("\n"), spec), positional=False)


def _json_records(lines: list[str], spec: str) -> Iterator[SourceRecord]:
    row = 0
    for line_number, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        try:
            value = json.loads(line)
        except json.JSONDecodeError as error:
            raise DataError(
                f"invalid JSON: {error.msg}", file=spec, line=line_number, column=error.colno
            ) from None
        row += 1
        yield SourceRecord(row=row, line=line_number, cells=value)


def _read_parquet(spec: str) -> SourceTable:
    import pyarrow
    import pyarrow.parquet

    try:
        table = pyarrow.parquet.read_table(spec)
    except (OSError, pyarrow.ArrowException) as error:
        raise DataError(f"cannot read Parquet: {error}", file=spec) from None
    return _keyed_table(spec, table.to_pylist())


def _read_hf(spec: str, options: ReadOptions) -> SourceTable:
    """A ``save_to_disk`` directory, or a local directory of data files via ``load_dataset``."""
    directory, split = _hf_location(spec, options.split)
    import datasets

    try:
        if _saved_to_disk(directory):
            loaded = datasets.load_from_disk(str(directory))
        else:
            loaded = datasets.load_dataset(str(directory), split=split)
    except (OSError, ValueError) as error:
        raise DataError(f"cannot load Hugging Face dataset: {error}", file=spec) from None
    if isinstance(loaded, datasets.DatasetDict):
        loaded = _pick_split(loaded, split, spec)
    return _keyed_table(spec, loaded.to_list())


def _hf_location(spec: str, split: str | None) -> tuple[Path, str | None]:
    """``dir`` or ``dir:split``; only local directories, so nothing is ever downloaded."""
    path = Path(spec)
    if path.is_dir():
        return path, split
    directory, _, named_split = spec.rpartition(":")
    if directory and Path(directory).is_dir():
        return Path(directory), named_split
    raise DataError(NOT_LOCAL, file=spec)


def _saved_to_disk(directory: Path) -> bool:
    return (directory / "dataset_dict.json").is_file() or (directory / "state.json").is_file()


def _pick_split(splits: Any, split: str | None, spec: str) -> Any:
    names = sorted(splits)
    if split is None and len(names) == 1:
        split = names[0]
    if split not in names:
        wanted = "a split" if split is None else f"split {split!r}"
        raise DataError(
            f"{wanted} is needed: name one of {', '.join(names)} as dir:split or read.split",
            file=spec,
        )
    return splits[split]


def _keyed_table(spec: str, rows: list[Any]) -> SourceTable:
    records = [
        SourceRecord(row=row, line=None, cells=cells) for row, cells in enumerate(rows, start=1)
    ]
    return SourceTable(spec, records, positional=False)
