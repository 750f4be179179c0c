"""Pydantic schema of a listing and of its labels.

A label is ``1`` (violation), ``0`` (clean) or ``None`` (unknown: the dataset does not carry it).
"""

from typing import Annotated, Final

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

MAX_TITLE_CHARS = 1_000
MAX_DESCRIPTION_CHARS = 20_000
MAX_ATTRIBUTES = 50
MAX_ATTRIBUTE_CHARS = 500

BinaryLabel = Annotated[int, Field(ge=0, le=1)]

# The patterns below are the whole rule, stated in the OpenAPI document exactly as enforced:
# text is stored as sent (never stripped), and NUL is refused because no database text column
# can hold it. Whitespace is spelled out (ASCII only) so every regex engine reads it the same.
NO_NUL_PATTERN: Final = r"^[^\x00]*$"
"""Any text without NUL characters (may be empty)."""

NON_BLANK_PATTERN: Final = r"^[^\x00]*[^\x00\t-\r ][^\x00]*$"
"""At least one character other than ASCII whitespace, and no NUL characters."""

OPTIONAL_TEXT_PATTERN: Final = r"^$|^[^\x00]*[^\x00\t-\r ][^\x00]*$"
"""Empty (absent), or text with a non-whitespace character and no NUL."""

ASCII_WHITESPACE: Final = "\t\n\x0b\x0c\r "
"""The characters NON_BLANK_PATTERN counts as blank."""

PATTERN_MEANINGS: Final = {
    NO_NUL_PATTERN: "must not contain NUL (\\x00) characters",
    NON_BLANK_PATTERN: "must contain a non-whitespace character and no NUL (\\x00) characters",
    OPTIONAL_TEXT_PATTERN: (
        "must be empty or contain a non-whitespace character, and no NUL (\\x00) characters"
    ),
}
"""What each pattern means, for error messages a person can read."""

NonBlankText = Annotated[str, Field(pattern=NON_BLANK_PATTERN)]
NoNulText = Annotated[str, Field(pattern=NO_NUL_PATTERN)]
AttributeText = Annotated[str, Field(max_length=MAX_ATTRIBUTE_CHARS, pattern=NO_NUL_PATTERN)]
AttributeName = Annotated[str, Field(max_length=MAX_ATTRIBUTE_CHARS)]


class Listing(BaseModel):
    """A marketplace listing as a listing pipeline sends it for scoring."""

    model_config = ConfigDict(
        extra="forbid",
        # The rule of the validator below, stated in the JSON schema: a title, or failing that
        # a description, carries the text.
        json_schema_extra={
            "anyOf": [
                {"required": ["title"], "properties": {"title": {"minLength": 1}}},
                {
                    "required": ["description"],
                    "properties": {"description": {"pattern": NON_BLANK_PATTERN}},
                },
            ]
        },
    )

    listing_id: NonBlankText = Field(min_length=1, max_length=200)
    title: str = Field(default="", max_length=MAX_TITLE_CHARS, pattern=OPTIONAL_TEXT_PATTERN)
    """May be empty (or absent) when the description carries the text."""
    description: NoNulText = Field(default="", max_length=MAX_DESCRIPTION_CHARS)
    # strict: JSON true/false is not a price (lax mode would read it as 1.0/0.0).
    price: float | None = Field(default=None, ge=0, le=1e9, allow_inf_nan=False, strict=True)
    currency: str = Field(default="USD", pattern=r"^[A-Z]{3}$")
    category: NoNulText | None = Field(default=None, max_length=200)
    seller_id: NoNulText | None = Field(default=None, max_length=200)
    market: str = Field(default="US", pattern=r"^[A-Z]{2}$")
    attributes: dict[AttributeName, AttributeText] = Field(
        default_factory=dict,
        max_length=MAX_ATTRIBUTES,
        # A pattern on the key type would be published as patternProperties, which leaves
        # other keys unconstrained; the key rule is stated here and checked below.
        json_schema_extra={
            "propertyNames": {"maxLength": MAX_ATTRIBUTE_CHARS, "pattern": NO_NUL_PATTERN}
        },
    )

    @model_validator(mode="after")
    def _some_text(self) -> "Listing":
        if not self.title and not self.description.strip(ASCII_WHITESPACE):
            raise ValueError("title: required unless the description has text")
        return self

    @field_validator("attributes")
    @classmethod
    def _attribute_names_have_no_nul(cls, value: dict[str, str]) -> dict[str, str]:
        for name in value:
            if "\x00" in name:
                raise ValueError(f"attribute name {name[:40]!r} {PATTERN_MEANINGS[NO_NUL_PATTERN]}")
        return value


class Labels(BaseModel):
    """Multi-label ground truth of one listing; ``None`` means unknown, never clean.

    ``values`` maps label names of the dataset's taxonomy to 0/1/None; ``category`` is the
    category of the taxonomy's category-carrying label. The names are checked against the
    taxonomy where rows are made (:mod:`data.row_conversion`).
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    values: dict[str, BinaryLabel | None] = Field(default_factory=dict)
    category: str | None = None

    def value(self, label: str) -> int | None:
        """The 0/1 value of ``label``; ``None`` when unknown (or not carried by the dataset)."""
        return self.values.get(label)


class LabeledListing(BaseModel):
    """A listing, its labels and slice-only columns (for reports; never model features)."""

    model_config = ConfigDict(extra="forbid")

    listing: Listing
    labels: Labels
    slices: dict[str, str] = Field(default_factory=dict)
