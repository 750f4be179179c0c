"""Declarative rules beside the model, in the policy file: small, data, no rules engine.

A rule names one label and conditions that must all hold — words or phrases (matched on the
normalized, de-obfuscated text, as the model reads it), a regular expression, a brand priced far
below its reference price, a listing attribute present or absent — limited to some markets if
it says so. A matching rule forces the label's band (``band``) or the listing's action
(``action``); it never edits a calibrated probability. Its id appears in the decision's rules
and the label's reasons.
"""

import re
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from data.schema import Listing
from data.taxonomy import Action
from models.deobfuscation import deobfuscate
from models.text_features import normalize_text

Band = Literal["allow", "review", "enforce"]
_WORDS = re.compile(r"[^\W_]+(?:['.,][^\W_]+)*")


class BrandPrice(BaseModel):
    """``brand`` in the title at a price below ``below`` (in ``currency``): likely a fake."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    brand: str = Field(min_length=1)
    below: float = Field(gt=0)
    currency: str = Field(default="USD", pattern=r"^[A-Z]{3}$")


class Rule(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    id: str = Field(pattern=r"^[a-z0-9][a-z0-9_-]{0,63}$")
    label: str
    markets: tuple[Annotated[str, Field(pattern=r"^[A-Z]{2}$")], ...] = ()
    """Where the rule applies, as two capital letters (empty: every market)."""
    words: tuple[str, ...] = ()
    """Any one of these words or phrases, as the model reads text."""
    pattern: str | None = None
    """A regular expression searched in the normalized, de-obfuscated title and description."""
    brand_below_price: BrandPrice | None = None
    attribute_present: str | None = None
    attribute_absent: str | None = None
    band: Band | None = None
    action: Action | None = None

    @field_validator("pattern")
    @classmethod
    def _compiles(cls, value: str | None) -> str | None:
        if value is not None:
            try:
                re.compile(value)
            except re.error as error:
                raise ValueError(f"pattern does not compile: {error}") from None
        return value

    @model_validator(mode="after")
    def _one_effect_some_condition(self) -> "Rule":
        if (self.band is None) == (self.action is None):
            raise ValueError("a rule forces either a band or an action (exactly one)")
        conditions = (
            self.words,
            self.pattern,
            self.brand_below_price,
            self.attribute_present,
            self.attribute_absent,
        )
        if not any(conditions):
            raise ValueError("a rule needs a condition (words, pattern, brand_below_price, ...)")
        return self

    @property
    def attributes_read(self) -> tuple[str, ...]:
        return tuple(name for name in (self.attribute_present, self.attribute_absent) if name)

    def matches(self, listing: Listing, text: str) -> bool:
        """Whether every condition holds for ``listing`` (``text``: :func:`readable_text`)."""
        if self.markets and listing.market not in self.markets:
            return False
        if self.words and not any(_has_phrase(text, word) for word in self.words):
            return False
        if self.pattern is not None and re.search(self.pattern, text) is None:
            return False
        if self.brand_below_price is not None and not _cheap_brand(self.brand_below_price, listing):
            return False
        attributes = listing.attributes
        if self.attribute_present and not attributes.get(self.attribute_present, "").strip():
            return False
        return not (self.attribute_absent and attributes.get(self.attribute_absent, "").strip())


def readable_text(listing: Listing) -> str:
    """Title and description as the model reads them: normalized, evasions undone, words only."""
    text = deobfuscate(normalize_text(f"{listing.title} {listing.description}"))
    return " ".join(_WORDS.findall(text))


def _has_phrase(text: str, phrase: str) -> bool:
    wanted = " ".join(_WORDS.findall(deobfuscate(normalize_text(phrase))))
    return bool(wanted) and f" {wanted} " in f" {text} "


def _cheap_brand(rule: BrandPrice, listing: Listing) -> bool:
    if listing.price is None or listing.currency != rule.currency:
        return False
    title = " ".join(_WORDS.findall(deobfuscate(normalize_text(listing.title))))
    return _has_phrase(title, rule.brand) and listing.price < rule.below
