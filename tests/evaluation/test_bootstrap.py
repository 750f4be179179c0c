"""Bootstrap intervals: exact cases, invariants, and coverage on data with a known truth."""

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from evaluation.bootstrap import (
    Interval,
    bootstrap_ci,
    bootstrap_many,
    paired_bootstrap_difference,
)
from evaluation.inputs import FloatArray, IntArray
from evaluation.metrics import LABEL_STATISTICS, average_precision, label_metrics, roc_auc


def positive_rate(
    y_true: IntArray, scores: FloatArray, /, *, sample_weight: FloatArray | None = None
) -> float:
    """The (weighted) share of positives: a Bernoulli rate with a known truth in simulations."""
    weights = np.ones(y_true.shape[0]) if sample_weight is None else sample_weight
    return float(np.sum(weights * y_true) / np.sum(weights))


def constant(
    y_true: IntArray, scores: FloatArray, /, *, sample_weight: FloatArray | None = None
) -> float:
    return 0.25


def noisy_scores(y_true: IntArray, rng: np.random.Generator, *, separation: float) -> FloatArray:
    """Binormal scores (n,) through a logistic: positives ~ N(separation, 1), negatives N(0, 1)."""
    latent = rng.normal(separation * y_true, 1.0)
    scores: FloatArray = 1.0 / (1.0 + np.exp(-latent))
    return scores


def test_constant_statistic_gives_a_degenerate_interval() -> None:
    interval = bootstrap_ci(constant, [0, 1, 1], [0.1, 0.2, 0.3], n_resamples=50)
    assert interval == Interval(0.25, 0.25, 0.25, 50, 0, 0.95)


def test_a_single_group_resamples_the_whole_sample_every_time() -> None:
    y_true, scores = [0, 1, 0, 1, 1], [0.1, 0.8, 0.4, 0.35, 0.9]
    interval = bootstrap_ci(roc_auc, y_true, scores, groups=["s1"] * 5, n_resamples=30)
    expected = roc_auc(y_true, scores)
    assert (interval.estimate, interval.low, interval.high) == pytest.approx((expected,) * 3)


def test_one_group_per_row_is_the_row_bootstrap() -> None:
    rng = np.random.default_rng(1)
    y_true = (rng.random(60) < 0.4).astype(int)
    scores = noisy_scores(y_true, rng, separation=1.0)
    by_row = bootstrap_ci(average_precision, y_true, scores, n_resamples=200, seed=4)
    by_group = bootstrap_ci(
        average_precision, y_true, scores, groups=np.arange(60), n_resamples=200, seed=4
    )
    assert by_row == by_group


def test_same_seed_same_interval_other_seed_other_interval() -> None:
    rng = np.random.default_rng(2)
    y_true = (rng.random(80) < 0.3).astype(int)
    scores = noisy_scores(y_true, rng, separation=1.5)
    first = bootstrap_ci(roc_auc, y_true, scores, n_resamples=100, seed=7)
    assert bootstrap_ci(roc_auc, y_true, scores, n_resamples=100, seed=7) == first
    assert bootstrap_ci(roc_auc, y_true, scores, n_resamples=100, seed=8) != first


def test_resamples_without_positives_are_dropped_and_counted() -> None:
    # One positive in ten rows: a resample misses it with probability 0.9^10 = 0.35.
    y_true = [1] + [0] * 9
    scores = np.linspace(0.05, 0.95, 10)
    interval = bootstrap_ci(average_precision, y_true, scores, n_resamples=1000)
    assert interval.n_resamples_used + interval.n_resamples_dropped == 1000
    assert 280 <= interval.n_resamples_dropped <= 420


def test_clusters_are_drawn_whole() -> None:
    # All positives belong to seller "a", one of five: (4/5)^5 = 0.33 of resamples miss it,
    # where a row bootstrap would almost never miss all 20 positives.
    groups = ["a"] * 20 + ["b", "c", "d", "e"] * 5
    y_true = [1] * 10 + [0] * 30
    scores = np.linspace(0.0, 1.0, 40)
    clustered = bootstrap_ci(average_precision, y_true, scores, groups=groups, n_resamples=1000)
    assert 260 <= clustered.n_resamples_dropped <= 400
    by_row = bootstrap_ci(average_precision, y_true, scores, n_resamples=1000)
    assert by_row.n_resamples_dropped == 0


def test_statistic_undefined_everywhere_gives_nan_bounds() -> None:
    interval = bootstrap_ci(average_precision, [0, 0, 0], [0.2, 0.5, 0.7], n_resamples=20)
    assert math.isnan(interval.estimate) and math.isnan(interval.low)
    assert math.isnan(interval.high)
    assert (interval.n_resamples_used, interval.n_resamples_dropped) == (0, 20)


def test_bootstrap_many_uses_the_same_resamples_as_bootstrap_ci() -> None:
    rng = np.random.default_rng(3)
    y_true = (rng.random(120) < 0.3).astype(int)
    scores = noisy_scores(y_true, rng, separation=1.0)
    groups = rng.integers(0, 40, 120)
    many = bootstrap_many(LABEL_STATISTICS, y_true, scores, groups=groups, n_resamples=100)
    assert list(many) == list(LABEL_STATISTICS)
    point_values = label_metrics(y_true, scores)
    assert all(many[key].estimate == point_values[key] for key in LABEL_STATISTICS)
    single = bootstrap_ci(roc_auc, y_true, scores, groups=groups, n_resamples=100)
    assert many["roc_auc"] == single


def test_paired_difference_of_identical_models_is_exactly_zero() -> None:
    scores = [0.1, 0.7, 0.4, 0.9]
    interval = paired_bootstrap_difference(roc_auc, [0, 1, 0, 1], scores, scores, n_resamples=50)
    assert (interval.estimate, interval.low, interval.high) == (0.0, 0.0, 0.0)


def test_paired_difference_detects_the_better_model_and_is_antisymmetric() -> None:
    rng = np.random.default_rng(5)
    y_true = (rng.random(300) < 0.3).astype(int)
    strong = noisy_scores(y_true, rng, separation=2.0)
    weak = noisy_scores(y_true, rng, separation=0.5)
    forward = paired_bootstrap_difference(roc_auc, y_true, strong, weak, n_resamples=300)
    backward = paired_bootstrap_difference(roc_auc, y_true, weak, strong, n_resamples=300)
    assert forward.low > 0.0
    assert forward.estimate == pytest.approx(roc_auc(y_true, strong) - roc_auc(y_true, weak))
    assert (forward.low, forward.high) == pytest.approx((-backward.high, -backward.low))


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"n_resamples": 0}, "n_resamples must be a positive integer"),
        ({"confidence": 1.0}, "confidence must lie strictly between 0 and 1"),
        ({"groups": ["a", "b"]}, r"groups must have shape \(3,\)"),
        ({"groups": ["a", None, "b"]}, r"groups\[1\] is None"),
        ({"groups": [1.0, math.nan, 2.0]}, r"groups\[1\] is nan"),
    ],
)
def test_invalid_options_are_refused(options: dict[str, object], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        bootstrap_ci(roc_auc, [0, 1, 1], [0.2, 0.5, 0.7], **options)  # type: ignore[arg-type]


def test_empty_sample_and_mismatched_scores_are_refused() -> None:
    with pytest.raises(ValueError, match="cannot bootstrap an empty sample"):
        bootstrap_ci(roc_auc, [], [])
    with pytest.raises(ValueError, match="scores_b has 2 values but y_true has 3"):
        paired_bootstrap_difference(roc_auc, [0, 1, 1], [0.1, 0.2, 0.3], [0.1, 0.2])


@st.composite
def labeled_scores(draw: st.DrawFn) -> tuple[list[int], list[float], list[int]]:
    n = draw(st.integers(min_value=2, max_value=40))
    y_true = draw(st.lists(st.integers(0, 1), min_size=n, max_size=n))
    scores = draw(st.lists(st.floats(0, 1), min_size=n, max_size=n))
    groups = draw(st.lists(st.integers(0, 5), min_size=n, max_size=n))
    return y_true, scores, groups


@settings(deadline=None, max_examples=30)
@given(labeled_scores(), st.booleans(), st.sampled_from([0.5, 0.8, 0.95]))
def test_probability_metric_intervals_are_ordered_and_in_the_unit_interval(
    sample: tuple[list[int], list[float], list[int]], clustered: bool, confidence: float
) -> None:
    y_true, scores, groups = sample
    for statistic in (average_precision, roc_auc):
        interval = bootstrap_ci(
            statistic,
            y_true,
            scores,
            groups=groups if clustered else None,
            n_resamples=40,
            confidence=confidence,
        )
        assert interval.n_resamples_used + interval.n_resamples_dropped == 40
        if interval.n_resamples_used:
            assert 0.0 <= interval.low <= interval.high <= 1.0


def test_interval_for_a_bernoulli_rate_covers_the_truth() -> None:
    truth, hits, trials = 0.3, 0, 200
    for seed in range(trials):
        y_true = (np.random.default_rng(seed).random(100) < truth).astype(int)
        interval = bootstrap_ci(positive_rate, y_true, np.zeros(100), n_resamples=200, seed=seed)
        hits += interval.low <= truth <= interval.high
    assert hits / trials >= 0.90


def test_interval_for_a_binormal_auc_covers_the_truth() -> None:
    # Unit-variance normals a distance 1 apart: AUC = Phi(1 / sqrt(2)); the logistic link
    # that maps scores into [0, 1] is monotone, so it leaves the AUC unchanged.
    truth = 0.5 * (1.0 + math.erf(0.5))
    hits, trials = 0, 100
    for seed in range(trials):
        rng = np.random.default_rng(seed)
        y_true = (rng.random(200) < 0.5).astype(int)
        scores = noisy_scores(y_true, rng, separation=1.0)
        interval = bootstrap_ci(roc_auc, y_true, scores, n_resamples=200, seed=seed)
        hits += interval.low <= truth <= interval.high
    assert hits / trials >= 0.90


def _clustered_coverage(*, use_groups: bool, trials: int) -> float:
    """Coverage of the positive rate when sellers (60 of 10 listings) differ in their rate."""
    truth, hits = 0.3, 0
    sellers = np.repeat(np.arange(60), 10)
    for seed in range(trials):
        rng = np.random.default_rng(seed)
        seller_rates = rng.beta(1.5, 3.5, 60)  # mean 0.3
        y_true = (rng.random(sellers.size) < seller_rates[sellers]).astype(int)
        interval = bootstrap_ci(
            positive_rate,
            y_true,
            np.zeros(sellers.size),
            groups=sellers if use_groups else None,
            n_resamples=200,
            seed=seed,
        )
        hits += interval.low <= truth <= interval.high
    return hits / trials


def test_cluster_bootstrap_covers_where_the_row_bootstrap_does_not() -> None:
    assert _clustered_coverage(use_groups=True, trials=150) >= 0.90
    assert _clustered_coverage(use_groups=False, trials=150) <= 0.85
