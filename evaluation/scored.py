"""A model's scores on labeled rows, aligned row by row with the truth and the seller of each row.

Every other evaluation module (slices, routing simulation, comparison, figures) reads this one
structure, so scoring happens once per model and dataset. A label the dataset does not carry is
*unknown* on a row (``known`` is False), never 0.
"""

from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

from data.schema import LabeledListing
from evaluation.errors import EvaluationError
from evaluation.inputs import FloatArray, IntArray
from models.scorer import BundleScorer

BoolArray = NDArray[np.bool_]
ObjectArray = NDArray[np.object_]
SCORING_BATCH = 512


@dataclass(frozen=True, eq=False)
class LabelData:
    """One label on the rows where it is known: truth (m,), probability (m,), seller (m,)."""

    y_true: IntArray
    scores: FloatArray
    groups: ObjectArray

    @property
    def positives(self) -> int:
        return int(self.y_true.sum())


@dataclass(frozen=True, eq=False)
class ScoredRows:
    """Scores of one model on n labeled rows.

    ``probabilities``, ``y_true`` and ``known`` have shape (n, L) for the L model ``labels``;
    ``y_true`` is 0 where a label is unknown, so read it only where ``known`` is True.
    ``predicted_category`` and ``true_category`` (n,) are the category head's answer and the
    dataset's regulated category (None where unknown). ``groups`` (n,) is the seller id of each
    row, or its listing id where there is no seller: the clusters of the bootstrap.
    """

    rows: Sequence[LabeledListing]
    labels: tuple[str, ...]
    probabilities: FloatArray
    y_true: IntArray
    known: BoolArray
    predicted_category: tuple[str | None, ...]
    true_category: tuple[str | None, ...]
    groups: ObjectArray

    @property
    def n(self) -> int:
        return len(self.rows)

    def evaluated_labels(self) -> tuple[str, ...]:
        """Model labels the dataset carries on at least one row; the others are skipped."""
        return tuple(label for i, label in enumerate(self.labels) if self.known[:, i].any())

    def label_data(self, label: str, mask: BoolArray | None = None) -> LabelData:
        """Rows where ``label`` is known (and ``mask`` (n,) holds, if given)."""
        column = self.labels.index(label)
        keep = self.known[:, column] if mask is None else self.known[:, column] & mask
        return LabelData(
            y_true=self.y_true[keep, column],
            scores=self.probabilities[keep, column],
            groups=self.groups[keep],
        )

    def probability_dicts(self) -> list[dict[str, float]]:
        """Per row ``{label: probability}``, the form routing takes."""
        return [dict(zip(self.labels, row, strict=True)) for row in self.probabilities.tolist()]


def score_rows(
    scorer: BundleScorer,
    rows: Sequence[LabeledListing],
    *,
    on_batch: Callable[[int], None] | None = None,
) -> ScoredRows:
    """Score ``rows`` in batches through the bundle's ONNX graph (as serving does).

    ``on_batch`` is called with the number of rows scored after each batch, for progress bars.
    """
    if not rows:
        raise EvaluationError("no rows to evaluate")
    labels = tuple(scorer.labels)
    probabilities = np.empty((len(rows), len(labels)))
    predicted: list[str | None] = []
    for start in range(0, len(rows), SCORING_BATCH):
        batch = rows[start : start + SCORING_BATCH]
        calibrated, categories = scorer.calibrated([row.listing for row in batch])
        probabilities[start : start + len(batch)] = calibrated
        names = scorer.card.regulated_categories
        predicted += [names[int(np.argmax(row))] if names else None for row in categories]
        if on_batch is not None:
            on_batch(len(batch))
    return scored_from_arrays(rows, labels, probabilities, predicted)


def scored_from_arrays(
    rows: Sequence[LabeledListing],
    labels: Sequence[str],
    probabilities: FloatArray,
    predicted_category: Sequence[str | None],
) -> ScoredRows:
    """Build :class:`ScoredRows` from probabilities (n, L) already computed for ``rows``."""
    values = [[row.labels.value(label) for label in labels] for row in rows]
    shape = (len(rows), len(labels))
    if np.shape(probabilities) != shape or len(predicted_category) != len(rows):
        raise EvaluationError(
            f"scores of shape {np.shape(probabilities)} do not match {shape} rows x labels"
        )
    return ScoredRows(
        rows=rows,
        labels=tuple(labels),
        probabilities=np.asarray(probabilities, dtype=np.float64),
        y_true=np.array([[v or 0 for v in row] for row in values], dtype=np.int64).reshape(shape),
        known=np.array([[v is not None for v in row] for row in values], dtype=bool).reshape(shape),
        predicted_category=tuple(predicted_category),
        true_category=tuple(row.labels.category for row in rows),
        groups=np.array([seller_group(row) for row in rows], dtype=object),
    )


def seller_group(row: LabeledListing) -> str:
    """The bootstrap cluster of a row: its seller, or the listing itself without a seller."""
    seller = row.listing.seller_id
    return f"seller:{seller}" if seller is not None else f"listing:{row.listing.listing_id}"
