"""marketplace-risk-v1 from the shared data folder, for the benchmarks (never committed)."""

import os
from pathlib import Path

from data.loaders import load_labeled
from data.mapping import ColumnMapping, load_mapping, resolve_mapping_path
from data.schema import LabeledListing

DATASET = "marketplace-risk-v1"


def load_marketplace(
    *splits: str,
) -> tuple[ColumnMapping, dict[str, list[LabeledListing]]] | None:
    """The mapping and the rows of ``splits`` (``train``, ``validation``); None, having said so,
    when the shared data is absent (``LISTINGGUARD_SHARED_DIR``, default ``../shared``)."""
    folder = Path(os.environ.get("LISTINGGUARD_SHARED_DIR", "../shared")) / "data" / DATASET
    if not (folder / "train.jsonl").is_file():
        print(f"{folder}: absent; nothing to measure")
        return None
    mapping = load_mapping(resolve_mapping_path(DATASET))
    return mapping, {name: load_labeled(folder / f"{name}.jsonl", mapping).rows for name in splits}
