"""Model comparison: paired differences on the same rows, and the checks that make them paired."""

import numpy as np
import pytest

from evaluation.comparison import common_labels, compare_models
from evaluation.errors import EvaluationError
from evaluation.metrics import average_precision, recall_at_precision
from evaluation.scored import ScoredRows
from tests.evaluation.factories import fraud_rows, labeled_row, scored


def two_models(
    n: int = 200, seed: int = 3
) -> tuple[ScoredRows, ScoredRows, np.ndarray, np.ndarray]:
    """Model A separates fraud well, model B barely; 40 sellers of five rows each."""
    rng = np.random.default_rng(seed)
    truth = (rng.random(n) < 0.25).astype(int)
    good = np.clip(0.7 * truth + 0.3 * rng.random(n), 0, 1)
    poor = np.clip(0.1 * truth + 0.9 * rng.random(n), 0, 1)
    rows = fraud_rows(truth.tolist(), sellers=[f"s{i // 5}" for i in range(n)])
    first = scored(rows, good[:, None], labels=["fraud"])
    second = scored(rows, poor[:, None], labels=["fraud"])
    return first, second, truth, np.stack([good, poor])


def test_identical_models_differ_by_exactly_zero() -> None:
    first, _, _, _ = two_models()
    (ap, recall) = compare_models(first, first, n_resamples=50)
    for item in (ap, recall):
        assert item.value_a == item.value_b
        difference = item.difference
        assert (difference.estimate, difference.low, difference.high) == (0.0, 0.0, 0.0)


def test_a_better_model_has_an_interval_above_zero() -> None:
    first, second, truth, scores = two_models()
    ap, recall = compare_models(first, second, n_resamples=200, seed=1)
    assert (ap.label, ap.metric, recall.metric) == ("fraud", "average_precision", "recall@p0.95")
    assert ap.value_a == pytest.approx(average_precision(truth, scores[0]))
    assert ap.value_b == pytest.approx(average_precision(truth, scores[1]))
    assert ap.difference.estimate == pytest.approx(ap.value_a - ap.value_b)
    assert ap.difference.low > 0
    expected = recall_at_precision(truth, scores[0], precision=0.95) - recall_at_precision(
        truth, scores[1], precision=0.95
    )
    assert recall.difference.estimate == pytest.approx(expected)
    assert (ap.n, ap.positives) == (200, int(truth.sum()))


def test_models_scored_on_different_rows_are_refused() -> None:
    first, _, _, _ = two_models(n=20)
    other = scored(fraud_rows([0, 1] * 10)[::-1], np.full((20, 1), 0.5), labels=["fraud"])
    with pytest.raises(EvaluationError, match="same rows"):
        compare_models(first, other, n_resamples=5)


def test_only_labels_both_models_have_and_the_data_carries_are_compared() -> None:
    rows = [labeled_row(i, fraud=i % 2, counterfeit=(i + 1) % 2) for i in range(10)]
    first = scored(rows, np.full((10, 2), 0.5), labels=["fraud", "counterfeit"])
    second = scored(rows, np.full((10, 2), 0.5), labels=["counterfeit", "regulated"])
    assert common_labels(first, second) == ("counterfeit",)
    compared = compare_models(first, second, n_resamples=5)
    assert {item.label for item in compared} == {"counterfeit"}
    fraud_only = scored(rows, np.full((10, 1), 0.5), labels=["fraud"])
    regulated_only = scored(rows, np.full((10, 1), 0.5), labels=["regulated"])
    with pytest.raises(EvaluationError, match="share no label"):
        compare_models(fraud_only, regulated_only, n_resamples=5)


def test_unknown_metric_is_refused() -> None:
    first, _, _, _ = two_models(n=10)
    with pytest.raises(EvaluationError, match="unknown metrics"):
        compare_models(first, first, metrics=["accuracy"], n_resamples=5)
