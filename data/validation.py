"""Dataset validation: what was read, what was kept, and what the labels look like.

``validate_dataset`` runs from ``listingguard data validate`` and again before every training run,
so the numbers a user checked by hand are the numbers training saw.
"""

import re
from collections import Counter
from collections.abc import Iterable

from pydantic import BaseModel, ConfigDict

from data.loaders import DUPLICATE_ID_REASON, LoadResult
from data.schema import LabeledListing

_WHITESPACE = re.compile(r"\s+")


class LabelBalance(BaseModel):
    """Counts of one label over the kept rows."""

    model_config = ConfigDict(frozen=True)

    label: str
    positives: int
    negatives: int
    unknown: int


class ValidationReport(BaseModel):
    """A summary of one loaded dataset; :meth:`lines` renders it for people."""

    model_config = ConfigDict(frozen=True)

    dataset: str
    file: str
    rows_read: int
    rows_kept: int
    rows_dropped: int
    dropped_by_reason: dict[str, int]
    duplicate_listing_ids: int
    duplicate_titles: int
    label_balance: list[LabelBalance]
    category_label: str | None
    categories: dict[str, int]
    sellers: int | None
    rows_without_seller: int
    slice_values: dict[str, int]

    def lines(self) -> list[str]:
        """The report as readable text lines."""
        lines = [
            f"dataset {self.dataset} from {self.file}",
            f"rows: {self.rows_read} read, {self.rows_kept} kept, {self.rows_dropped} dropped",
            *(f"  dropped, {reason}: {count}" for reason, count in self.dropped_by_reason.items()),
            f"duplicate listing ids: {self.duplicate_listing_ids}",
            f"duplicate normalized titles: {self.duplicate_titles} rows repeat an earlier title",
            "labels (positives / negatives / unknown):",
            *(_balance_line(balance) for balance in self.label_balance),
            f"{self.category_label or 'no label with'} categories:"
            + ("" if self.categories else " none"),
            *(f"  {name}: {count}" for name, count in self.categories.items()),
            _sellers_line(self.sellers, self.rows_without_seller),
            "slices (distinct values):" + ("" if self.slice_values else " none"),
            *(f"  {name}: {count}" for name, count in self.slice_values.items()),
        ]
        return lines


def validate_dataset(result: LoadResult) -> ValidationReport:
    """Summarize a :class:`LoadResult`: row accounting, duplicates, label balance, sellers."""
    rows = result.rows
    taxonomy = result.mapping.taxonomy
    sellers = {row.listing.seller_id for row in rows if row.listing.seller_id is not None}
    duplicate_ids = len(rows) - len({row.listing.listing_id for row in rows})
    return ValidationReport(
        dataset=result.mapping.name,
        file=result.file,
        rows_read=result.source_rows,
        rows_kept=len(rows),
        rows_dropped=result.dropped_rows,
        dropped_by_reason=dict(result.dropped_by_reason),
        duplicate_listing_ids=duplicate_ids + result.dropped_by_reason.get(DUPLICATE_ID_REASON, 0),
        duplicate_titles=count_duplicate_titles(row.listing.title for row in rows),
        label_balance=[label_balance(rows, label) for label in taxonomy.label_names],
        category_label=taxonomy.category_label,
        categories=category_counts(rows),
        sellers=len(sellers) if sellers else None,
        rows_without_seller=sum(row.listing.seller_id is None for row in rows),
        slice_values=distinct_slice_values(rows),
    )


def normalize_title(title: str) -> str:
    """Casefolded, whitespace collapsed: the form in which two titles count as the same."""
    return _WHITESPACE.sub(" ", title.casefold()).strip()


def count_duplicate_titles(titles: Iterable[str]) -> int:
    """How many titles repeat an earlier one once normalized."""
    counts = Counter(normalize_title(title) for title in titles)
    return sum(count - 1 for count in counts.values())


def label_balance(rows: list[LabeledListing], label: str) -> LabelBalance:
    """Positives, negatives and unknowns of ``label`` among ``rows``."""
    values = Counter(row.labels.value(label) for row in rows)
    return LabelBalance(label=label, positives=values[1], negatives=values[0], unknown=values[None])


def category_counts(rows: list[LabeledListing]) -> dict[str, int]:
    """Rows per category (of the taxonomy's category label), most frequent first."""
    counts = Counter(row.labels.category for row in rows)
    counts.pop(None, None)
    return {str(name): count for name, count in counts.most_common()}


def distinct_slice_values(rows: list[LabeledListing]) -> dict[str, int]:
    """How many distinct values each slice column takes, by slice name."""
    values: dict[str, set[str]] = {}
    for row in rows:
        for name, value in row.slices.items():
            values.setdefault(name, set()).add(value)
    return {name: len(values[name]) for name in sorted(values)}


def _balance_line(balance: LabelBalance) -> str:
    known = balance.positives + balance.negatives
    if known == 0:
        return f"  {balance.label}: unknown for all {balance.unknown} rows"
    rate = 100 * balance.positives / known
    return (
        f"  {balance.label}: {balance.positives} / {balance.negatives} / {balance.unknown}"
        f" ({rate:.2f}% positive among known)"
    )


def _sellers_line(sellers: int | None, rows_without_seller: int) -> str:
    if sellers is None:
        return "sellers: no seller ids"
    missing = f" ({rows_without_seller} rows without one)" if rows_without_seller else ""
    return f"sellers: {sellers} distinct seller ids{missing}"
