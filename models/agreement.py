"""Agreement between raters on binary findings: raw, positive agreement, Krippendorff's alpha.

Units are rated by two raters each (a reviewer and QA, or two reviewers), the pairs varying from
unit to unit, so Cohen's kappa (fixed pair of raters) does not apply; Krippendorff's alpha for
nominal data does. Below ``min_units`` rated units a figure is not shown (None), and at low
prevalence alpha collapses even when raters almost always agree — positive agreement (the share
of positive ratings the other rater shared) says more there; both are reported.
Intervals: Wilson for the two shares; a unit-level bootstrap for alpha (percentile, seeded).
"""

import math
import random
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Final

MIN_UNITS: Final = 30
BOOTSTRAP_RESAMPLES: Final = 500


@dataclass(frozen=True, slots=True)
class Figure:
    value: float | None
    low: float | None
    high: float | None
    units: int


@dataclass(frozen=True, slots=True)
class Agreement:
    raw: Figure
    positive: Figure
    alpha: Figure
    prevalence: float | None
    """Share of positive ratings: below a few percent alpha is unstable (see the module)."""


def wilson(successes: int, trials: int, *, z: float = 1.96) -> tuple[float, float]:
    if trials == 0:
        return 0.0, 1.0
    p = successes / trials
    centre = (p + z * z / (2 * trials)) / (1 + z * z / trials)
    spread = z * math.sqrt(p * (1 - p) / trials + z * z / (4 * trials * trials))
    return max(0.0, centre - spread / (1 + z * z / trials)), min(
        1.0, centre + spread / (1 + z * z / trials)
    )


def krippendorff_alpha(pairs: Sequence[tuple[bool, bool]]) -> float | None:
    """Nominal alpha for units rated twice: 1 - observed / expected disagreement; None when
    every rating is the same value (no variation to agree on)."""
    n = 2 * len(pairs)
    if n == 0:
        return None
    positives = sum(a + b for a, b in pairs)
    negatives = n - positives
    observed = sum(a != b for a, b in pairs) * 2 / n  # coincidences off the diagonal, per value
    expected = 2 * positives * negatives / (n * (n - 1)) if n > 1 else 0.0
    if expected == 0:
        return None
    return 1 - observed / expected


def agreement(
    pairs: Sequence[tuple[bool, bool]], *, min_units: int = MIN_UNITS, seed: int = 0
) -> Agreement:
    """The figures for rating ``pairs`` (first rater, second rater) of the same units."""
    units = len(pairs)
    if units < min_units:
        empty = Figure(None, None, None, units)
        return Agreement(empty, empty, empty, None)
    agreed = sum(a == b for a, b in pairs)
    both = sum(a and b for a, b in pairs)
    ratings = sum(a + b for a, b in pairs)
    raw = Figure(agreed / units, *wilson(agreed, units), units)
    if ratings:
        # positive agreement = 2 * both / (positives of rater 1 + positives of rater 2)
        low, high = wilson(2 * both, ratings)
        positive = Figure(2 * both / ratings, low, high, units)
    else:
        positive = Figure(None, None, None, units)
    return Agreement(raw, positive, _alpha_figure(pairs, seed), ratings / (2 * units))


def _alpha_figure(pairs: Sequence[tuple[bool, bool]], seed: int) -> Figure:
    value = krippendorff_alpha(pairs)
    if value is None:
        return Figure(None, None, None, len(pairs))
    rng = random.Random(seed)
    draws = []
    for _ in range(BOOTSTRAP_RESAMPLES):
        resampled = [pairs[rng.randrange(len(pairs))] for _ in pairs]
        found = krippendorff_alpha(resampled)
        if found is not None:
            draws.append(found)
    draws.sort()
    if not draws:
        return Figure(value, None, None, len(pairs))
    low = draws[int(0.025 * (len(draws) - 1))]
    high = draws[int(0.975 * (len(draws) - 1))]
    return Figure(value, low, high, len(pairs))
