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

import numpy as np
from pydantic import BaseModel, ConfigDict

from data.schema import Listing

_WHITESPACE = re.compile(r"\s+")
_TOKEN = re.compile(r"[^\W_]+(?:['.,][^\W_]+)*")
_SEPARATOR = "\x1f"


class BlockSpec(BaseModel):
    """One block of features: its name, bucket range and n-gram settings."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str
    offset: int
    n_buckets: int


class FeatureSpec(BaseModel):
    """Everything needed to turn a listing into bucket ids; stored on the model card."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    version: int = 1
    word_ngrams: tuple[int, int] = (1, 2)
    char_ngrams: tuple[int, int] = (3, 5)
    title_word_buckets: int = 2**17
    title_char_buckets: int = 2**18
    description_buckets: int = 2**17
    price_buckets: int = 64

    def blocks(self) -> tuple[BlockSpec, ...]:
        """Blocks in id order; bucket 0 of the first block is never hashed to (padding)."""
        sizes = (
            ("title_words", self.title_word_buckets),
            ("title_chars", self.title_char_buckets),
            ("description", self.description_buckets),
            ("price", self.price_buckets),
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


def tokenize(text: str) -> list[str]:
    """Word tokens of normalized text: letters and digits, keeping inner ' . , (e.g. 2.5mg)."""
    return _TOKEN.findall(normalize_text(text))


@dataclass
class ListingFeatures:
    """Hashed features of one listing.

    ``ids``, ``counts`` and ``blocks`` are parallel arrays of shape (k,); ``sources[i]`` is the
    human-readable phrase (word, word pair or price band) feature i came from, used for reasons.
    """

    ids: np.ndarray
    counts: np.ndarray
    blocks: np.ndarray
    sources: list[str] = field(default_factory=list)


class _Accumulator:
    """Counts per (block index, bucket id), remembering the first phrase behind each bucket."""

    def __init__(self) -> None:
        self.counts: dict[tuple[int, int], int] = {}
        self.sources: dict[tuple[int, int], str] = {}

    def add(self, key: tuple[int, int], source: str) -> None:
        self.counts[key] = self.counts.get(key, 0) + 1
        self.sources.setdefault(key, source)

    def to_features(self) -> ListingFeatures:
        keys = list(self.counts)
        return ListingFeatures(
            ids=np.array([key[1] for key in keys], dtype=np.int64),
            counts=np.array([self.counts[key] for key in keys], dtype=np.float32),
            blocks=np.array([key[0] for key in keys], dtype=np.int64),
            sources=[self.sources[key] for key in keys],
        )


class FeatureHasher:
    """Turns listings into hashed n-gram features as described by a :class:`FeatureSpec`."""

    def __init__(self, spec: FeatureSpec) -> None:
        self.spec = spec
        self._blocks = {block.name: (index, block) for index, block in enumerate(spec.blocks())}

    def _bucket(self, block_name: str, term: str) -> tuple[int, int]:
        index, block = self._blocks[block_name]
        digest = zlib.crc32(f"{block_name}{_SEPARATOR}{term}".encode())
        return index, block.offset + digest % block.n_buckets

    def _add_words(self, accumulator: _Accumulator, block_name: str, words: list[str]) -> None:
        low, high = self.spec.word_ngrams
        for n in range(low, high + 1):
            for start in range(len(words) - n + 1):
                phrase = " ".join(words[start : start + n])
                accumulator.add(self._bucket(block_name, "w:" + phrase), phrase)

    def _add_chars(self, accumulator: _Accumulator, block_name: str, words: list[str]) -> None:
        low, high = self.spec.char_ngrams
        for word in words:
            padded = f" {word} "
            for n in range(low, high + 1):
                for start in range(len(padded) - n + 1):
                    gram = padded[start : start + n]
                    accumulator.add(self._bucket(block_name, "c:" + gram), word)

    def _add_price(self, accumulator: _Accumulator, price: float | None, currency: str) -> None:
        if price is None:
            accumulator.add(self._bucket("price", "missing"), "price missing")
            return
        band = min(int(math.log2(price + 1.0)), 40)
        label = f"price {currency} {2**band - 1:g}-{2 ** (band + 1) - 1:g}"
        accumulator.add(self._bucket("price", f"{currency}:{band}"), label)

    def transform_one(self, listing: Listing) -> ListingFeatures:
        """Features of one listing (title, description, price; never ids or slice columns)."""
        accumulator = _Accumulator()
        title_words = tokenize(listing.title)
        self._add_words(accumulator, "title_words", title_words)
        self._add_chars(accumulator, "title_chars", title_words)
        description_words = tokenize(listing.description)
        self._add_words(accumulator, "description", description_words)
        self._add_chars(accumulator, "description", description_words)
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
