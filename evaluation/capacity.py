"""Which promises fit the review capacity? Certify each pair of promises, count the reviews.

For every (let-through, wrong-enforcement) pair of a grid, applied to every label, the edges are
certified as training does (:func:`models.certified_thresholds.certify_label`) on one half of the
data's sellers, the other half ordering the enforce candidates; all rows are then routed through
the policy and the review share, times the daily traffic, is the review volume the promises
cost. Use data the model was not fitted on (a validation file or a fresh labeled sample).
"""

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from evaluation.errors import EvaluationError
from evaluation.scored import ScoredRows
from models.bundle import ModelCard
from models.certified_thresholds import (
    GuaranteeSettings,
    certify_label,
    enforce_start_index,
    unit_codes,
)
from models.policy import Policy
from models.routing import route_listing
from models.thresholds import LabelThresholds

LET_THROUGH_GRID = (0.02, 0.05, 0.10, 0.15, 0.20, 0.30)
WRONG_ENFORCEMENT_GRID = (0.02, 0.05, 0.10, 0.20)


@dataclass(frozen=True)
class CapacityPoint:
    let_through: float
    wrong_enforcements: float
    review_share: float
    certified: dict[str, tuple[bool, bool]]
    """Per label: (let-through certified, wrong-enforcement certified)."""

    def reviews_per_day(self, traffic: float) -> float:
        return self.review_share * traffic

    @property
    def all_certified(self) -> bool:
        return all(a and b for a, b in self.certified.values())


def plan_capacity(
    scored: ScoredRows,
    card: ModelCard,
    policy: Policy,
    *,
    let_through_grid: Sequence[float] = LET_THROUGH_GRID,
    wrong_enforcement_grid: Sequence[float] = WRONG_ENFORCEMENT_GRID,
    seed: int = 0,
) -> list[CapacityPoint]:
    """One point per pair of the grids, in grid order."""
    if scored.n == 0:
        raise EvaluationError("no rows to plan with")
    points = []
    for let_through in let_through_grid:
        for wrong in wrong_enforcement_grid:
            edges = certified_edges(scored, card, let_through, wrong, seed=seed)
            certified = {label: _certified(item) for label, item in edges.items()}
            points.append(
                CapacityPoint(let_through, wrong, _review_share(scored, edges, policy), certified)
            )
    return points


def certified_edges(
    scored: ScoredRows, card: ModelCard, let_through: float, wrong: float, *, seed: int = 0
) -> dict[str, LabelThresholds]:
    """Each label's edges certified for the pair of promises on half of ``scored``'s sellers,
    the other half ordering the enforce candidates (as the fit split does in training)."""
    settings = card.guarantee or GuaranteeSettings()
    delta = settings.delta_per_promise(len(scored.labels))
    codes = unit_codes(scored.groups)
    certify_half = np.random.default_rng(seed).random(codes.max() + 1)[codes] < 0.5
    edges: dict[str, LabelThresholds] = {}
    for column, label in enumerate(scored.labels):
        targets = card.threshold_targets[label].model_copy(
            update={"max_violations_let_through": let_through, "max_wrong_enforcements": wrong}
        )
        known = scored.known[:, column]
        order, certify = known & ~certify_half, known & certify_half
        platt = card.calibration[label]
        y_true, scores = scored.y_true[:, column], scored.probabilities[:, column]
        start = enforce_start_index(
            platt.inverse(scores[order]), y_true[order], codes[order], alpha=wrong, delta=delta
        )
        edges[label] = certify_label(
            y_true[certify], scores[certify], codes[certify], platt=platt,
            targets=targets, settings=settings, delta=delta, enforce_start=start,
        )  # fmt: skip
    return edges


def certifiable(scored: ScoredRows, card: ModelCard, let_through: float, wrong: float) -> bool:
    """Whether every label's two promises certify on this data at the pair of targets."""
    edges = certified_edges(scored, card, let_through, wrong)
    return all(all(_certified(item)) for item in edges.values())


def _certified(edges: LabelThresholds) -> tuple[bool, bool]:
    return tuple(  # type: ignore[return-value]
        certificate is not None and certificate.certified
        for certificate in (edges.let_through, edges.wrong_enforcements)
    )


def _review_share(scored: ScoredRows, edges: dict[str, LabelThresholds], policy: Policy) -> float:
    reviews = 0
    for row, probabilities, category in zip(
        scored.rows, scored.probability_dicts(), scored.predicted_category, strict=True
    ):
        routed = route_listing(
            probabilities, category, thresholds=edges, policy=policy, listing=row.listing
        )
        reviews += routed.action == "review"
    return reviews / max(scored.n, 1)
