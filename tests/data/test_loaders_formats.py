"""One loader, driven by a mapping, for CSV/TSV, JSON lines, Parquet and Hugging Face datasets."""

import json
from pathlib import Path
from typing import Any

import pytest

from data.errors import DataError
from data.loaders import load_labeled
from data.mapping import ColumnMapping
from tests.data.factories import write_mapping, write_text

SHOP_RECORDS: list[dict[str, Any]] = [
    {
        "id": "a1",
        "name": "Red kettle",
        "text": "Boils fast, 1.7L",
        "price": 19.99,
        "shop": {"id": "s1"},
        "labels": {"fraud": 0},
        "src": "web",
    },
    {
        "id": "a2",
        "name": 'Gift card "deal"',
        "text": None,
        "price": None,
        "shop": {"id": "s2"},
        "labels": {"fraud": 1},
        "src": "app",
    },
]

NESTED_MAPPING = """
    name: shop
    listing:
      listing_id: id
      title: name
      description: text
      price: price
      seller_id: shop.id
    constants: {market: GB, currency: GBP}
    labels:
      fraud: labels.fraud
    slices:
      source: src
    """


def _check_shop_rows(mapping: ColumnMapping, path: str | Path) -> None:
    result = load_labeled(path, mapping)
    assert result.source_rows == 2
    assert result.problems == []
    first, second = result.rows
    assert first.listing.listing_id == "a1"
    assert first.listing.description == "Boils fast, 1.7L"
    assert first.listing.price == 19.99
    assert first.listing.seller_id == "s1"
    assert (first.listing.market, first.listing.currency) == ("GB", "GBP")
    assert first.labels.value("fraud") == 0
    assert first.slices == {"source": "web"}
    assert second.listing.title == 'Gift card "deal"'
    assert second.listing.price is None
    assert second.labels.value("fraud") == 1
    for row in result.rows:
        assert (row.labels.value("counterfeit"), row.labels.value("regulated")) == (None, None)


def test_csv_with_header_and_quoted_fields(tmp_path: Path) -> None:
    path = write_text(
        tmp_path,
        "shop.csv",
        '''
        id,name,text,price,shop_id,verdict,src
        a1,Red kettle,"Boils fast, 1.7L",19.99,s1,ham,web
        a2,"Gift card ""deal""",,,s2,spam,app
        ''',
    )
    mapping = write_mapping(
        tmp_path,
        """
        name: shop
        listing: {listing_id: id, title: name, description: text, price: price, seller_id: shop_id}
        constants: {market: GB, currency: GBP}
        labels:
          fraud: {column: verdict, values: {spam: 1, ham: 0}}
        slices: {source: src}
        """,
    )
    _check_shop_rows(mapping, path)


def test_tsv_without_header_by_column_index(tmp_path: Path) -> None:
    path = write_text(tmp_path, "messages.tsv", "ham\tSee you at 6\nspam\tYou WON a prize\n")
    mapping = write_mapping(
        tmp_path,
        """
        name: sms
        read: {header: false}
        listing: {title: 1}
        labels:
          fraud: {column: 0, values: {spam: 1, ham: 0}}
        """,
    )
    result = load_labeled(path, mapping)
    assert [row.listing.title for row in result.rows] == ["See you at 6", "You WON a prize"]
    assert [row.labels.value("fraud") for row in result.rows] == [0, 1]
    assert [row.listing.listing_id for row in result.rows] == ["sms-1", "sms-2"]


def test_quoting_none_keeps_a_leading_quote_as_text(tmp_path: Path) -> None:
    path = write_text(tmp_path, "raw.txt", 'ham\t"Hello there\nspam\tWin now\nham\tok"\n')
    common = (
        "name: sms\nlisting: {title: 1}\nlabels: {fraud: {column: 0, values: {spam: 1, ham: 0}}}\n"
    )
    plain = write_mapping(
        tmp_path, common + 'read: {format: csv, header: false, delimiter: "\\t", quoting: none}\n'
    )
    assert [row.listing.title for row in load_labeled(path, plain).rows] == [
        '"Hello there',
        "Win now",
        'ok"',
    ]
    quoted = write_mapping(
        tmp_path, common + 'read: {format: csv, header: false, delimiter: "\\t"}\n', name="q.yaml"
    )
    assert load_labeled(path, quoted).source_rows == 1


def test_jsonl_with_nested_paths(tmp_path: Path) -> None:
    path = tmp_path / "shop.jsonl"
    path.write_text("\n".join(json.dumps(record) for record in SHOP_RECORDS) + "\n\n")
    _check_shop_rows(write_mapping(tmp_path, NESTED_MAPPING), path)


def test_parquet_with_nested_struct(tmp_path: Path) -> None:
    import pyarrow
    import pyarrow.parquet

    path = tmp_path / "shop.parquet"
    pyarrow.parquet.write_table(pyarrow.Table.from_pylist(SHOP_RECORDS), path)
    _check_shop_rows(write_mapping(tmp_path, NESTED_MAPPING), path)


def test_hugging_face_dataset_saved_to_disk(tmp_path: Path) -> None:
    import datasets

    datasets.Dataset.from_list(SHOP_RECORDS).save_to_disk(str(tmp_path / "saved"))
    _check_shop_rows(write_mapping(tmp_path, NESTED_MAPPING), tmp_path / "saved")


def test_hugging_face_dataset_dict_needs_a_split(tmp_path: Path) -> None:
    import datasets

    splits = {"train": SHOP_RECORDS, "test": SHOP_RECORDS[:1]}
    dataset_dict = datasets.DatasetDict(
        {name: datasets.Dataset.from_list(records) for name, records in splits.items()}
    )
    dataset_dict.save_to_disk(str(tmp_path / "saved"))
    mapping = write_mapping(tmp_path, NESTED_MAPPING)
    _check_shop_rows(mapping, f"{tmp_path / 'saved'}:train")
    assert load_labeled(f"{tmp_path / 'saved'}:test", mapping).source_rows == 1
    with pytest.raises(DataError, match="a split is needed: name one of test, train"):
        load_labeled(tmp_path / "saved", mapping)


def test_hugging_face_load_dataset_reads_local_files_only(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import datasets

    monkeypatch.setattr(datasets.config, "HF_DATASETS_CACHE", str(tmp_path / "cache"))
    folder = tmp_path / "folder"
    folder.mkdir()
    (folder / "train.jsonl").write_text("\n".join(json.dumps(r) for r in SHOP_RECORDS) + "\n")
    _check_shop_rows(write_mapping(tmp_path, NESTED_MAPPING), f"{folder}:train")
    with pytest.raises(DataError, match="never downloaded"):
        load_labeled("someone/remote-dataset:train", write_mapping(tmp_path, NESTED_MAPPING))


def test_unmapped_labels_are_unknown_and_ids_are_generated(tmp_path: Path) -> None:
    path = write_text(tmp_path, "titles.csv", "title\nBlue mug\nGreen mug\n")
    result = load_labeled(path, write_mapping(tmp_path, "name: mugs\nlisting: {title: title}\n"))
    assert [row.listing.listing_id for row in result.rows] == ["mugs-1", "mugs-2"]
    assert all(row.labels.values == {} and row.labels.category is None for row in result.rows)
    assert all(row.labels.value("fraud") is None for row in result.rows)


def test_slice_only_columns_never_reach_the_listing(tmp_path: Path) -> None:
    path = tmp_path / "shop.jsonl"
    path.write_text("\n".join(json.dumps(record) for record in SHOP_RECORDS))
    result = load_labeled(path, write_mapping(tmp_path, NESTED_MAPPING))
    for row in result.rows:
        listing_values = row.listing.model_dump()
        assert "source" not in listing_values
        assert row.slices["source"] not in listing_values.values()
        assert row.slices["source"] not in row.listing.attributes.values()


def test_attributes_are_mapped_by_name(tmp_path: Path) -> None:
    path = write_text(tmp_path, "a.csv", "title,cond,brand\nMug,used,Acme\nCup,,\n")
    mapping = write_mapping(
        tmp_path, "name: a\nlisting: {title: title}\nattributes: {condition: cond, brand: brand}\n"
    )
    rows = load_labeled(path, mapping).rows
    assert rows[0].listing.attributes == {"condition": "used", "brand": "Acme"}
    assert rows[1].listing.attributes == {}


def test_byte_order_mark_does_not_stick_to_the_first_header(tmp_path: Path) -> None:
    path = tmp_path / "excel.csv"
    path.write_bytes("title,price\nMug,3\n".encode("utf-8-sig"))
    mapping = write_mapping(tmp_path, "name: x\nlisting: {title: title, price: price}\n")
    assert load_labeled(path, mapping).rows[0].listing.title == "Mug"
