"""The text front-end shared by training and serving: normalization and hashed n-gram features.

A listing becomes a list of (bucket, count, block) triples. Each block (title words, title
characters, description, price) hashes into its own range of buckets so the model can weight
and normalize the blocks separately. Hashing uses CRC-32 of UTF-8 bytes: stable across
processes, platforms and Python versions, so the features computed at serving time are exactly
the ones the model was trained on.
"""

import math
import re
import unicodedata
import zlib
from dataclasses import dataclass, field
from typing import Literal

import numpy as np
from pydantic import BaseModel, ConfigDict, Field, PositiveInt, field_validator, model_validator

from data.schema import Listing
from models.deobfuscation import deobfuscate

_WHITESPACE = re.compile(r"\s+")
_TOKEN = re.compile(r"[^\W_]+(?:['.,][^\W_]+)*")
_SEPARATOR = "\x1f"


class BlockSpec(BaseModel):
    """One block of features: its name, bucket range and n-gram settings."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str
    offset: int
    n_buckets: int


class TermGroup(BaseModel):
    """A named word list from domain knowledge (e.g. words that mark a replica).

    A title or description token in the list adds one count to the group's single feature, so
    sellers who word things differently still share the signal. Only the heads of ``labels``
    may use it: the others get a zero weight for it.
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    labels: tuple[str, ...] = Field(min_length=1)
    """Labels of the training data's taxonomy (checked when training starts)."""
    tokens: tuple[str, ...] = Field(min_length=1)


class FeatureSpec(BaseModel):
    """Everything needed to turn a listing into bucket ids; stored on the model card."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    version: Literal[1, 2] = 1
    """1: words as written; 2: evasions undone first (:mod:`models.deobfuscation`)."""
    word_ngrams: tuple[PositiveInt, PositiveInt] | None = (1, 2)
    """Word n-gram lengths [low, high] of title and description; ``None`` switches them off."""
    char_ngrams: tuple[PositiveInt, PositiveInt] | None = (3, 5)
    """Character n-gram lengths of title words (and description words, in the description
    block); ``None`` switches them off."""
    use_description: bool = True
    use_price: bool = True
    title_word_buckets: PositiveInt = 2**17
    title_char_buckets: PositiveInt = 2**18
    description_buckets: PositiveInt = 2**17
    price_buckets: PositiveInt = 64
    term_group_buckets: PositiveInt = 64
    term_groups: dict[str, "TermGroup"] = Field(default_factory=dict)

    @field_validator("word_ngrams", "char_ngrams")
    @classmethod
    def _ordered_range(cls, value: tuple[int, int] | None) -> tuple[int, int] | None:
        if value is not None and value[0] > value[1]:
            raise ValueError(f"n-gram range {list(value)} must be [low, high] with low <= high")
        return value

    @model_validator(mode="after")
    def _some_text_features(self) -> "FeatureSpec":
        if self.word_ngrams is None and self.char_ngrams is None:
            raise ValueError(
                "word_ngrams and char_ngrams are both off: the model would read no text"
            )
        return self

    def blocks(self) -> tuple[BlockSpec, ...]:
        """Blocks in id order; bucket 0 of the first block is never hashed to (padding)."""
        # A family switched off keeps a one-bucket block that nothing hashes into, so block
        # indices (and the graph) do not depend on which families are on.
        sizes = (
            ("title_words", self.title_word_buckets if self.word_ngrams else 1),
            ("title_chars", self.title_char_buckets if self.char_ngrams else 1),
            ("description", self.description_buckets if self.use_description else 1),
            ("price", self.price_buckets if self.use_price else 1),
            ("term_groups", self.term_group_buckets),
        )
        offset = 1
        result = []
        for name, size in sizes:
            result.append(BlockSpec(name=name, offset=offset, n_buckets=size))
            offset += size
        return tuple(result)

    @property
    def n_features(self) -> int:
        """Rows of the weight matrix, padding row 0 included."""
        return 1 + sum(block.n_buckets for block in self.blocks())

    @property
    def n_blocks(self) -> int:
        return len(self.blocks())


def normalize_text(text: str) -> str:
    """NFKC, case-folded, whitespace collapsed and stripped. Idempotent."""
    folded = unicodedata.normalize("NFKC", text).casefold()
    # Case folding can produce text that NFKC changes again (rare ligatures): fold to a fixpoint.
    again = unicodedata.normalize("NFKC", folded).casefold()
    while again != folded:
        folded, again = again, unicodedata.normalize("NFKC", again).casefold()
    return _WHITESPACE.sub(" ", folded).strip()


def price_band(price: float) -> int:
    """The power-of-two price band of a price (bands above 2**40 merge)."""
    return min(int(math.log2(price + 1.0)), 40)


def price_phrase(price: float | None, currency: str) -> str:
    """The readable price band, as reasons show it and the transformer reads it."""
    if price is None:
        return "price missing"
    band = price_band(price)
    return f"price {currency} {2**band - 1:g}-{2 ** (band + 1) - 1:g}"


def tokenize(text: str) -> list[str]:
    """Word tokens of normalized text: letters and digits, keeping inner ' . , (e.g. 2.5mg)."""
    return _TOKEN.findall(normalize_text(text))


@dataclass
class ListingFeatures:
    """Hashed features of one listing.

    ``ids``, ``counts``, ``blocks`` and ``phrase_of`` are parallel arrays of shape (k,);
    ``phrases[phrase_of[i]]`` is the human-readable phrase (word, word pair or price band)
    feature i came from, used for reasons. ``phrases`` holds each phrase once, in order of first
    appearance, so reasons sum a phrase's features with one ``bincount``.
    """

    ids: np.ndarray
    counts: np.ndarray
    blocks: np.ndarray
    phrases: list[str] = field(default_factory=list)
    phrase_of: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=np.intp))


class _Accumulator:
    """Counts per bucket id, remembering the first phrase behind each bucket.

    Bucket ranges of the blocks are disjoint, so the id alone identifies the block.
    """

    def __init__(self, offsets: np.ndarray) -> None:
        self.offsets = offsets
        self.counts: dict[int, int] = {}
        self.sources: dict[int, str] = {}

    def add_terms(self, seed: int, offset: int, size: int, terms: list[tuple[str, str]]) -> None:
        counts, sources, crc32 = self.counts, self.sources, zlib.crc32
        for term, source in terms:
            # crc32(term, crc32(prefix)) == crc32(prefix + term): the block prefix is hashed once.
            key = offset + crc32(term.encode(), seed) % size
            if key in counts:
                counts[key] += 1
            else:
                counts[key] = 1
                sources[key] = source

    def to_features(self) -> ListingFeatures:
        ids = np.fromiter(self.counts, dtype=np.int64, count=len(self.counts))
        sources = self.sources.values()
        phrases = list(dict.fromkeys(sources))
        code_of = dict(zip(phrases, range(len(phrases)), strict=True))
        return ListingFeatures(
            ids=ids,
            counts=np.fromiter(self.counts.values(), dtype=np.float32, count=len(ids)),
            blocks=np.searchsorted(self.offsets, ids, side="right").astype(np.int64) - 1,
            phrases=phrases,
            phrase_of=np.fromiter(map(code_of.__getitem__, sources), dtype=np.intp, count=len(ids)),
        )


def _word_terms(words: list[str], low: int, high: int) -> list[tuple[str, str]]:
    terms = []
    for n in range(low, high + 1):
        for start in range(len(words) - n + 1):
            phrase = " ".join(words[start : start + n])
            terms.append((phrase, phrase))
    return terms


def _char_terms(words: list[str], low: int, high: int) -> list[tuple[str, str]]:
    terms = []
    for word in words:
        padded = f" {word} "
        length = len(padded)
        for n in range(low, high + 1):
            terms += [(padded[start : start + n], word) for start in range(length - n + 1)]
    return terms


class FeatureHasher:
    """Turns listings into hashed n-gram features as described by a :class:`FeatureSpec`.

    A term ``t`` of kind ``k`` in block ``b`` goes to bucket
    ``offset(b) + crc32("b\\x1fk:t") % n_buckets(b)``.
    """

    def __init__(self, spec: FeatureSpec) -> None:
        self.spec = spec
        self._blocks = {block.name: block for block in spec.blocks()}
        self._offsets = np.array([block.offset for block in spec.blocks()], dtype=np.int64)
        self._groups_of_token: dict[str, list[str]] = {}
        for group, members in sorted(spec.term_groups.items()):
            for token in members.tokens:
                self._groups_of_token.setdefault(normalize_text(token), []).append(group)

    def _add(
        self, accumulator: _Accumulator, block_name: str, kind: str, terms: list[tuple[str, str]]
    ) -> None:
        block = self._blocks[block_name]
        seed = zlib.crc32(f"{block_name}{_SEPARATOR}{kind}".encode())
        accumulator.add_terms(seed, block.offset, block.n_buckets, terms)

    def _add_text(
        self, accumulator: _Accumulator, words_block: str, chars_block: str, words: list[str]
    ) -> None:
        if self.spec.word_ngrams is not None:
            self._add(accumulator, words_block, "w:", _word_terms(words, *self.spec.word_ngrams))
        if self.spec.char_ngrams is not None:
            self._add(accumulator, chars_block, "c:", _char_terms(words, *self.spec.char_ngrams))

    def term_group_column(self, group: str) -> int:
        """The feature id (weight-matrix row) of a term group."""
        block = self._blocks["term_groups"]
        seed = zlib.crc32(f"term_groups{_SEPARATOR}g:".encode())
        return block.offset + zlib.crc32(group.encode(), seed) % block.n_buckets

    def _add_term_groups(self, accumulator: _Accumulator, words: list[str]) -> None:
        groups = self._groups_of_token
        terms = [(group, word) for word in words for group in groups.get(word, ())]
        self._add(accumulator, "term_groups", "g:", terms)

    def _add_price(self, accumulator: _Accumulator, price: float | None, currency: str) -> None:
        if price is None:
            self._add(accumulator, "price", "", [("missing", price_phrase(price, currency))])
            return
        band = price_band(price)
        self._add(accumulator, "price", "", [(f"{currency}:{band}", price_phrase(price, currency))])

    def words(self, text: str) -> list[str]:
        """Word tokens of ``text`` as this feature version reads them (version 2: evasions such
        as zero-width characters, spaced letters, look-alikes and leetspeak undone)."""
        normalized = normalize_text(text)
        if self.spec.version < 2:
            return _TOKEN.findall(normalized)
        return _TOKEN.findall(deobfuscate(normalized))

    def transform_one(self, listing: Listing) -> ListingFeatures:
        """Features of one listing (title, description, price; never ids or slice columns)."""
        accumulator = _Accumulator(self._offsets)
        title_words = self.words(listing.title)
        description_words = self.words(listing.description) if self.spec.use_description else []
        self._add_text(accumulator, "title_words", "title_chars", title_words)
        if description_words:
            self._add_text(accumulator, "description", "description", description_words)
        self._add_term_groups(accumulator, title_words + description_words)
        if self.spec.use_price:
            self._add_price(accumulator, listing.price, listing.currency)
        return accumulator.to_features()

    def transform(self, listings: list[Listing]) -> list[ListingFeatures]:
        return [self.transform_one(listing) for listing in listings]


def pad_batch(features: list[ListingFeatures]) -> dict[str, np.ndarray]:
    """Stack listings into the model's padded inputs.

    Returns ``feature_ids`` (n, k) int64, ``feature_counts`` (n, k) float32 and
    ``feature_blocks`` (n, k) int64, where k is the largest feature count in the batch;
    padding uses id 0 with count 0 (a zero row of every weight matrix).
    """
    width = max((len(item.ids) for item in features), default=0) or 1
    ids = np.zeros((len(features), width), dtype=np.int64)
    counts = np.zeros((len(features), width), dtype=np.float32)
    blocks = np.zeros((len(features), width), dtype=np.int64)
    for row, item in enumerate(features):
        size = len(item.ids)
        ids[row, :size] = item.ids
        counts[row, :size] = item.counts
        blocks[row, :size] = item.blocks
    return {"feature_ids": ids, "feature_counts": counts, "feature_blocks": blocks}
