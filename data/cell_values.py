"""Typed values from raw cells of any file format.

A CSV cell is always text, a JSONL or Parquet cell may be a number, a boolean or null. The
conversions here make the same logical value give the same result whatever format carried it,
which is what keeps dataset fingerprints format-independent.
"""

import enum
import math
from collections.abc import Mapping

LABEL_TEXTS = {"0": 0, "1": 1, "0.0": 0, "1.0": 1, "false": 0, "true": 1}


class Missing(enum.Enum):
    """The type of :data:`MISSING`."""

    MISSING = "missing"


MISSING = Missing.MISSING
"""A mapped column that is absent from a record (distinct from a present null)."""

MapTarget = int | float | str | None


class CellValueError(ValueError):
    """A cell whose value does not fit its target field; ``reason`` is a short category."""

    def __init__(self, reason: str, detail: str) -> None:
        super().__init__(f"{reason}: {detail}")
        self.reason = reason
        self.detail = detail


def is_blank(value: object) -> bool:
    """True for an absent or null cell, an empty or whitespace-only text, or a float NaN."""
    if value is None or value is MISSING:
        return True
    if isinstance(value, str):
        return not value.strip()
    return isinstance(value, float) and math.isnan(value)


def lookup_text(value: object) -> str:
    """The text a value map looks a cell up by: ``1``, ``1.0`` and ``"1"`` all give ``"1"``."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    if isinstance(value, int | float):
        return str(value)
    if isinstance(value, str):
        return value.strip()
    raise CellValueError("not a scalar", f"found {type(value).__name__} {_preview(value)}")


def apply_value_map(value: object, values: Mapping[str, MapTarget]) -> object:
    """Replace a cell by its value-map target; blank cells stay blank."""
    if is_blank(value):
        return None
    key = lookup_text(value)
    if key not in values:
        expected = ", ".join(repr(known) for known in sorted(values))
        raise CellValueError("not in value map", f"{key!r} (expected one of {expected})")
    return values[key]


def as_text(value: object) -> str | None:
    """Stripped text of a cell, or None when blank; numbers are written as Python prints them."""
    if type(value) is str:  # the common case, first
        return value.strip() or None
    if is_blank(value):
        return None
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str | int | float):
        return str(value).strip()
    raise CellValueError("not text", f"found {type(value).__name__} {_preview(value)}")


def as_price(value: object) -> float | None:
    """A price as a float, or None when blank."""
    if is_blank(value):
        return None
    if isinstance(value, int | float) and not isinstance(value, bool):
        return float(value)
    if isinstance(value, str):
        try:
            return float(value.strip())
        except ValueError:
            raise CellValueError("not a number", _preview(value)) from None
    raise CellValueError("not a number", f"found {type(value).__name__} {_preview(value)}")


def as_binary_label(value: object) -> int | None:
    """A 0/1 label from ``0``/``1``/``true``/``false`` in any format, or None when blank."""
    if type(value) is int and value in (0, 1):  # the common case, first
        return value
    if is_blank(value):
        return None
    if isinstance(value, int | float | str):
        label = LABEL_TEXTS.get(lookup_text(value).casefold())
        if label is not None:
            return label
    raise CellValueError("not a 0/1 label", _preview(value))


def _preview(value: object) -> str:
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."
