"""Population stability index (PSI) of a current sample against a reference, with an alert
threshold above what sampling alone produces.

* Numeric values are binned at the reference's deciles (ties merged, so a value shared by many
  listings is one bin); categorical values by category (the union of both samples). Missing
  values are a bin of their own.
* Bin shares are smoothed, ``(count + 0.5) / (n + 0.5 * bins)``, so an empty bin gives a finite
  PSI; ``PSI = sum((current - reference) * ln(current / reference))``.
* A comparison needs at least ``min_count`` values on both sides; else it is not judged.
* Under no drift, ``PSI * n_eff`` is close to chi-square with ``bins - 1`` degrees of freedom,
  ``1 / n_eff = 1 / n_reference + 1 / n_current``. The alert threshold is the larger of
  :data:`PSI_FLOOR` (the conventional "moderate shift") and that null's 99th percentile at
  these counts, so small windows do not alert on noise. ``tests/models/test_drift.py`` checks
  the threshold against simulated no-drift samples.
"""

import itertools
import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

PSI_FLOOR = 0.1
NULL_QUANTILE_Z = 2.3263478740408408
"""The standard normal's 99th percentile."""
NUMERIC_BINS = 10
SMOOTHING = 0.5
MISSING = "(missing)"


@dataclass(frozen=True)
class Bins:
    labels: list[str]
    reference: list[float]
    """Smoothed shares."""
    current: list[float]


@dataclass(frozen=True)
class DriftCheck:
    feature: str
    n_reference: int
    n_current: int
    psi: float | None
    """None: fewer than the minimum count on one side."""
    threshold: float | None
    alert: bool
    bins: Bins | None


def numeric_check(
    feature: str,
    reference: Sequence[float | None],
    current: Sequence[float | None],
    *,
    min_count: int,
) -> DriftCheck:
    ref = np.array([np.nan if v is None else float(v) for v in reference], dtype=np.float64)
    cur = np.array([np.nan if v is None else float(v) for v in current], dtype=np.float64)
    finite = ref[~np.isnan(ref)]
    inner = np.linspace(0, 1, NUMERIC_BINS + 1)[1:-1]
    edges = np.unique(np.quantile(finite, inner)) if finite.size else np.zeros(0)
    labels = _edge_labels(edges)
    has_missing = bool(np.isnan(ref).any() or np.isnan(cur).any())
    if has_missing:
        labels.append(MISSING)

    def counts(values: np.ndarray) -> np.ndarray:
        present = values[~np.isnan(values)]
        binned = np.bincount(
            np.searchsorted(edges, present, side="right"), minlength=edges.size + 1
        )
        return np.append(binned, np.isnan(values).sum()) if has_missing else binned

    return _check(feature, labels, counts(ref), counts(cur), min_count)


def categorical_check(
    feature: str, reference: Sequence[str | None], current: Sequence[str | None], *, min_count: int
) -> DriftCheck:
    ref = [MISSING if v is None else str(v) for v in reference]
    cur = [MISSING if v is None else str(v) for v in current]
    labels = sorted(set(ref) | set(cur))
    index = {label: i for i, label in enumerate(labels)}

    def counts(values: list[str]) -> np.ndarray:
        return np.bincount([index[v] for v in values], minlength=len(labels))

    return _check(feature, labels, counts(ref), counts(cur), min_count)


def psi(reference_counts: np.ndarray, current_counts: np.ndarray) -> float:
    """PSI of two count vectors over the same bins, smoothed as the module says."""
    ref, cur = _smoothed(reference_counts), _smoothed(current_counts)
    return float(np.sum((cur - ref) * np.log(cur / ref)))


def alert_threshold(n_reference: int, n_current: int, bins: int) -> float:
    """The larger of :data:`PSI_FLOOR` and the no-drift PSI's 99th percentile at these counts."""
    degrees = max(1, bins - 1)
    # Wilson-Hilferty: the chi-square quantile from the normal one.
    term = 2.0 / (9.0 * degrees)
    quantile = degrees * (1.0 - term + NULL_QUANTILE_Z * math.sqrt(term)) ** 3
    return max(PSI_FLOOR, quantile * (1.0 / n_reference + 1.0 / n_current))


def _check(
    feature: str, labels: list[str], ref: np.ndarray, cur: np.ndarray, min_count: int
) -> DriftCheck:
    n_ref, n_cur = int(ref.sum()), int(cur.sum())
    if n_ref < min_count or n_cur < min_count or len(labels) < 2:
        return DriftCheck(feature, n_ref, n_cur, None, None, False, None)
    value = psi(ref, cur)
    threshold = alert_threshold(n_ref, n_cur, len(labels))
    bins = Bins(labels, _smoothed(ref).tolist(), _smoothed(cur).tolist())
    return DriftCheck(feature, n_ref, n_cur, value, threshold, value > threshold, bins)


def _smoothed(counts: np.ndarray) -> np.ndarray:
    counts = np.asarray(counts, dtype=np.float64)
    result: np.ndarray = (counts + SMOOTHING) / (counts.sum() + SMOOTHING * counts.size)
    return result


def _edge_labels(edges: np.ndarray) -> list[str]:
    if edges.size == 0:
        return ["all"]
    values = [f"{edge:.4g}" for edge in edges]
    return [
        f"< {values[0]}",
        *(f"{a} to {b}" for a, b in itertools.pairwise(values)),
        f">= {values[-1]}",
    ]
