"""The fingerprint covers rows and meaning, not file format or row order."""

import csv
import json
import random
import textwrap
from pathlib import Path
from typing import Any

import pyarrow
import pyarrow.parquet

from data.fingerprint import dataset_fingerprint
from data.loaders import load_labeled
from data.mapping import ColumnMapping
from tests.data.factories import make_row, write_mapping

RECORDS: list[dict[str, Any]] = [
    {"id": "x1", "title": "Kettle", "price": 19.99, "seller": "s1", "fraud": 0, "src": "web"},
    {"id": "x2", "title": "Gift codes", "price": None, "seller": "s2", "fraud": 1, "src": "app"},
    {"id": "x3", "title": "Vase ünïcode", "price": 5.0, "seller": None, "fraud": 0, "src": "web"},
]
SEMANTICS = textwrap.dedent(
    """
    listing: {listing_id: id, title: title, price: price, seller_id: seller}
    constants: {market: DE, currency: EUR}
    labels: {fraud: fraud}
    slices: {source: src}
    """
)


def _write_csv(path: Path) -> None:
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.DictWriter(handle, fieldnames=list(RECORDS[0]), delimiter=";")
        writer.writeheader()
        writer.writerows(RECORDS)


def _write_jsonl(path: Path) -> None:
    shuffled = list(RECORDS)
    random.Random(1).shuffle(shuffled)
    path.write_text("".join(json.dumps(record) + "\n" for record in shuffled), encoding="utf-8")


def _write_parquet(path: Path) -> None:
    pyarrow.parquet.write_table(pyarrow.Table.from_pylist(RECORDS), path)


def test_same_rows_in_csv_jsonl_and_parquet_share_a_fingerprint(tmp_path: Path) -> None:
    _write_csv(tmp_path / "rows.csv")
    _write_jsonl(tmp_path / "rows.jsonl")
    _write_parquet(tmp_path / "rows.parquet")
    mappings = {
        "csv": "name: shop\nread: {delimiter: ';'}\n",
        "jsonl": "name: shop\nread: {format: jsonl}\n",
        "parquet": "name: shop\n",
    }
    fingerprints = set()
    for suffix, read_part in mappings.items():
        mapping = write_mapping(tmp_path, read_part + SEMANTICS, name=f"{suffix}.yaml")
        result = load_labeled(tmp_path / f"rows.{suffix}", mapping)
        assert len(result.rows) == 3
        fingerprints.add(dataset_fingerprint(result.rows, mapping))
    assert len(fingerprints) == 1
    assert len(fingerprints.pop()) == 64


def _mapping(**changes: object) -> ColumnMapping:
    document = {"name": "shop", "listing": {"title": "t"}, "labels": {"fraud": "f"}, **changes}
    return ColumnMapping.model_validate(document)


def test_fingerprint_ignores_row_order() -> None:
    rows = [make_row(str(i), seller_id=f"s{i % 3}") for i in range(20)]
    shuffled = list(rows)
    random.Random(0).shuffle(shuffled)
    assert dataset_fingerprint(rows, _mapping()) == dataset_fingerprint(shuffled, _mapping())


def test_fingerprint_changes_with_any_label_value_or_slice() -> None:
    base = [make_row("1"), make_row("2")]
    relabeled = [make_row("1"), make_row("2", fraud=1)]
    unknown = [make_row("1"), make_row("2", fraud=None)]
    sliced = [make_row("1"), make_row("2", slices={"source": "web"})]
    prints = {dataset_fingerprint(rows, _mapping()) for rows in (base, relabeled, unknown, sliced)}
    assert len(prints) == 4


def test_fingerprint_changes_with_the_mappings_meaning_not_its_reading() -> None:
    rows = [make_row("1")]
    plain = dataset_fingerprint(rows, _mapping())
    assert dataset_fingerprint(rows, _mapping(read={"format": "csv", "delimiter": "|"})) == plain
    assert dataset_fingerprint(rows, _mapping(description="notes")) == plain
    more_labels = _mapping(labels={"fraud": "f", "counterfeit": "c"})
    assert dataset_fingerprint(rows, more_labels) != plain
    value_map = _mapping(labels={"fraud": {"column": "f", "values": {"spam": 1, "ham": 0}}})
    assert dataset_fingerprint(rows, value_map) != plain
