"""Design-based estimates from audit samples with known inclusion probabilities (pure Python).

Sampling is Poisson within strata: each decision of stratum h (kind x market x rate) is audited
independently with probability ``inclusion`` (pi_h). A stratum's total is estimated as
``N_h * events_h / audited_h`` — the Horvitz-Thompson total ``sum(y_i / pi_i)`` with the realized
sample size in place of its expectation (unbiased given at least one audit) —, and a rate that is
a ratio of two totals (violations let through over all violations) is their Hajek ratio.

Intervals stay honest with zero events: within each stratum an exact Clopper-Pearson interval
for the stratum's share from its audited decisions, each at level ``1 - alpha / k`` for the k
strata involved (Bonferroni), so all hold together with probability at least ``1 - alpha``; a
total's bounds are the sums of the strata's bounds scaled by their sizes, and a ratio that rises
in its numerator and falls in the rest takes its bounds from theirs. Conservative, never [0, 0].
"""

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Final

BISECTION_STEPS: Final = 60


@dataclass(frozen=True, slots=True)
class StratumAudit:
    """One stratum over a period: how many decisions it held, how many were audited, how many
    of those showed the event, and the probability each decision had of being audited."""

    name: str
    population: int
    audited: int
    events: int
    inclusion: float

    def __post_init__(self) -> None:
        if not 0 <= self.events <= self.audited <= self.population:
            raise ValueError(
                f"stratum {self.name!r}: need 0 <= events ({self.events}) <= audited "
                f"({self.audited}) <= population ({self.population})"
            )
        if not 0 < self.inclusion <= 1:
            raise ValueError(f"stratum {self.name!r}: inclusion {self.inclusion} not in (0, 1]")

    @property
    def total(self) -> float:
        """The stratum's event count estimated as its size times its audited share: the
        Horvitz-Thompson total with the realized sample size (Poisson sampling draws a random
        number of audits), the same estimator the bounds scale; 0 with nothing audited."""
        return self.population * self.events / self.audited if self.audited else 0.0


@dataclass(frozen=True, slots=True)
class Estimate:
    """A point estimate (None when nothing could be estimated) and its interval."""

    value: float | None
    low: float
    high: float
    confidence: float
    audited: int


def clopper_pearson(events: int, trials: int, alpha: float) -> tuple[float, float]:
    """Exact two-sided interval for a binomial share at level ``1 - alpha``; [0, 1] with no
    trials."""
    if trials == 0:
        return 0.0, 1.0
    low = 0.0 if events == 0 else _solve(lambda p: _upper_tail(events, trials, p), alpha / 2)
    high = 1.0 if events == trials else _solve(lambda p: -_cdf(events, trials, p), -alpha / 2)
    return low, high


def proportion(stratum: StratumAudit, *, confidence: float = 0.95) -> Estimate:
    """The share of the stratum's decisions with the event (e.g. benign among auto-enforced)."""
    low, high = clopper_pearson(stratum.events, stratum.audited, 1 - confidence)
    value = stratum.events / stratum.audited if stratum.audited else None
    return Estimate(value, low, high, confidence, stratum.audited)


def total(strata: Sequence[StratumAudit], *, confidence: float = 0.95) -> Estimate:
    """The event count over ``strata`` (Horvitz-Thompson) with simultaneous bounds."""
    bounds = _stratum_bounds(strata, confidence, len(strata))
    return Estimate(
        sum(s.total for s in strata),
        sum(low for low, _ in bounds),
        sum(high for _, high in bounds),
        confidence,
        sum(s.audited for s in strata),
    )


def share_of_total(
    part: Sequence[StratumAudit], rest: Sequence[StratumAudit], *, confidence: float = 0.95
) -> Estimate:
    """Events in ``part`` over events in ``part`` and ``rest`` (e.g. violations auto-allowed
    over all violations: the let-through rate as promised); bounds hold for all strata at once."""
    k = len(part) + len(rest)
    part_bounds = _stratum_bounds(part, confidence, k)
    rest_bounds = _stratum_bounds(rest, confidence, k)
    part_low, part_high = sum(b[0] for b in part_bounds), sum(b[1] for b in part_bounds)
    rest_low, rest_high = sum(b[0] for b in rest_bounds), sum(b[1] for b in rest_bounds)
    numerator = sum(s.total for s in part)
    denominator = numerator + sum(s.total for s in rest)
    value = numerator / denominator if denominator > 0 else None
    low = part_low / (part_low + rest_high) if part_low > 0 else 0.0
    high = part_high / (part_high + rest_low) if part_high > 0 else 0.0
    # part and rest usually split the same strata by event: count each stratum's audits once
    audited = sum({s.name: s.audited for s in (*part, *rest)}.values())
    return Estimate(value, low, high, confidence, audited)


def _stratum_bounds(
    strata: Sequence[StratumAudit], confidence: float, k: int
) -> list[tuple[float, float]]:
    alpha = (1 - confidence) / max(k, 1)
    bounds = []
    for stratum in strata:
        low, high = clopper_pearson(stratum.events, stratum.audited, alpha)
        bounds.append((low * stratum.population, high * stratum.population))
    return bounds


def _solve(increasing: Callable[[float], float], target: float) -> float:
    """The p in [0, 1] where the increasing function reaches ``target`` (bisection)."""
    low, high = 0.0, 1.0
    for _ in range(BISECTION_STEPS):
        middle = (low + high) / 2
        if increasing(middle) < target:
            low = middle
        else:
            high = middle
    return (low + high) / 2


def _cdf(k: int, n: int, p: float) -> float:
    """P(X <= k) for X ~ Binomial(n, p)."""
    return sum(_pmf(i, n, p) for i in range(k + 1))


def _upper_tail(k: int, n: int, p: float) -> float:
    """P(X >= k) for X ~ Binomial(n, p): increasing in p."""
    return 1.0 - _cdf(k - 1, n, p) if k > 0 else 1.0


def _pmf(i: int, n: int, p: float) -> float:
    if p <= 0.0:
        return 1.0 if i == 0 else 0.0
    if p >= 1.0:
        return 1.0 if i == n else 0.0
    log = (
        math.lgamma(n + 1)
        - math.lgamma(i + 1)
        - math.lgamma(n - i + 1)
        + i * math.log(p)
        + (n - i) * math.log1p(-p)
    )
    return math.exp(log)
