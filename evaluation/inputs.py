"""Validation of the arrays every metric takes: 0/1 labels, probability scores, row weights.

Each checker returns a fresh 1-D array of a fixed dtype, or raises :class:`ValueError` naming
the argument, the bad value and its index.
"""

import numpy as np
from numpy.typing import ArrayLike, NDArray

IntArray = NDArray[np.int64]
FloatArray = NDArray[np.float64]


def binary_labels(values: ArrayLike, *, name: str = "y_true") -> IntArray:
    """Labels as int64 of shape (n,); every value must be 0 or 1 (booleans count)."""
    array = _one_dimensional(values, name=name)
    if array.dtype.kind not in "biuf":
        raise ValueError(f"{name} must be numeric 0/1 labels, got dtype {array.dtype}")
    bad = np.flatnonzero((array != 0) & (array != 1))
    if bad.size:
        index = int(bad[0])
        raise ValueError(
            f"{name} must contain only 0 and 1; found {array[index].item()!r} at {index}"
        )
    return array.astype(np.int64)


def probability_scores(values: ArrayLike, *, n: int, name: str = "scores") -> FloatArray:
    """Scores as float64 of shape (n,); every value must be finite and in [0, 1]."""
    array = _float_vector(values, n=n, name=name)
    bad = np.flatnonzero(~((array >= 0.0) & (array <= 1.0)))
    if bad.size:
        index = int(bad[0])
        raise ValueError(f"{name} must lie in [0, 1]; found {array[index].item()!r} at {index}")
    return array


def sample_weights(values: ArrayLike | None, *, n: int) -> FloatArray | None:
    """Row weights as float64 of shape (n,), finite and >= 0; ``None`` stays ``None``."""
    if values is None:
        return None
    array = _float_vector(values, n=n, name="sample_weight")
    bad = np.flatnonzero(~(np.isfinite(array) & (array >= 0.0)))
    if bad.size:
        index = int(bad[0])
        raise ValueError(
            f"sample_weight must be finite and >= 0; found {array[index].item()!r} at {index}"
        )
    return array


def scored_labels(
    y_true: ArrayLike, scores: ArrayLike, sample_weight: ArrayLike | None
) -> tuple[IntArray, FloatArray, FloatArray | None]:
    """Validate the (y_true, scores, sample_weight) triple of a binary metric; all shape (n,)."""
    labels = binary_labels(y_true)
    n = labels.shape[0]
    return labels, probability_scores(scores, n=n), sample_weights(sample_weight, n=n)


def unit_interval_target(value: float, *, name: str) -> float:
    """A target such as a precision or recall level: a finite number in [0, 1]."""
    number = float(value)
    if not 0.0 <= number <= 1.0:
        raise ValueError(f"{name} must lie in [0, 1], got {value!r}")
    return number


def _float_vector(values: ArrayLike, *, n: int, name: str) -> FloatArray:
    array = _one_dimensional(values, name=name)
    if array.dtype.kind not in "biuf":
        raise ValueError(f"{name} must be numeric, got dtype {array.dtype}")
    if array.shape[0] != n:
        raise ValueError(f"{name} has {array.shape[0]} values but y_true has {n}")
    return array.astype(np.float64)


def _one_dimensional(values: ArrayLike, *, name: str) -> NDArray[np.generic]:
    array = np.asarray(values)
    if array.ndim != 1:
        raise ValueError(f"{name} must be one-dimensional, got shape {array.shape}")
    return array
