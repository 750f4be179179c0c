"""Agreement figures on hand-computed fixtures, and their minimum count."""

import pytest

from models.agreement import agreement, krippendorff_alpha, wilson

# Four units rated twice: agree on a positive, disagree once, agree on two negatives.
FOUR = [(True, True), (True, False), (False, False), (False, False)]


def test_alpha_matches_the_hand_computation() -> None:
    # n = 8 values, 3 positive, 5 negative; observed disagreement 2 * 1 / 8 = 0.25,
    # expected 2 * 3 * 5 / (8 * 7) = 30 / 56: alpha = 1 - 0.25 * 56 / 30.
    assert krippendorff_alpha(FOUR) == pytest.approx(1 - 0.25 * 56 / 30)


def test_perfect_and_chance_agreement() -> None:
    assert krippendorff_alpha([(True, True), (False, False)] * 5) == pytest.approx(1.0)
    assert krippendorff_alpha([(True, False), (False, True)] * 5) < 0
    assert krippendorff_alpha([(False, False)] * 10) is None, "no variation: nothing to agree on"


def test_raw_and_positive_agreement_with_intervals() -> None:
    found = agreement(FOUR * 10, min_units=30)
    assert found.raw.value == pytest.approx(0.75)
    assert found.positive.value == pytest.approx(2 / 3), "2 * both / all positive ratings"
    assert found.prevalence == pytest.approx(3 / 8)
    assert found.raw.low is not None and found.raw.low < 0.75 < (found.raw.high or 0)
    assert found.alpha.low is not None and found.alpha.low <= (found.alpha.value or 0)


def test_below_the_minimum_count_nothing_is_shown() -> None:
    found = agreement(FOUR, min_units=30)
    assert (found.raw.value, found.alpha.value, found.raw.units) == (None, None, 4)


def test_wilson_matches_a_known_interval() -> None:
    assert wilson(8, 10) == pytest.approx((0.4902, 0.9433), abs=1e-4)
