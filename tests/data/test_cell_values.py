import math

import pytest

from data.cell_values import (
    MISSING,
    CellValueError,
    apply_value_map,
    as_binary_label,
    as_price,
    as_text,
    is_blank,
    lookup_text,
)


@pytest.mark.parametrize("value", [None, MISSING, "", "   ", math.nan])
def test_blank_values(value: object) -> None:
    assert is_blank(value)
    assert as_text(value) is None
    assert as_price(value) is None
    assert as_binary_label(value) is None


@pytest.mark.parametrize("value", [1, 1.0, "1", " 1 ", True, "true", "TRUE", "1.0"])
def test_positive_label_in_any_format(value: object) -> None:
    assert as_binary_label(value) == 1


@pytest.mark.parametrize("value", [0, 0.0, "0", False, "false"])
def test_negative_label_in_any_format(value: object) -> None:
    assert as_binary_label(value) == 0


@pytest.mark.parametrize("value", [2, "yes", "spam", 0.5, [1]])
def test_other_label_values_are_refused(value: object) -> None:
    with pytest.raises(CellValueError, match="not a 0/1 label"):
        as_binary_label(value)


def test_price_from_text_or_number() -> None:
    assert as_price("12.50") == 12.5
    assert as_price(12) == 12.0
    with pytest.raises(CellValueError, match="not a number"):
        as_price("twelve")
    with pytest.raises(CellValueError, match="not a number"):
        as_price(True)


def test_text_of_numbers_and_objects() -> None:
    assert as_text(" padded ") == "padded"
    assert as_text(123) == "123"
    assert as_text(False) == "false"
    with pytest.raises(CellValueError, match="not text"):
        as_text({"nested": 1})


def test_lookup_text_makes_formats_agree() -> None:
    assert lookup_text(1) == lookup_text(1.0) == lookup_text("1") == "1"
    assert lookup_text(True) == "true"


def test_value_map() -> None:
    values = {"spam": 1, "ham": 0}
    assert apply_value_map(" spam", values) == 1
    assert apply_value_map("", values) is None
    with pytest.raises(CellValueError, match="'eggs' \\(expected one of 'ham', 'spam'\\)"):
        apply_value_map("eggs", values)
