"""Routing simulation: replay serving's own routing over a labeled dataset and count the errors.

Every row goes through :func:`models.routing.route_listing` — the function serving calls — with
the bundle's band edges and a policy, giving the action serving would take. Errors are counted
at two levels:

* **per label**, as the thresholds' targets define them: *violations let through* is the share
  of a label's positives in its allow band; *wrong enforcements* the share of the label's
  enforce band that is not a violation.
* **overall**, per listing: the *policy's answer* for a row is what the same policy does with the
  row's true labels (a known positive label in the enforce band, the true regulated category),
  so a regulated listing the policy allows (alcohol, say) is no violation there. A violation let
  through is a row the policy would review or block that the model auto-allows; a wrong
  enforcement is a blocked row the policy would not block.

Intervals resample sellers (clusters), all on the same resamples (one seed, one cluster list).
:func:`tradeoff_curve` refits the band edges on the evaluated data for a grid of targets: a
what-if curve of automation against errors, optimistic because it is fitted on what it measures.
"""

import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass

import numpy as np

from data.taxonomy import Action
from evaluation.bootstrap import Interval, bootstrap_ci
from evaluation.inputs import FloatArray, IntArray
from evaluation.scored import BoolArray, ScoredRows
from models.policy import Policy
from models.routing import route_listing
from models.thresholds import BANDS, LabelThresholds, ThresholdTargets, fit_label_thresholds

ACTIONS: tuple[Action, ...] = ("allow", "review", "block")
TRUTH_EDGES = LabelThresholds(allow=0.5, enforce=0.5)
LET_THROUGH_GRID = (0.01, 0.02, 0.05, 0.10, 0.20, 0.30)
WRONG_ENFORCEMENT_GRID = (0.01, 0.02, 0.05, 0.10, 0.20)

Share = Callable[[BoolArray, BoolArray], Interval]
"""Share of rows with an event (n,) among rows meeting a condition (n,), with its interval."""


@dataclass(frozen=True, eq=False)
class RoutingReplay:
    """Per row (n,): the routed action, each label's band and the policy's answer on the truth.

    ``policy_answer`` is None for a row with no model label known.
    """

    actions: tuple[Action, ...]
    bands: dict[str, tuple[str, ...]]
    policy_answer: tuple[Action | None, ...]


@dataclass(frozen=True)
class LabelRouting:
    """Band shares over rows where the label is known, and the label's two error shares."""

    band_shares: dict[str, Interval]
    violations_let_through: Interval
    wrong_enforcements: Interval


@dataclass(frozen=True)
class RoutingSummary:
    """Action shares (they sum to 1), overall and per-label errors, each with an interval."""

    n_rows: int
    action_shares: dict[str, Interval]
    violations_let_through: Interval
    wrong_enforcements: Interval
    labels: dict[str, LabelRouting]


@dataclass(frozen=True)
class TradeoffPoint:
    """Routing with band edges fitted on the evaluated data for one pair of targets."""

    max_violations_let_through: float
    max_wrong_enforcements: float
    automation: float
    violations_let_through: float
    wrong_enforcements: float


def replay_routing(
    scored: ScoredRows,
    *,
    thresholds: Mapping[str, LabelThresholds],
    policy: Policy,
) -> RoutingReplay:
    """Route every row as serving would, and route its known labels as the policy's answer."""
    actions: list[Action] = []
    bands: dict[str, list[str]] = {label: [] for label in scored.labels}
    for row, probabilities, category in zip(
        scored.rows, scored.probability_dicts(), scored.predicted_category, strict=True
    ):
        routed = route_listing(
            probabilities,
            category,
            thresholds=dict(thresholds),
            policy=policy,
            listing=row.listing,
        )
        actions.append(routed.action)
        for label, band in routed.bands.items():
            bands[label].append(band)
    return RoutingReplay(
        actions=tuple(actions),
        bands={label: tuple(values) for label, values in bands.items()},
        policy_answer=policy_answers(scored, policy),
    )


def policy_answers(scored: ScoredRows, policy: Policy) -> tuple[Action | None, ...]:
    """What ``policy`` does with each row's known true labels (n,); None with none known."""
    answers: list[Action | None] = []
    for row in range(scored.n):
        truth = {
            label: float(scored.y_true[row, column])
            for column, label in enumerate(scored.labels)
            if scored.known[row, column]
        }
        if not truth:
            answers.append(None)
            continue
        edges = {label: TRUTH_EDGES for label in truth}
        routed = route_listing(
            truth,
            scored.true_category[row],
            thresholds=edges,
            policy=policy,
            listing=scored.rows[row].listing,
            apply_rules=False,
        )
        answers.append(routed.action)
    return tuple(answers)


def summarize_routing(
    scored: ScoredRows,
    replay: RoutingReplay,
    *,
    n_resamples: int = 1000,
    confidence: float = 0.95,
    seed: int = 0,
) -> RoutingSummary:
    """Shares and error rates of a replay with seller-cluster bootstrap intervals."""
    actions = np.array(replay.actions, dtype=object)
    answers = np.array(replay.policy_answer, dtype=object)
    everyone = np.ones(scored.n, dtype=bool)
    answered = answers != None  # noqa: E711 - elementwise comparison on an object array

    def share(event: BoolArray, condition: BoolArray) -> Interval:
        return _conditional_share(event, condition, scored, n_resamples, confidence, seed)

    return RoutingSummary(
        n_rows=scored.n,
        action_shares={action: share(actions == action, everyone) for action in ACTIONS},
        violations_let_through=share(actions == "allow", answered & (answers != "allow")),
        wrong_enforcements=share(answers != "block", answered & (actions == "block")),
        labels={
            label: _label_routing(scored, replay, label, share)
            for label in scored.evaluated_labels()
        },
    )


def _label_routing(
    scored: ScoredRows, replay: RoutingReplay, label: str, share: Share
) -> LabelRouting:
    column = scored.labels.index(label)
    known = scored.known[:, column]
    positive = known & (scored.y_true[:, column] == 1)
    bands = np.array(replay.bands[label], dtype=object)
    return LabelRouting(
        band_shares={band: share(bands == band, known) for band in BANDS},
        violations_let_through=share(bands == "allow", positive),
        wrong_enforcements=share(known & ~positive, known & (bands == "enforce")),
    )


def _conditional_share(
    event: BoolArray,
    condition: BoolArray,
    scored: ScoredRows,
    n_resamples: int,
    confidence: float,
    seed: int,
) -> Interval:
    """Share of rows with ``event`` among rows with ``condition``; both (n,) booleans.

    The pair is passed to the bootstrap as (labels, scores) so every row, inside the condition
    or not, is resampled with its seller; ``nan`` (an empty condition) resamples are dropped.
    """
    return bootstrap_ci(
        _share_of_events,
        event.astype(np.int64),
        condition.astype(np.float64),
        groups=scored.groups,
        n_resamples=n_resamples,
        confidence=confidence,
        seed=seed,
    )


def _share_of_events(
    events: IntArray, conditions: FloatArray, /, *, sample_weight: FloatArray | None = None
) -> float:
    weights = np.ones(events.shape[0]) if sample_weight is None else sample_weight
    inside = conditions > 0.5
    total = float(weights[inside].sum())
    return float(weights[inside & (events == 1)].sum()) / total if total > 0 else float("nan")


def tradeoff_curve(
    scored: ScoredRows,
    *,
    base_targets: Mapping[str, ThresholdTargets],
    fallback_thresholds: Mapping[str, LabelThresholds],
    policy: Policy,
    let_through_grid: Sequence[float] = LET_THROUGH_GRID,
    wrong_enforcement_grid: Sequence[float] = WRONG_ENFORCEMENT_GRID,
) -> list[TradeoffPoint]:
    """Automation (share not reviewed) and overall errors for each pair of targets.

    For each pair, every label with positives in the data gets band edges from
    :func:`models.thresholds.fit_label_thresholds` on the evaluated data itself (keeping the
    label's other targets from ``base_targets``); a label without positives keeps its
    ``fallback_thresholds``. Then all rows are routed as in :func:`replay_routing`.
    """
    answers = policy_answers(scored, policy)
    points = []
    for let_through in let_through_grid:
        for wrong in wrong_enforcement_grid:
            edges = _fitted_edges(scored, base_targets, fallback_thresholds, let_through, wrong)
            replay = replay_routing(scored, thresholds=edges, policy=policy)
            replay = RoutingReplay(replay.actions, replay.bands, answers)
            points.append(_tradeoff_point(replay, let_through, wrong))
    return points


def _fitted_edges(
    scored: ScoredRows,
    base_targets: Mapping[str, ThresholdTargets],
    fallback: Mapping[str, LabelThresholds],
    let_through: float,
    wrong: float,
) -> dict[str, LabelThresholds]:
    edges = dict(fallback)
    for label in scored.evaluated_labels():
        data = scored.label_data(label)
        if data.positives == 0:
            continue
        targets = base_targets.get(label, ThresholdTargets()).model_copy(
            update={"max_violations_let_through": let_through, "max_wrong_enforcements": wrong}
        )
        edges[label] = fit_label_thresholds(data.y_true, data.scores, targets=targets)
    return edges


def _tradeoff_point(replay: RoutingReplay, let_through: float, wrong: float) -> TradeoffPoint:
    point = routing_point(replay)
    return TradeoffPoint(
        max_violations_let_through=let_through,
        max_wrong_enforcements=wrong,
        automation=point["automation"],
        violations_let_through=point["violations_let_through"],
        wrong_enforcements=point["wrong_enforcements"],
    )


def routing_point(replay: RoutingReplay) -> dict[str, float]:
    """Automation and the overall error shares of a replay (``nan`` where undefined)."""
    actions = np.array(replay.actions, dtype=object)
    answers = np.array(replay.policy_answer, dtype=object)
    answered = answers != None  # noqa: E711 - elementwise comparison on an object array
    must_act = answered & (answers != "allow")
    blocked = answered & (actions == "block")
    return {
        "automation": float(np.mean(actions != "review")),
        "violations_let_through": _ratio(must_act & (actions == "allow"), must_act),
        "wrong_enforcements": _ratio(blocked & (answers != "block"), blocked),
    }


def _ratio(events: BoolArray, condition: BoolArray) -> float:
    total = int(condition.sum())
    return int(events.sum()) / total if total else math.nan
