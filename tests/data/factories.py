"""Hand-made rows and mapping files for the data tests."""

import textwrap
from pathlib import Path

from data.mapping import ColumnMapping, load_mapping
from data.schema import LabeledListing, Labels, Listing


def make_row(
    listing_id: str,
    *,
    seller_id: str | None = None,
    title: str | None = None,
    fraud: int | None = 0,
    counterfeit: int | None = 0,
    regulated: int | None = 0,
    regulated_category: str | None = None,
    slices: dict[str, str] | None = None,
) -> LabeledListing:
    """A labeled listing with sensible defaults; only what a test cares about needs saying."""
    return LabeledListing(
        listing=Listing(
            listing_id=listing_id, title=title or f"item {listing_id}", seller_id=seller_id
        ),
        labels=Labels(
            values={"fraud": fraud, "counterfeit": counterfeit, "regulated": regulated},
            category=regulated_category,
        ),
        slices=slices or {},
    )


def write_mapping(directory: Path, yaml_text: str, name: str = "mapping.yaml") -> ColumnMapping:
    """Write a mapping YAML (dedented) into ``directory`` and load it."""
    path = directory / name
    path.write_text(textwrap.dedent(yaml_text), encoding="utf-8")
    return load_mapping(path)


def write_text(directory: Path, name: str, text: str) -> Path:
    """Write a data file (dedented, leading newline dropped) and return its path."""
    path = directory / name
    path.write_text(textwrap.dedent(text).lstrip("\n"), encoding="utf-8")
    return path
