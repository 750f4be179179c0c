"""Metrics of the regulated-category head: a confusion matrix and per-class precision/recall.

A true category of ``None`` means unknown (the dataset does not say), never "no category", so
those rows are left out of the matrix and only counted.
"""

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray


@dataclass(frozen=True, eq=False)
class ConfusionMatrix:
    """Counts of (true class, predicted class) pairs.

    ``counts`` has shape (k, k) for k ``classes``: row i holds the rows whose true class is
    ``classes[i]``, column j those predicted ``classes[j]``. ``n_unknown`` rows had no true
    class and are not counted.
    """

    classes: tuple[str, ...]
    counts: NDArray[np.int64]
    n_unknown: int


@dataclass(frozen=True)
class ClassScores:
    """Precision, recall and support (true rows) of one class; ``nan`` where undefined."""

    precision: float
    recall: float
    support: int


def confusion_matrix(
    true_labels: Sequence[str | None],
    predicted: Sequence[str],
    *,
    classes: Sequence[str],
) -> ConfusionMatrix:
    """Count (true, predicted) pairs over ``classes``; both label sequences have length n.

    Raises ValueError when the lengths differ, ``classes`` is empty or repeats a name, or a
    label (other than a ``None`` true label) is not one of ``classes``.
    """
    names = _check_classes(classes)
    if len(true_labels) != len(predicted):
        raise ValueError(
            f"predicted has {len(predicted)} labels but true_labels has {len(true_labels)}"
        )
    index = {name: position for position, name in enumerate(names)}
    true_codes = _codes(true_labels, index, name="true_labels", allow_none=True)
    predicted_codes = _codes(predicted, index, name="predicted", allow_none=False)
    return _compute_confusion(names, true_codes, predicted_codes)


def class_scores(matrix: ConfusionMatrix) -> dict[str, ClassScores]:
    """Per class: precision = diagonal / column sum, recall = diagonal / row sum.

    Precision is ``nan`` for a class never predicted; recall is ``nan`` for a class with no
    true rows.
    """
    diagonal = np.diag(matrix.counts).astype(np.float64)
    predicted_totals = matrix.counts.sum(axis=0)
    true_totals = matrix.counts.sum(axis=1)
    return {
        name: ClassScores(
            precision=_ratio(diagonal[i], predicted_totals[i]),
            recall=_ratio(diagonal[i], true_totals[i]),
            support=int(true_totals[i]),
        )
        for i, name in enumerate(matrix.classes)
    }


def _check_classes(classes: Sequence[str]) -> tuple[str, ...]:
    names = tuple(classes)
    if not names:
        raise ValueError("classes must name at least one class")
    repeated = sorted({name for name in names if names.count(name) > 1})
    if repeated:
        raise ValueError(f"classes must be distinct; repeated: {', '.join(repeated)}")
    return names


def _codes(
    labels: Sequence[str | None], index: dict[str, int], *, name: str, allow_none: bool
) -> NDArray[np.int64]:
    """Class positions (n,), with -1 for a ``None`` label where that is allowed."""
    codes = np.empty(len(labels), dtype=np.int64)
    for row, label in enumerate(labels):
        if label is None and allow_none:
            codes[row] = -1
        elif label in index:
            codes[row] = index[label]
        else:
            raise ValueError(f"{name}[{row}] is {label!r}, not one of the classes")
    return codes


def _compute_confusion(
    names: tuple[str, ...], true_codes: NDArray[np.int64], predicted_codes: NDArray[np.int64]
) -> ConfusionMatrix:
    known = true_codes >= 0
    k = len(names)
    flat = true_codes[known] * k + predicted_codes[known]
    counts = np.bincount(flat, minlength=k * k).reshape(k, k).astype(np.int64)
    return ConfusionMatrix(names, counts, n_unknown=int(np.count_nonzero(~known)))


def _ratio(numerator: float, denominator: float) -> float:
    return float(numerator / denominator) if denominator > 0 else float("nan")
