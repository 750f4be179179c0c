"""Labels of rows as dense arrays, with unknown labels masked rather than read as 0."""

import numpy as np

from data.schema import LabeledListing


def label_arrays(rows: list[LabeledListing], labels: list[str]) -> tuple[np.ndarray, np.ndarray]:
    """``y_true`` (n, L) int64 (0 if unknown) and ``known`` (n, L) bool, columns as ``labels``."""
    values = [[row.labels.value(label) for label in labels] for row in rows]
    known = np.array([[value is not None for value in row] for row in values], dtype=bool)
    y_true = np.array([[value or 0 for value in row] for row in values], dtype=np.int64)
    return y_true.reshape(len(rows), len(labels)), known.reshape(len(rows), len(labels))
