"""PSI and its alert threshold: finite on empty bins, silent on no drift, loud on a shift."""

import numpy as np
import pytest

from models.drift import PSI_FLOOR, alert_threshold, categorical_check, numeric_check, psi


def test_psi_is_zero_on_equal_shares_and_finite_on_an_empty_bin() -> None:
    # Equal shares: only the smoothing's trace remains.
    assert psi(np.array([100, 200, 300]), np.array([200, 400, 600])) == pytest.approx(0.0, abs=1e-5)
    value = psi(np.array([50, 50, 0]), np.array([0, 50, 50]))
    assert np.isfinite(value) and value > 1.0


def test_the_threshold_sits_above_the_psi_of_samples_without_drift() -> None:
    rng = np.random.default_rng(0)
    for n_reference, n_current in ((300, 200), (2000, 500), (20000, 20000)):
        alerts, values = 0, []
        for _ in range(400):
            reference = rng.lognormal(3.0, 1.0, n_reference)
            current = rng.lognormal(3.0, 1.0, n_current)
            check = numeric_check("price", list(reference), list(current), min_count=100)
            assert check.psi is not None and check.threshold is not None
            values.append(check.psi)
            alerts += check.alert
        # The simulated 99th percentile is near the analytic one, and alerts are rare.
        analytic = alert_threshold(n_reference, n_current, 10)
        simulated = float(np.quantile(values, 0.99))
        assert simulated <= max(analytic, PSI_FLOOR) * 1.25, (n_reference, simulated, analytic)
        assert alerts / 400 <= 0.03


def test_a_real_shift_alerts_and_small_windows_are_not_judged() -> None:
    rng = np.random.default_rng(1)
    reference = list(rng.lognormal(3.0, 1.0, 3000))
    shifted = list(rng.lognormal(3.6, 1.0, 3000))
    check = numeric_check("price", reference, shifted, min_count=200)
    assert check.alert and check.psi is not None and check.psi > 0.25
    few = numeric_check("price", reference, shifted[:50], min_count=200)
    assert few.psi is None and not few.alert


def test_categories_and_missing_values_are_bins_of_their_own() -> None:
    reference = ["US"] * 600 + ["DE"] * 400
    current = ["US"] * 300 + ["DE"] * 300 + ["FR"] * 400
    check = categorical_check("market", reference, current, min_count=100)
    assert check.bins is not None and check.bins.labels == ["DE", "FR", "US"]
    assert check.alert
    prices = numeric_check("price", [1.0, None] * 300, [1.0, 2.0] * 300, min_count=100)
    assert prices.bins is not None and prices.bins.labels[-1] == "(missing)"
