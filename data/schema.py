"""Pydantic schema of a listing and of its labels.

A label is ``1`` (violation), ``0`` (clean) or ``None`` (unknown: the dataset does not carry it).
"""

from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from data.taxonomy import LABELS, REGULATED_CATEGORIES

MAX_TITLE_CHARS = 1_000
MAX_DESCRIPTION_CHARS = 20_000
MAX_ATTRIBUTES = 50
MAX_ATTRIBUTE_CHARS = 500

BinaryLabel = Annotated[int, Field(ge=0, le=1)]


class Listing(BaseModel):
    """A marketplace listing as a listing pipeline sends it for scoring."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    listing_id: str = Field(min_length=1, max_length=200)
    title: str = Field(min_length=1, max_length=MAX_TITLE_CHARS)
    description: str = Field(default="", max_length=MAX_DESCRIPTION_CHARS)
    price: float | None = Field(default=None, ge=0, le=1e9, allow_inf_nan=False)
    currency: str = Field(default="USD", pattern=r"^[A-Z]{3}$")
    category: str | None = Field(default=None, max_length=200)
    seller_id: str | None = Field(default=None, max_length=200)
    market: str = Field(default="US", pattern=r"^[A-Z]{2}$")
    attributes: dict[str, str] = Field(default_factory=dict, max_length=MAX_ATTRIBUTES)

    @field_validator("listing_id", "title", "description", "category", "seller_id")
    @classmethod
    def _no_nul(cls, value: str | None) -> str | None:
        if value is not None:
            reject_nul(value)
        return value

    @field_validator("attributes")
    @classmethod
    def _attribute_values_are_short(cls, value: dict[str, str]) -> dict[str, str]:
        for key, text in value.items():
            if len(key) > MAX_ATTRIBUTE_CHARS or len(text) > MAX_ATTRIBUTE_CHARS:
                raise ValueError(f"attribute {key[:40]!r} exceeds {MAX_ATTRIBUTE_CHARS} characters")
            reject_nul(key)
            reject_nul(text)
        return value


def reject_nul(text: str) -> str:
    """NUL characters are refused: no database text column can store them."""
    if "\x00" in text:
        raise ValueError("must not contain NUL (\\x00) characters")
    return text


class Labels(BaseModel):
    """Multi-label ground truth of one listing; ``None`` means unknown, never clean."""

    model_config = ConfigDict(extra="forbid")

    fraud: BinaryLabel | None = None
    counterfeit: BinaryLabel | None = None
    regulated: BinaryLabel | None = None
    regulated_category: str | None = None

    @field_validator("regulated_category")
    @classmethod
    def _known_category(cls, value: str | None) -> str | None:
        if value is not None and value not in REGULATED_CATEGORIES:
            raise ValueError(
                f"unknown regulated_category {value!r}; expected one of "
                + ", ".join(REGULATED_CATEGORIES)
            )
        return value

    @model_validator(mode="after")
    def _category_needs_regulated(self) -> "Labels":
        if self.regulated_category is not None and self.regulated == 0:
            raise ValueError("regulated_category is set but regulated is 0")
        return self

    def value(self, label: str) -> int | None:
        """The 0/1/None value of one of :data:`data.taxonomy.LABELS`."""
        if label not in LABELS:
            raise KeyError(f"unknown label {label!r}")
        result: int | None = getattr(self, label)
        return result


class LabeledListing(BaseModel):
    """A listing, its labels and slice-only columns (for reports; never model features)."""

    model_config = ConfigDict(extra="forbid")

    listing: Listing
    labels: Labels
    slices: dict[str, str] = Field(default_factory=dict)
