"""Bad input: unreadable files raise DataError with a location; bad rows are dropped and counted."""

from pathlib import Path

import pytest

from data.errors import DataError
from data.loaders import DUPLICATE_ID_REASON, LoadResult, load_labeled
from data.mapping import ColumnMapping
from tests.data.factories import write_mapping, write_text

CSV_MAPPING = """
    name: shop
    listing: {listing_id: id, title: title, price: price}
    labels:
      fraud: fraud
      regulated: regulated
      regulated_category: category
    """


@pytest.fixture
def csv_mapping(tmp_path: Path) -> ColumnMapping:
    return write_mapping(tmp_path, CSV_MAPPING)


def _load_csv(tmp_path: Path, mapping: ColumnMapping, body: str) -> LoadResult:
    path = write_text(tmp_path, "shop.csv", "id,title,price,fraud,regulated,category\n" + body)
    return load_labeled(path, mapping)


def test_invalid_json_line_names_line_and_column(tmp_path: Path) -> None:
    path = write_text(tmp_path, "bad.jsonl", '{"title": "ok"}\n\n{"title": "broken",}\n')
    mapping = write_mapping(tmp_path, "name: x\nlisting: {title: title}\n")
    with pytest.raises(DataError) as caught:
        load_labeled(path, mapping)
    assert (caught.value.line, caught.value.column) == (3, 20)
    assert str(caught.value).startswith(f"{path}:3:20: invalid JSON")


def test_json_line_that_is_not_an_object_is_dropped(tmp_path: Path) -> None:
    path = write_text(tmp_path, "rows.jsonl", '{"title": "ok"}\n[1, 2]\n')
    result = load_labeled(path, write_mapping(tmp_path, "name: x\nlisting: {title: title}\n"))
    assert len(result.rows) == 1
    assert result.dropped_by_reason == {"not an object": 1}
    assert result.problems[0].line == 2


def test_missing_csv_column_names_column_and_mapping_key(tmp_path: Path) -> None:
    path = write_text(tmp_path, "a.csv", "id,name\n1,Mug\n")
    mapping = write_mapping(tmp_path, "name: x\nlisting: {listing_id: id, title: title}\n")
    with pytest.raises(DataError) as caught:
        load_labeled(path, mapping)
    assert caught.value.field == "listing.title"
    assert "column 'title' is not in the header (id, name)" in str(caught.value)


def test_json_column_absent_from_every_record_is_a_mapping_error(tmp_path: Path) -> None:
    path = write_text(tmp_path, "a.jsonl", '{"name": "Mug"}\n{"name": "Cup"}\n')
    mapping = write_mapping(tmp_path, "name: x\nlisting: {title: name, price: cost.usd}\n")
    with pytest.raises(DataError, match=r"column 'cost\.usd' is in no record") as caught:
        load_labeled(path, mapping)
    assert caught.value.field == "listing.price"


def test_json_column_absent_from_some_records_is_blank(tmp_path: Path) -> None:
    path = write_text(tmp_path, "a.jsonl", '{"name": "Mug", "cost": 3}\n{"name": "Cup"}\n')
    mapping = write_mapping(tmp_path, "name: x\nlisting: {title: name, price: cost}\n")
    assert [row.listing.price for row in load_labeled(path, mapping).rows] == [3.0, None]


def test_index_column_needs_positional_records(tmp_path: Path) -> None:
    path = write_text(tmp_path, "a.jsonl", '{"name": "Mug"}\n')
    with pytest.raises(DataError, match="is an index"):
        load_labeled(path, write_mapping(tmp_path, "name: x\nlisting: {title: 0}\n"))


def test_column_name_needs_a_header(tmp_path: Path) -> None:
    path = write_text(tmp_path, "a.csv", "Mug,3\n")
    mapping = write_mapping(tmp_path, "name: x\nread: {header: false}\nlisting: {title: name}\n")
    with pytest.raises(DataError, match="no header"):
        load_labeled(path, mapping)


def test_column_index_out_of_range(tmp_path: Path) -> None:
    path = write_text(tmp_path, "a.csv", "Mug,3\n")
    mapping = write_mapping(tmp_path, "name: x\nread: {header: false}\nlisting: {title: 5}\n")
    with pytest.raises(DataError, match="column index 5 is out of range"):
        load_labeled(path, mapping)


def test_invalid_values_drop_the_row_with_a_reason(
    tmp_path: Path, csv_mapping: ColumnMapping
) -> None:
    result = _load_csv(
        tmp_path,
        csv_mapping,
        "a,Mug,3,0,0,\n"
        "b,Cup,-5,0,0,\n"
        "c,Pan,2,maybe,0,\n"
        "d,Gin,9,0,0,alcohol\n"
        "e,,1,0,0,\n"
        "f,Rum,12,0,1,alcohol\n",
    )
    assert [row.listing.listing_id for row in result.rows] == ["a", "f"]
    assert result.source_rows == 6
    assert result.dropped_by_reason == {
        "price: Input should be greater than or equal to 0": 1,
        "fraud: not a 0/1 label": 1,
        "regulated_category: set but regulated is 0": 1,
        "title: required unless the description has text": 1,
    }
    price_problem = result.problems[0]
    assert (price_problem.line, price_problem.field, price_problem.column) == (3, "price", "price")
    assert str(price_problem).startswith(f"{result.file}:3: price: Input should be")


def test_value_not_in_value_map_is_dropped(tmp_path: Path) -> None:
    path = write_text(tmp_path, "sms.tsv", "ham\thi\nspam\twin\neggs\twhat\n")
    mapping = write_mapping(
        tmp_path,
        "name: sms\nread: {header: false}\nlisting: {title: 1}\n"
        "labels: {fraud: {column: 0, values: {spam: 1, ham: 0}}}\n",
    )
    result = load_labeled(path, mapping)
    assert len(result.rows) == 2
    assert result.dropped_by_reason == {"fraud: not in value map": 1}
    assert "'eggs'" in str(result.problems[0])
    assert str(result.problems[0]).startswith(f"{path}:3: fraud (column 0): ")


def test_wrong_number_of_fields_is_dropped(tmp_path: Path) -> None:
    path = write_text(tmp_path, "a.csv", "title,price\nMug,3\nCup\nPan,4,extra\n")
    mapping = write_mapping(tmp_path, "name: x\nlisting: {title: title, price: price}\n")
    result = load_labeled(path, mapping)
    assert len(result.rows) == 1
    assert result.dropped_by_reason == {"wrong number of fields": 2}


def test_duplicate_listing_ids_keep_the_first(tmp_path: Path, csv_mapping: ColumnMapping) -> None:
    result = _load_csv(tmp_path, csv_mapping, "a,Mug,3,0,0,\na,Cup,4,0,0,\n")
    assert [row.listing.title for row in result.rows] == ["Mug"]
    assert result.dropped_by_reason == {DUPLICATE_ID_REASON: 1}
    assert "already used by row 1" in result.problems[0].message


def test_blank_mapped_listing_id_is_not_replaced(
    tmp_path: Path, csv_mapping: ColumnMapping
) -> None:
    result = _load_csv(tmp_path, csv_mapping, ",Mug,3,0,0,\n")
    assert result.rows == []
    assert result.dropped_by_reason == {"listing_id: Field required": 1}


def test_undecodable_bytes_name_line_and_column(tmp_path: Path) -> None:
    path = tmp_path / "latin.csv"
    path.write_bytes(b"title\nMug\nCaf\xe9\n")
    with pytest.raises(DataError, match="not valid utf-8") as caught:
        load_labeled(path, write_mapping(tmp_path, "name: x\nlisting: {title: title}\n"))
    assert (caught.value.line, caught.value.column) == (3, 4)


def test_declared_encoding_is_used(tmp_path: Path) -> None:
    path = tmp_path / "latin.csv"
    path.write_bytes(b"title\nCaf\xe9\n")
    mapping = write_mapping(
        tmp_path, "name: x\nread: {encoding: latin-1}\nlisting: {title: title}\n"
    )
    assert load_labeled(path, mapping).rows[0].listing.title == "Café"


def test_missing_file(tmp_path: Path) -> None:
    mapping = write_mapping(tmp_path, "name: x\nlisting: {title: title}\n")
    with pytest.raises(DataError, match="no such local file"):
        load_labeled(tmp_path / "absent.csv", mapping)


def test_unknown_suffix_asks_for_a_format(tmp_path: Path) -> None:
    path = write_text(tmp_path, "listings.dat", "title\nMug\n")
    with pytest.raises(DataError, match=r"set read\.format"):
        load_labeled(path, write_mapping(tmp_path, "name: x\nlisting: {title: title}\n"))


def test_empty_csv_without_header_line(tmp_path: Path) -> None:
    path = write_text(tmp_path, "empty.csv", "")
    with pytest.raises(DataError, match="expects a header line"):
        load_labeled(path, write_mapping(tmp_path, "name: x\nlisting: {title: title}\n"))


def test_corrupt_parquet(tmp_path: Path) -> None:
    path = tmp_path / "broken.parquet"
    path.write_bytes(b"not parquet at all")
    with pytest.raises(DataError, match="cannot read Parquet"):
        load_labeled(path, write_mapping(tmp_path, "name: x\nlisting: {title: title}\n"))


def test_remote_dataset_names_are_refused(tmp_path: Path) -> None:
    mapping = write_mapping(tmp_path, "name: x\nread: {format: hf}\nlisting: {title: title}\n")
    with pytest.raises(DataError, match="never downloaded"):
        load_labeled("someone/remote-dataset", mapping)
