"""Finite-sample tests of "the risk exceeds alpha" over independent units (pure numpy).

The Hoeffding-Bentkus p-value (Bates, Angelopoulos, Lei, Malik & Jordan, 2021, "Distribution-free,
risk-controlling prediction sets", JACM; Prop. 3 there) is valid for the mean of ``n`` independent
losses in [0, 1]; :func:`fixed_sequence` walks hypotheses in an order fixed in advance and stops at
the first it cannot reject, which keeps the family-wise error at ``delta`` however many hypotheses
are tried (the "Learn then Test" construction of Angelopoulos, Bates, Candes, Jordan & Lei, 2021).
"""

import math
from collections.abc import Iterable

import numpy as np


def kl_bernoulli(a: float, b: float) -> float:
    """h1(a, b) = a log(a/b) + (1-a) log((1-a)/(1-b)), with 0 log 0 = 0."""
    total = 0.0
    if a > 0:
        total += a * math.log(a / b)
    if a < 1:
        total += (1 - a) * math.log((1 - a) / (1 - b))
    return total


def binomial_cdf(k: int, n: int, p: float) -> float:
    """P(Binomial(n, p) <= k), summed in log space (exact for the n of a calibration split)."""
    if k < 0:
        return 0.0
    if k >= n or p <= 0.0:
        return 1.0
    if p >= 1.0:
        return 0.0
    log_factorial = _log_factorials(n)
    i = np.arange(k + 1)
    log_terms = (
        log_factorial[n]
        - log_factorial[i]
        - log_factorial[n - i]
        + i * math.log(p)
        + (n - i) * math.log1p(-p)
    )
    top = float(log_terms.max())
    return float(min(1.0, math.exp(top) * np.exp(log_terms - top).sum()))


_LOG_FACTORIALS = np.zeros(1)


def _log_factorials(n: int) -> np.ndarray:
    """log(i!) for i in 0..n (a table grown on demand)."""
    global _LOG_FACTORIALS
    if _LOG_FACTORIALS.size <= n:
        size = max(n + 1, 2 * _LOG_FACTORIALS.size)
        _LOG_FACTORIALS = np.concatenate(([0.0], np.cumsum(np.log(np.arange(1, size)))))
    return _LOG_FACTORIALS


def hb_p_value(risk_hat: float, n: int, alpha: float) -> float:
    """p-value of H0 "mean loss > alpha" from the mean ``risk_hat`` of ``n`` losses in [0, 1]."""
    if n <= 0:
        return 1.0
    if not 0.0 < alpha < 1.0:
        return 1.0 if alpha <= 0.0 else 0.0
    hoeffding = math.exp(-n * kl_bernoulli(risk_hat, alpha)) if risk_hat < alpha else 1.0
    bentkus = math.e * binomial_cdf(math.ceil(n * risk_hat - 1e-9), n, alpha)
    return min(1.0, hoeffding, bentkus)


def hb_upper_bound(risk_hat: float, n: int, delta: float) -> float:
    """The smallest alpha that :func:`hb_p_value` rejects at ``delta`` (1.0 when none)."""
    if n <= 0 or hb_p_value(risk_hat, n, 1.0 - 1e-12) > delta:
        return 1.0
    low, high = max(risk_hat, 0.0), 1.0 - 1e-12
    for _ in range(60):
        middle = (low + high) / 2
        if hb_p_value(risk_hat, n, middle) <= delta:
            high = middle
        else:
            low = middle
    return high


def units_needed(alpha: float, delta: float) -> int:
    """Units with zero loss needed to reject "risk > alpha" at ``delta``: (1-alpha)^n <= delta."""
    if alpha <= 0:
        return 10**9
    return math.ceil(math.log(delta) / math.log1p(-alpha) - 1e-12)


def fixed_sequence(p_values: Iterable[float], delta: float) -> int:
    """How many hypotheses, in the given order, are rejected before the first that is not.

    ``p_values`` may be lazy: nothing after the first p-value above ``delta`` is computed.
    """
    rejected = 0
    for p_value in p_values:
        if p_value > delta:
            break
        rejected += 1
    return rejected


def unit_risks(
    events: np.ndarray, at_risk: np.ndarray, units: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """Per candidate (G,): the mean over units of each unit's event share, and how many units.

    ``events`` and ``at_risk`` are (n, G) booleans (an event counts only where at risk); each
    unit with at least one row at risk contributes the share of its at-risk rows with the event,
    a loss in [0, 1]. ``units`` (n,) holds each row's unit (seller) code.
    """
    order = np.argsort(units, kind="stable")
    sorted_units = units[order]
    starts = np.flatnonzero(np.r_[True, sorted_units[1:] != sorted_units[:-1]])
    if order.size == 0:
        return np.zeros(events.shape[1]), np.zeros(events.shape[1], dtype=np.int64)
    numerators = np.add.reduceat((events & at_risk)[order].astype(np.float64), starts, axis=0)
    denominators = np.add.reduceat(np.asarray(at_risk)[order].astype(np.float64), starts, axis=0)
    counted = denominators > 0
    shares = np.divide(numerators, denominators, out=np.zeros_like(numerators), where=counted)
    n = counted.sum(axis=0)
    means = np.divide(shares.sum(axis=0), n, out=np.zeros(events.shape[1]), where=n > 0)
    return means, n
