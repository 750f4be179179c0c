"""Dataset fingerprints: one sha256 for the rows a model was trained on and what they mean.

The hash covers canonical rows (sorted by listing id; canonical JSON of listing, labels and
slices) and the mapping's semantic content. It leaves out how the file was stored: the same rows
read from CSV, JSON lines or Parquet with equivalent mappings have the same fingerprint.
"""

import hashlib
import json
from collections.abc import Iterable
from typing import Any

from data.mapping import ColumnMapping
from data.schema import LabeledListing

FINGERPRINT_VERSION = "listingguard-dataset-fingerprint-v1"


def dataset_fingerprint(rows: Iterable[LabeledListing], mapping: ColumnMapping) -> str:
    """The sha256 hex digest of ``rows`` (in any order) and ``mapping``'s meaning."""
    digest = hashlib.sha256()
    digest.update(FINGERPRINT_VERSION.encode())
    digest.update(b"\n")
    digest.update(canonical_json(mapping.semantic_content()).encode())
    digest.update(b"\n")
    for _, line in sorted((row.listing.listing_id, canonical_row(row)) for row in rows):
        digest.update(line.encode())
        digest.update(b"\n")
    return digest.hexdigest()


def canonical_row(row: LabeledListing) -> str:
    """One row (listing, labels and slices) as canonical JSON."""
    return canonical_json(row.model_dump(mode="json"))


def canonical_json(value: Any) -> str:
    """Sorted keys, no insignificant whitespace, non-ASCII kept as is."""
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
