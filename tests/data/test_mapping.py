from pathlib import Path

import pytest

from data.errors import MappingError
from data.mapping import (
    BUILTIN_MAPPINGS_DIR,
    ColumnMapping,
    builtin_mapping_names,
    load_mapping,
    resolve_mapping_path,
)
from tests.data.factories import write_mapping


def test_builtin_mappings_load_and_declare_their_labels() -> None:
    assert builtin_mapping_names() == [
        "demo", "feedback", "marketplace-risk-v1", "sms-spam-collection"
    ]  # fmt: skip
    marketplace = load_mapping(resolve_mapping_path("marketplace-risk-v1"))
    assert marketplace.known_labels == ("fraud", "counterfeit", "regulated")
    assert marketplace.constants == {"currency": "USD", "market": "US"}
    assert set(marketplace.slices) == {"source", "source_category"}
    feedback = load_mapping(resolve_mapping_path("feedback"))
    assert feedback.known_labels == ("fraud", "counterfeit", "regulated")
    assert set(feedback.slices) == {"source", "weight"}
    sms = load_mapping(BUILTIN_MAPPINGS_DIR / "sms-spam-collection.yaml")
    assert sms.known_labels == ("fraud",)
    assert sms.read.quoting == "none"
    assert sms.read.header is False
    assert sms.labels["fraud"].values == {"spam": 1, "ham": 0}


def test_bare_columns_and_objects_mean_the_same(tmp_path: Path) -> None:
    mapping = write_mapping(
        tmp_path,
        """
        name: shop
        listing:
          title: 2
          description: {column: text}
        labels:
          fraud: {column: verdict, values: {1: 1, "0": 0, false: 0}}
        """,
    )
    assert mapping.listing["title"].column == 2
    assert mapping.listing["description"].column == "text"
    assert mapping.labels["fraud"].values == {"1": 1, "0": 0, "false": 0}


def test_semantic_content_leaves_out_how_the_file_is_read(tmp_path: Path) -> None:
    csv_mapping = write_mapping(
        tmp_path,
        """
        name: shop
        read: {format: csv, delimiter: ";", header: false}
        listing: {title: 0, seller_id: 1}
        labels: {fraud: 2}
        """,
        name="csv.yaml",
    )
    json_mapping = write_mapping(
        tmp_path,
        """
        name: shop
        read: {format: jsonl}
        listing: {title: name, seller_id: shop.id}
        labels: {fraud: labels.fraud}
        """,
        name="json.yaml",
    )
    assert csv_mapping.semantic_content() == json_mapping.semantic_content()
    assert "read" not in csv_mapping.semantic_content()


def _error_for(tmp_path: Path, yaml_text: str) -> MappingError:
    with pytest.raises(MappingError) as caught:
        write_mapping(tmp_path, yaml_text)
    assert str(tmp_path / "mapping.yaml") in str(caught.value)
    return caught.value


def test_unknown_key_is_named(tmp_path: Path) -> None:
    error = _error_for(tmp_path, "name: x\nlisting: {title: t}\nread: {delimeter: ';'}\n")
    assert error.field == "read.delimeter"
    assert "Extra inputs are not permitted" in str(error)


def test_bad_quoting_is_named(tmp_path: Path) -> None:
    error = _error_for(tmp_path, "name: x\nlisting: {title: t}\nread: {quoting: all}\n")
    assert error.field == "read.quoting"


def test_unknown_label_is_named(tmp_path: Path) -> None:
    error = _error_for(tmp_path, "name: x\nlisting: {title: t}\nlabels: {scam: s}\n")
    assert error.field == "labels.scam"
    assert "['fraud', 'counterfeit', 'regulated', 'regulated_category']" in error.message


def test_negative_column_index_is_refused(tmp_path: Path) -> None:
    error = _error_for(tmp_path, "name: x\nlisting: {title: -1}\n")
    assert error.field == "listing.title.column"
    assert "0-based index" in str(error)


def test_a_title_or_a_description_column_is_required(tmp_path: Path) -> None:
    error = _error_for(tmp_path, "name: x\nlisting: {listing_id: i}\n")
    assert "map a title or a description column" in str(error)


def test_invalid_constant_is_named(tmp_path: Path) -> None:
    error = _error_for(tmp_path, "name: x\nlisting: {title: t}\nconstants: {currency: usd}\n")
    assert "constants.currency" in str(error)


def test_constant_that_is_also_mapped_is_refused(tmp_path: Path) -> None:
    error = _error_for(
        tmp_path, "name: x\nlisting: {title: t, market: m}\nconstants: {market: US}\n"
    )
    assert "constants.market: also mapped" in str(error)


def test_slice_column_may_not_feed_a_listing_field(tmp_path: Path) -> None:
    error = _error_for(
        tmp_path,
        "name: x\nlisting: {title: t, category: cat}\nslices: {source_category: cat}\n",
    )
    assert "slices.source_category" in str(error)
    assert "listing.category" in str(error)


def test_yaml_syntax_error_names_the_line(tmp_path: Path) -> None:
    error = _error_for(tmp_path, "name: x\nlisting:\n  title: [unclosed\n")
    assert error.line is not None and error.line >= 3
    assert "invalid YAML" in str(error)


def test_unknown_mapping_name_lists_the_builtin_ones() -> None:
    with pytest.raises(MappingError, match="sms-spam-collection"):
        resolve_mapping_path("no-such-mapping")


def test_mapping_can_be_built_in_code() -> None:
    mapping = ColumnMapping.model_validate({"name": "inline", "listing": {"title": "t"}})
    assert mapping.known_labels == ()
    assert mapping.read.format is None
