"""The tokenized families' text front-end: a listing as one normalized text, then token ids.

Runs on the ``tokenizers`` library alone (no torch, no transformers), from the bundle's
``tokenizer.json``; training encodes through this same class, so serving reads exactly what the
model was fine-tuned on. Words go through the feature spec's normalization (version 2 undoes
evasions), the same as the hashed n-grams.
"""

from pathlib import Path

import numpy as np
from tokenizers import Tokenizer

from data.schema import Listing
from models.errors import BundleError
from models.text_features import FeatureHasher, FeatureSpec, price_phrase

MAX_DESCRIPTION_WORDS = 128
"""Description words kept before tokenizing (the token limit cuts most texts sooner)."""
PART_SEPARATOR = " | "


class TokenEncoder:
    """Listing text and padded ``input_ids`` / ``attention_mask`` (int64) for a batch."""

    def __init__(self, tokenizer_path: Path, *, max_length: int, feature_spec: FeatureSpec):
        try:
            self.tokenizer = Tokenizer.from_file(str(tokenizer_path))
        except Exception as error:  # the Rust library raises untyped errors for bad files
            raise BundleError(f"{tokenizer_path}: not a readable tokenizer: {error}") from error
        self.tokenizer.no_padding()
        self.tokenizer.enable_truncation(max_length=max_length)
        self.max_length = max_length
        self.spec = feature_spec
        self._hasher = FeatureHasher(feature_spec)
        pads = [self.tokenizer.token_to_id(token) for token in ("[PAD]", "<pad>")]
        self.pad_id = next((pad for pad in pads if pad is not None), 0)

    def words(self, text: str) -> list[str]:
        return self._hasher.words(text)

    def text(self, listing: Listing, *, without: str | None = None) -> str:
        """Title words | description words | price band; ``without`` drops one title word."""
        title = [word for word in self.words(listing.title) if word != without]
        parts = [" ".join(title)]
        if self.spec.use_description:
            description = self.words(listing.description)[:MAX_DESCRIPTION_WORDS]
            if description:
                parts.append(" ".join(description))
        if self.spec.use_price:
            parts.append(price_phrase(listing.price, listing.currency))
        return PART_SEPARATOR.join(parts)

    def encode_texts(self, texts: list[str]) -> dict[str, np.ndarray]:
        """Token ids padded to the batch's longest text (dynamic padding)."""
        encodings = self.tokenizer.encode_batch(texts)
        width = max((len(item.ids) for item in encodings), default=1) or 1
        ids = np.full((len(texts), width), self.pad_id, dtype=np.int64)
        mask = np.zeros((len(texts), width), dtype=np.int64)
        for row, item in enumerate(encodings):
            ids[row, : len(item.ids)] = item.ids
            mask[row, : len(item.ids)] = 1
        return {"input_ids": ids, "attention_mask": mask}

    def encode(self, listings: list[Listing]) -> dict[str, np.ndarray]:
        return self.encode_texts([self.text(listing) for listing in listings])
