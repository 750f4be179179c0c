"""The promotion gate on simulated pairs whose truth is known."""

import numpy as np
import pytest

from evaluation.gate_simulation import LABEL, GateWorld, simulated_pair
from evaluation.promotion_gate import gate
from evaluation.slices import standard_slices
from models.risk_bounds import unit_risks
from models.thresholds import LabelThresholds, ThresholdTargets

EDGES = {LABEL: LabelThresholds(allow=0.2, enforce=0.9)}
LOOSE = {LABEL: ThresholdTargets(max_violations_let_through=0.9, max_wrong_enforcements=0.9)}


def _gate(challenger_separation: float, *, targets=LOOSE, edges=EDGES, seed: int = 1):  # type: ignore[no-untyped-def]
    challenger, champion = simulated_pair(
        GateWorld(),
        separation_challenger=challenger_separation,
        separation_champion=1.5,
        seed=seed,
    )
    slices = standard_slices(challenger.rows).slices
    return challenger, gate(
        challenger, champion, thresholds=edges, targets=targets, slices=slices, n_resamples=300
    )


def test_a_clearly_worse_challenger_is_refused_on_its_label_and_slices() -> None:
    _, result = _gate(0.4)
    assert result.refused
    failed = {(check.kind, check.name) for check in result.failures}
    assert ("label", "average_precision") in failed
    assert {kind for kind, _ in failed} >= {"label", "slice"}
    label = next(c for c in result.checks if c.kind == "label")
    assert label.challenger < label.champion and label.interval.high < -result.margin


def test_an_equally_good_challenger_passes() -> None:
    _, result = _gate(1.5, seed=3)
    assert not result.refused, [c for c in result.failures]
    # Bonferroni: every interval is wider than a single 95% one.
    assert result.confidence == pytest.approx(1 - 2 * 0.05 / len(result.checks))
    assert len(result.checks) >= 4  # the label, slices, two promises


def test_a_promise_broken_on_the_set_refuses_and_its_rate_is_seller_weighted() -> None:
    strict = {LABEL: ThresholdTargets(max_violations_let_through=0.01, max_wrong_enforcements=0.9)}
    edges = {LABEL: LabelThresholds(allow=0.6, enforce=0.9)}
    challenger, result = _gate(1.5, targets=strict, edges=edges, seed=3)
    (let_through,) = [c for c in result.checks if c.name == "violations_let_through"]
    assert let_through.failed and result.refused
    assert let_through.interval.low > let_through.limit
    # The estimate is the mean over sellers of each seller's share, as certification defines.
    data = challenger.label_data(LABEL)
    sellers = np.unique(data.groups.astype(str), return_inverse=True)[1]
    expected, _ = unit_risks((data.scores < 0.6)[:, None], (data.y_true == 1)[:, None], sellers)
    assert let_through.challenger == pytest.approx(expected[0])
    (wrong,) = [c for c in result.checks if c.name == "wrong_enforcements"]
    assert not wrong.failed
