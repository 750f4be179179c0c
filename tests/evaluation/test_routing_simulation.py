"""Routing simulation: serving's own routing replayed, hand-computed errors, shares, trade-off."""

import math
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import evaluation.routing_simulation as simulation
from data.schema import LabeledListing
from data.taxonomy import default_taxonomy
from evaluation.routing_simulation import (
    policy_answers,
    replay_routing,
    routing_point,
    summarize_routing,
    tradeoff_curve,
)
from evaluation.scored import score_rows
from models.policy import default_policy
from models.routing import route_listing
from models.scorer import BundleScorer
from models.thresholds import LabelThresholds, ThresholdTargets
from tests.evaluation.factories import LABELS, fraud_rows, labeled_row, scored

POLICY = default_policy(default_taxonomy())

EDGES = {
    "fraud": LabelThresholds(allow=0.2, enforce=0.9),
    "counterfeit": LabelThresholds(allow=0.2, enforce=0.9),
    "regulated": LabelThresholds(allow=0.3, enforce=0.8),
}


def hand_case() -> tuple[list[LabeledListing], list[list[float]], list[str | None]]:
    """Eight rows whose actions and errors are worked out in the comments."""
    no_risk = {"fraud": 0, "counterfeit": 0, "regulated": 0}
    rows = [
        labeled_row(0, fraud=1, counterfeit=0, regulated=0),  # blocked, policy blocks
        labeled_row(1, fraud=1, counterfeit=0, regulated=0),  # allowed, policy blocks: let through
        labeled_row(2, **no_risk),  # fraud in review
        labeled_row(3, **no_risk),  # counterfeit enforced: a wrong block
        labeled_row(4, fraud=0, counterfeit=0, regulated=1, regulated_category="alcohol"),
        labeled_row(
            5, fraud=0, counterfeit=0, regulated=1, regulated_category="prescription_drugs"
        ),
        labeled_row(6),  # nothing known
        labeled_row(7, fraud=0, regulated=0),  # counterfeit unknown; regulated in review
    ]
    probabilities = [
        [0.95, 0.1, 0.1],
        [0.1, 0.1, 0.1],
        [0.5, 0.1, 0.1],
        [0.1, 0.95, 0.1],
        [0.1, 0.1, 0.9],  # regulated enforced as alcohol: the policy allows it
        [0.1, 0.1, 0.1],  # prescription drugs missed: let through
        [0.1, 0.1, 0.1],
        [0.1, 0.1, 0.5],
    ]
    predicted: list[str | None] = [None, None, None, None, "alcohol", None, None, None]
    return rows, probabilities, predicted


def test_replay_and_policy_answers_on_hand_case() -> None:
    data = scored(*hand_case()[:2], predicted=hand_case()[2])
    replay = replay_routing(data, thresholds=EDGES, policy=POLICY)
    assert replay.actions == (
        "block", "allow", "review", "block", "allow", "allow", "allow", "review",
    )  # fmt: skip
    assert replay.policy_answer == (
        "block", "block", "allow", "allow", "allow", "block", None, "allow",
    )  # fmt: skip
    assert replay.bands["regulated"][4] == "enforce"


def test_summary_errors_on_hand_case() -> None:
    rows, probabilities, predicted = hand_case()
    data = scored(rows, probabilities, predicted=predicted)
    summary = summarize_routing(
        data, replay_routing(data, thresholds=EDGES, policy=POLICY), n_resamples=20
    )
    estimates = {action: s.estimate for action, s in summary.action_shares.items()}
    assert estimates == pytest.approx({"allow": 4 / 8, "review": 2 / 8, "block": 2 / 8})
    assert summary.violations_let_through.estimate == pytest.approx(
        2 / 3
    )  # rows 1 and 5 of 0, 1, 5
    assert summary.wrong_enforcements.estimate == pytest.approx(1 / 2)  # row 3 of 0 and 3
    fraud, counterfeit, regulated = (summary.labels[label] for label in LABELS)
    assert {band: s.estimate for band, s in fraud.band_shares.items()} == pytest.approx(
        {"allow": 5 / 7, "review": 1 / 7, "enforce": 1 / 7}
    )
    assert fraud.violations_let_through.estimate == pytest.approx(1 / 2)
    assert fraud.wrong_enforcements.estimate == 0.0
    assert math.isnan(counterfeit.violations_let_through.estimate)  # no counterfeit positives
    assert counterfeit.wrong_enforcements.estimate == 1.0
    assert regulated.violations_let_through.estimate == pytest.approx(1 / 2)
    assert regulated.wrong_enforcements.estimate == 0.0


def test_routing_point_matches_the_summary() -> None:
    rows, probabilities, predicted = hand_case()
    data = scored(rows, probabilities, predicted=predicted)
    point = routing_point(replay_routing(data, thresholds=EDGES, policy=POLICY))
    assert point == pytest.approx(
        {"automation": 6 / 8, "violations_let_through": 2 / 3, "wrong_enforcements": 1 / 2}
    )


def test_simulation_calls_serving_routing_function() -> None:
    assert simulation.route_listing is route_listing


def test_replay_equals_route_listing_row_by_row(
    demo_bundle: Path, demo_validation_rows: list[LabeledListing]
) -> None:
    scorer = BundleScorer(demo_bundle)
    replay = replay_routing(
        score_rows(scorer, demo_validation_rows), thresholds=scorer.card.thresholds, policy=POLICY
    )
    direct = [
        route_listing(
            score.probabilities,
            score.category,
            thresholds=scorer.card.thresholds,
            policy=POLICY,
        ).action
        for score in scorer.score([row.listing for row in demo_validation_rows])
    ]
    assert list(replay.actions) == direct
    assert set(direct) == {"allow", "review", "block"}


def test_policy_answer_is_none_without_known_labels() -> None:
    data = scored([labeled_row(0), labeled_row(1, fraud=0)], [[0.5] * 3] * 2)
    assert policy_answers(data, POLICY) == (None, "allow")


edges_strategy = st.tuples(st.floats(0.0, 1.0), st.one_of(st.none(), st.floats(0.0, 1.0))).map(
    lambda pair: LabelThresholds(allow=pair[0], enforce=None if pair[1] is None else max(pair))
)


def random_row(index: int, values: list[int]) -> LabeledListing:
    """A row of seller ``s<index % 4>``; a value of -1 marks the label unknown."""
    labels = {
        label: None if value < 0 else value for label, value in zip(LABELS, values, strict=True)
    }
    return labeled_row(index, seller=f"s{index % 4}", **labels)  # type: ignore[arg-type]


@settings(deadline=None, max_examples=30)
@given(
    n=st.integers(1, 25),
    seed=st.integers(0, 10_000),
    edges=st.lists(edges_strategy, min_size=3, max_size=3),
)
def test_shares_sum_to_one(n: int, seed: int, edges: list[LabelThresholds]) -> None:
    rng = np.random.default_rng(seed)
    truth = rng.integers(-1, 2, size=(n, 3))  # -1: unknown
    rows = [random_row(i, values) for i, values in enumerate(truth.tolist())]
    categories = rng.choice(["alcohol", "weapons", "tobacco"], size=n).tolist()
    data = scored(rows, rng.random((n, 3)), predicted=categories)
    replay = replay_routing(data, thresholds=dict(zip(LABELS, edges, strict=True)), policy=POLICY)
    summary = summarize_routing(data, replay, n_resamples=3, seed=seed)
    assert sum(s.estimate for s in summary.action_shares.values()) == pytest.approx(1.0)
    for label in summary.labels.values():
        assert sum(s.estimate for s in label.band_shares.values()) == pytest.approx(1.0)


def separable_fraud_rows() -> tuple[list[LabeledListing], np.ndarray]:
    """10 fraud positives scoring 0.90-0.99 above 20 negatives scoring 0.01-0.20."""
    rows = fraud_rows([1] * 10 + [0] * 20)
    scores = np.concatenate([np.linspace(0.90, 0.99, 10), np.linspace(0.01, 0.20, 20)])
    return rows, scores


def test_tradeoff_refits_thresholds_through_fit_label_thresholds(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    calls: list[tuple[float, float, int]] = []
    real = simulation.fit_label_thresholds

    def spy(
        y_true: np.ndarray, scores: np.ndarray, *, targets: ThresholdTargets
    ) -> LabelThresholds:
        calls.append(
            (
                targets.max_violations_let_through,
                targets.max_wrong_enforcements,
                targets.min_enforced_positives,
            )
        )
        return real(y_true, scores, targets=targets)

    monkeypatch.setattr(simulation, "fit_label_thresholds", spy)
    rows, scores = separable_fraud_rows()
    data = scored(rows, scores[:, None], labels=["fraud"])
    # No cap on the allow edge here, so the let-through budget alone decides it.
    base = {"fraud": ThresholdTargets(min_enforced_positives=3, max_auto_allow_probability=1.0)}
    fallback = {"fraud": LabelThresholds(allow=0.5, enforce=0.9)}
    points = tradeoff_curve(
        data, base_targets=base, fallback_thresholds=fallback, policy=POLICY,
        let_through_grid=(0.01, 0.1), wrong_enforcement_grid=(0.05, 0.2),
    )  # fmt: skip
    assert calls == [(0.01, 0.05, 3), (0.01, 0.2, 3), (0.1, 0.05, 3), (0.1, 0.2, 3)]
    assert [(p.max_violations_let_through, p.max_wrong_enforcements) for p in points] == [
        (0.01, 0.05), (0.01, 0.2), (0.1, 0.05), (0.1, 0.2),
    ]  # fmt: skip
    strict = points[0]
    assert (strict.automation, strict.violations_let_through, strict.wrong_enforcements) == (
        1.0, 0.0, 0.0,
    )  # fmt: skip
    # Allowing 10% through lets the lowest-scoring of the ten positives be auto-allowed.
    assert points[2].violations_let_through == pytest.approx(0.1)


def test_tradeoff_keeps_fallback_edges_for_labels_without_positives() -> None:
    rows = fraud_rows([0] * 6)
    data = scored(rows, np.linspace(0.1, 0.6, 6)[:, None], labels=["fraud"])
    fallback = {"fraud": LabelThresholds(allow=0.35, enforce=None)}
    (point,) = tradeoff_curve(
        data, base_targets={}, fallback_thresholds=fallback, policy=POLICY,
        let_through_grid=(0.1,), wrong_enforcement_grid=(0.05,),
    )  # fmt: skip
    assert point.automation == pytest.approx(3 / 6)  # 0.1, 0.2, 0.3 allowed; the rest reviewed
