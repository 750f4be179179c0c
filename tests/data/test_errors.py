from data.errors import DataError, MappingError


def test_data_error_names_file_line_column_and_field() -> None:
    error = DataError("invalid JSON: Expecting value", file="a.jsonl", line=3, column=7)
    assert str(error) == "a.jsonl:3:7: invalid JSON: Expecting value"
    with_field = DataError("not in the header", file="a.csv", line=1, field="listing.price")
    assert str(with_field) == "a.csv:1: listing.price: not in the header"


def test_data_error_without_line_names_the_file_only() -> None:
    assert str(DataError("cannot read file", file="x.parquet")) == "x.parquet: cannot read file"


def test_mapping_error_is_a_data_error() -> None:
    assert isinstance(MappingError("bad", file="m.yaml", field="read.quoting"), DataError)
