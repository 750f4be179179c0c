"""Audit estimators on simulated traffic with a known truth: unbiased totals, honest intervals."""

import numpy as np
import pytest
from scipy.stats import beta

from models.audit_estimates import (
    StratumAudit,
    clopper_pearson,
    proportion,
    share_of_total,
    total,
)

SEEDS = 400
# (name, decisions in the period, true violation share, audit inclusion probability)
TRAFFIC = [
    ("auto-allow", 40_000, 0.004, 0.005),
    ("review", 2_000, 0.35, 0.05),
    ("auto-enforce", 3_000, 0.9, 0.02),
]


@pytest.mark.parametrize(("events", "trials"), [(0, 50), (3, 50), (50, 50), (17, 400)])
def test_clopper_pearson_matches_the_beta_quantiles(events: int, trials: int) -> None:
    low, high = clopper_pearson(events, trials, 0.05)
    expected_low = 0.0 if events == 0 else beta.ppf(0.025, events, trials - events + 1)
    expected_high = 1.0 if events == trials else beta.ppf(0.975, events + 1, trials - events)
    assert (low, high) == pytest.approx((expected_low, expected_high), abs=1e-9)


def _audit(rng: np.random.Generator) -> tuple[list[StratumAudit], int]:
    strata, violations = [], 0
    for name, size, share, inclusion in TRAFFIC:
        truth = rng.random(size) < share
        audited = rng.random(size) < inclusion
        violations += int(truth.sum()) if name == "auto-allow" else 0
        strata.append(
            StratumAudit(name, size, int(audited.sum()), int((truth & audited).sum()), inclusion)
        )
    return strata, violations


def test_horvitz_thompson_totals_are_unbiased() -> None:
    rng = np.random.default_rng(11)
    errors = []
    for _ in range(SEEDS):
        strata, let_through = _audit(rng)
        errors.append(total(strata[:1]).value - let_through)  # type: ignore[operator]
    mean, se = float(np.mean(errors)), float(np.std(errors, ddof=1) / np.sqrt(SEEDS))
    assert abs(mean) < 3 * se, (mean, se)


def test_the_let_through_interval_covers_at_the_nominal_rate() -> None:
    rng = np.random.default_rng(12)
    expected = [size * share for _, size, share, _ in TRAFFIC]
    truth = expected[0] / sum(expected)
    covered = 0
    for _ in range(SEEDS):
        strata, _ = _audit(rng)
        estimate = share_of_total(strata[:1], strata[1:])
        covered += estimate.low <= truth <= estimate.high
    assert covered / SEEDS >= 0.95 - 0.02


def test_zero_events_give_an_interval_not_a_point() -> None:
    empty = StratumAudit("auto-allow", 10_000, 50, 0, 0.005)
    found = proportion(empty)
    assert (found.value, found.low) == (0.0, 0.0) and found.high > 0.05
    let_through = share_of_total([empty], [StratumAudit("review", 500, 40, 12, 0.08)])
    assert let_through.value == 0.0 and let_through.high > 0.5, "honest: few audits, wide bound"


def test_an_unaudited_stratum_is_unknown_not_zero() -> None:
    nothing = StratumAudit("auto-allow", 1_000, 0, 0, 0.01)
    estimate = total([nothing])
    assert (estimate.value, estimate.low, estimate.high) == (0.0, 0.0, 1_000.0)


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"population": 10, "audited": 11, "events": 0, "inclusion": 0.5}, "audited"),
        ({"population": 10, "audited": 5, "events": 6, "inclusion": 0.5}, "events"),
        ({"population": 10, "audited": 5, "events": 1, "inclusion": 0.0}, "inclusion"),
    ],
)
def test_impossible_strata_are_refused(kwargs: dict[str, float], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        StratumAudit("s", **kwargs)  # type: ignore[arg-type]
