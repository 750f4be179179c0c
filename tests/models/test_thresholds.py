import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from models.thresholds import (
    ThresholdTargets,
    assign_bands,
    estimate_bands,
    fit_label_thresholds,
    wilson_upper,
)


def test_allow_lets_through_at_most_the_target_share_of_violations() -> None:
    # 10 positives: a 10% target allows exactly one positive below the allow edge.
    positives = np.linspace(0.3, 0.9, 10)
    negatives = np.full(20, 0.05)
    y = np.r_[np.ones(10), np.zeros(20)].astype(int)
    s = np.r_[positives, negatives]
    fitted = fit_label_thresholds(
        y, s, targets=ThresholdTargets(max_violations_let_through=0.1, max_wrong_enforcements=0.5)
    )
    assert fitted.allow == pytest.approx(positives[1])
    assert fitted.estimate is not None
    assert fitted.estimate.violations_let_through == pytest.approx(0.1)


def test_allow_edge_is_capped_so_likely_violations_are_never_auto_allowed() -> None:
    # Perfectly separated: the let-through budget alone would put the edge at 0.95.
    s = np.r_[np.linspace(0.95, 0.99, 20), np.full(80, 0.01)]
    y = np.r_[np.ones(20), np.zeros(80)].astype(int)
    targets = ThresholdTargets(max_violations_let_through=0.1, max_auto_allow_probability=0.5)
    fitted = fit_label_thresholds(y, s, targets=targets)
    assert fitted.allow == 0.5
    assert assign_bands(np.array([0.6]), allow=fitted.allow, enforce=fitted.enforce)[0] != 0


def test_enforce_is_lowest_edge_meeting_wrong_enforcement_target() -> None:
    # Scores high to low: P P P P P N P N N N; at most 20% wrong with >= 5 positives enforced.
    s = np.array([0.99, 0.98, 0.97, 0.96, 0.95, 0.94, 0.93, 0.5, 0.4, 0.3])
    y = np.array([1, 1, 1, 1, 1, 0, 1, 0, 0, 0])
    fitted = fit_label_thresholds(
        y, s, targets=ThresholdTargets(max_violations_let_through=0.0, max_wrong_enforcements=0.2)
    )
    # At 0.93: 7 enforced, 1 wrong (14%); at 0.5: 8 enforced, 2 wrong (25%).
    assert fitted.enforce == pytest.approx(0.93)
    assert fitted.enforce_disabled_reason is None


def test_enforce_is_disabled_when_no_edge_meets_the_target() -> None:
    s = np.array([0.9, 0.8, 0.7, 0.6])
    y = np.array([0, 1, 0, 1])
    fitted = fit_label_thresholds(
        y, s, targets=ThresholdTargets(max_wrong_enforcements=0.01, min_enforced_positives=1)
    )
    assert fitted.enforce is None
    assert fitted.enforce_disabled_reason is not None
    assert "auto-enforce is off" in fitted.enforce_disabled_reason


def test_enforce_needs_minimum_support() -> None:
    s = np.array([0.9, 0.8, 0.1, 0.1])
    y = np.array([1, 1, 0, 0])
    fitted = fit_label_thresholds(y, s, targets=ThresholdTargets(min_enforced_positives=3))
    assert fitted.enforce is None


def test_tied_scores_move_together() -> None:
    s = np.array([0.9, 0.9, 0.9, 0.1])
    y = np.array([1, 1, 0, 0])
    fitted = fit_label_thresholds(
        y, s, targets=ThresholdTargets(max_wrong_enforcements=0.2, min_enforced_positives=1)
    )
    # Any edge at 0.9 enforces all three tied rows: 33% wrong, so no edge qualifies.
    assert fitted.enforce is None


def test_bands() -> None:
    bands = assign_bands(np.array([0.0, 0.2, 0.5, 0.8]), allow=0.2, enforce=0.8)
    assert bands.tolist() == [0, 1, 1, 2]
    assert assign_bands(np.array([0.99]), allow=0.2, enforce=None).tolist() == [1]


def test_wilson_upper_bound() -> None:
    assert wilson_upper(0, 0) == 1.0
    assert 0.0 < wilson_upper(0, 100) < 0.05
    assert wilson_upper(5, 100) > 0.05


@settings(deadline=None, max_examples=100)
@given(
    st.lists(st.tuples(st.booleans(), st.floats(0, 1)), min_size=1, max_size=60),
    st.floats(0, 1),
    st.floats(0, 1),
    st.floats(0, 1),
)
def test_routing_is_monotonic_in_thresholds(
    rows: list[tuple[bool, float]], allow: float, enforce: float, shift: float
) -> None:
    y = np.array([int(flag) for flag, _ in rows])
    s = np.array([score for _, score in rows])
    allow, enforce = min(allow, enforce), max(allow, enforce)
    base = estimate_bands(y, s, allow=allow, enforce=enforce)
    higher = estimate_bands(y, s, allow=min(allow + shift, 1.0), enforce=min(enforce + shift, 1.0))
    assert higher.share_allowed >= base.share_allowed
    assert higher.share_enforced <= base.share_enforced
    total = base.share_allowed + base.share_review + base.share_enforced
    assert total == pytest.approx(1.0)
