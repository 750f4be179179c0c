"""The catalog's files: inputs, finished outputs and what a rerun may skip.

An output, ``OUTPUT/<input stem>.scores.parquet``, carries in its Parquet metadata what it was
scored from: the input's path, size, modification time and row count, and the model, threshold
set and policy versions. A rerun skips an input only when its output says exactly that — a new
export of the same name, another bundle or another policy re-scores it. Outputs are written to a
temporary name, synced, then renamed: a file that exists is complete.
"""

import json
import os
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, Final

from training.errors import TrainingError

OUTPUT_SUFFIX: Final = ".scores.parquet"
METADATA_KEY: Final = b"listingguard.catalog"


class CatalogError(TrainingError):
    """The catalog cannot be scored as asked (no input files, a file that cannot be read)."""


@dataclass(frozen=True)
class Versions:
    model_version: str
    threshold_set_id: str
    policy_version: str


def input_files(path: Path) -> list[Path]:
    """``path`` itself, or the ``*.parquet`` files directly in the folder ``path``, sorted."""
    if path.is_file():
        return [path]
    if not path.is_dir():
        raise CatalogError(f"{path}: no such file or folder")
    files = sorted(p for p in path.glob("*.parquet") if p.is_file())
    if not files:
        raise CatalogError(f"{path}: no .parquet files in this folder")
    return files


def output_path(output: Path, source: Path) -> Path:
    return output / f"{source.stem}{OUTPUT_SUFFIX}"


def row_count(file: Path) -> int:
    """Rows of a Parquet file, from its footer; a file that is not Parquet is a CatalogError."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    try:
        return int(pq.ParquetFile(file).metadata.num_rows)
    except (pa.ArrowException, OSError) as error:
        raise CatalogError(f"{file}: not a readable Parquet file ({error})") from None


def fingerprint(source: Path, versions: Versions) -> dict[str, Any]:
    """What an output of ``source`` scored with ``versions`` must say it was made from."""
    stat = source.stat()
    return {
        "source": str(source.resolve()),
        "size": stat.st_size,
        "mtime_ns": stat.st_mtime_ns,
        "rows": row_count(source),
        **asdict(versions),
    }


def written_fingerprint(scores: Path) -> dict[str, Any] | None:
    """The fingerprint an output carries (None: not an output of this tool, or unreadable)."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    try:
        metadata = pq.read_schema(scores).metadata or {}
        found: dict[str, Any] = json.loads(metadata[METADATA_KEY])
    except (pa.ArrowException, OSError, KeyError, ValueError):
        return None
    return found


def is_finished(source: Path, output: Path, versions: Versions) -> bool:
    scores = output_path(output, source)
    return scores.is_file() and written_fingerprint(scores) == fingerprint(source, versions)


def empty_table(schema: Any) -> Any:
    return schema.empty_table()


def write_scores(table: Any, source: Path, output: Path, versions: Versions) -> None:
    """``table`` as the output of ``source``, atomically, with its fingerprint."""
    import pyarrow.parquet as pq

    target = output_path(output, source)
    stamp = json.dumps(fingerprint(source, versions)).encode()
    metadata = {**(table.schema.metadata or {}), METADATA_KEY: stamp}
    partial = target.with_name(f".{target.name}.partial")
    pq.write_table(table.replace_schema_metadata(metadata), partial)
    with partial.open("rb") as written:
        os.fsync(written.fileno())
    os.replace(partial, target)


def check_schemas(files: list[Path]) -> None:
    """One pipeline reads every file: their columns must agree (Ray cannot unify, say, a map
    and a struct column)."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    try:
        schemas = [pq.read_schema(file) for file in files]
    except (pa.ArrowException, OSError) as error:
        raise CatalogError(f"not a readable Parquet file: {error}") from None
    first = schemas[0]
    if "listing_id" not in first.names:
        raise CatalogError(f"{files[0]}: no listing_id column (columns: {', '.join(first.names)})")
    for file, schema in zip(files[1:], schemas[1:], strict=True):
        for name in sorted(set(first.names) | set(schema.names)):
            ours = first.field(name).type if name in first.names else "absent"
            theirs = schema.field(name).type if name in schema.names else "absent"
            if str(ours) != str(theirs):
                raise CatalogError(
                    f"{file}: column {name} is {theirs}, but {ours} in {files[0].name}; "
                    "the files of one catalog need the same columns"
                )
