"""The promotion gate: a challenger against the champion on a pinned evaluation set.

The rule (refuse when any check fails):

* **label**: for each label the set carries, the paired seller-bootstrap interval of
  AP(challenger) - AP(champion) lies wholly below ``-margin``;
* **slice**: the same, within each standard slice (source, market, price band, text length,
  the data's slice columns) holding at least :data:`MIN_POSITIVES_TO_FLAG` positives of the
  label — the slices the evaluation report can flag;
* **promise**: a routing promise the challenger's card makes (violations let through at its
  allow edge, wrong enforcements at its enforce edge, seller-weighted as certified) is broken
  with confidence on the set: the seller-bootstrap interval of its rate lies wholly above the
  target.

One gate runs many checks, so each interval is taken at the Bonferroni-corrected level
``1 - 2 * alpha / checks`` (two-sided), which bounds the chance that two equally good models are
refused at about ``alpha`` (each failure is one-sided); ``benchmarks/promotion_gate.py``
measures that false-refusal rate on simulated equal models. Such levels sit in tails a few
hundred resamples cannot reach, so each interval is the estimate plus or minus the normal
quantile times the seller-bootstrap standard error (the half-width of the bootstrap's central
68.27%, robust to outlying resamples). Every interval resamples sellers: the set's sellers must
be ones neither model was fitted or calibrated on.
"""

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from statistics import NormalDist
from typing import Literal

import numpy as np

from evaluation.bootstrap import Interval, bootstrap_ci, paired_bootstrap_difference
from evaluation.metrics import LABEL_STATISTICS
from evaluation.scored import ScoredRows
from evaluation.slices import MIN_POSITIVES_TO_FLAG, SliceSpec
from models.thresholds import LabelThresholds, ThresholdTargets

CheckKind = Literal["label", "slice", "promise"]
DEFAULT_MARGIN = 0.02
DEFAULT_ALPHA = 0.05
ONE_SD = 0.682689492137086
"""The central share of a normal within one standard deviation."""


@dataclass(frozen=True)
class GateCheck:
    kind: CheckKind
    label: str
    name: str
    """``average_precision``, ``DIMENSION=VALUE`` or the promise's name."""
    challenger: float
    champion: float | None
    """The champion's value (label and slice checks; None for promises)."""
    interval: Interval
    """Of the difference challenger - champion, or of the challenger's promise rate."""
    limit: float
    """``-margin``, or the promise's target."""
    failed: bool


@dataclass(frozen=True)
class GateResult:
    checks: list[GateCheck]
    margin: float
    alpha: float
    confidence: float
    """The per-check (Bonferroni) two-sided level of every interval."""

    @property
    def refused(self) -> bool:
        return any(check.failed for check in self.checks)

    @property
    def failures(self) -> list[GateCheck]:
        return [check for check in self.checks if check.failed]


def gate(
    challenger: ScoredRows,
    champion: ScoredRows,
    *,
    thresholds: Mapping[str, LabelThresholds],
    targets: Mapping[str, ThresholdTargets],
    slices: Sequence[SliceSpec] = (),
    margin: float = DEFAULT_MARGIN,
    alpha: float = DEFAULT_ALPHA,
    n_resamples: int = 1000,
    seed: int = 0,
) -> GateResult:
    """The gate's checks of ``challenger`` (with its card's band edges and targets) against
    ``champion``, both scored on the same rows."""
    if [row.listing.listing_id for row in challenger.rows] != [
        row.listing.listing_id for row in champion.rows
    ]:
        raise ValueError("the two models were not scored on the same rows in the same order")
    labels = [label for label in challenger.evaluated_labels() if label in champion.labels]
    promised = [label for label in labels if label in thresholds and label in targets]
    planned = _planned(challenger, labels, slices, promised)
    confidence = 1.0 - 2.0 * alpha / max(1, len(planned))
    checks: list[GateCheck] = []
    for kind, label, name, mask in planned:
        if kind == "promise":
            edges = (thresholds[label], targets[label])
            checks.append(_promise(challenger, edges, label, name, confidence, n_resamples, seed))
        else:
            checks.append(
                _difference(
                    (challenger, champion),
                    (kind, label, name, mask),
                    margin=margin,
                    confidence=confidence,
                    n_resamples=n_resamples,
                    seed=seed,
                )
            )
    return GateResult(checks=checks, margin=margin, alpha=alpha, confidence=confidence)


Planned = tuple[CheckKind, str, str, np.ndarray | None]


def _planned(
    scored: ScoredRows, labels: list[str], slices: Sequence[SliceSpec], promised: list[str]
) -> list[Planned]:
    planned: list[Planned] = []
    for label in labels:
        planned.append(("label", label, "average_precision", None))
        for spec in slices:
            if scored.label_data(label, spec.mask).positives >= MIN_POSITIVES_TO_FLAG:
                planned.append(("slice", label, f"{spec.dimension}={spec.value}", spec.mask))
        if label in promised:
            planned += [
                ("promise", label, promise, None)
                for promise in ("violations_let_through", "wrong_enforcements")
            ]
    return planned


def _difference(
    models: tuple[ScoredRows, ScoredRows],
    check: Planned,
    *,
    margin: float,
    confidence: float,
    n_resamples: int,
    seed: int,
) -> GateCheck:
    challenger, champion = models
    kind, label, name, mask = check
    new = challenger.label_data(label, mask)
    old_scores = champion.label_data(label, mask).scores
    statistic = LABEL_STATISTICS["average_precision"]
    spread = paired_bootstrap_difference(
        statistic,
        new.y_true,
        new.scores,
        old_scores,
        groups=new.groups,
        n_resamples=n_resamples,
        confidence=ONE_SD,
        seed=seed,
    )
    interval = _normal(spread, confidence)
    return GateCheck(
        kind=kind,
        label=label,
        name=name,
        challenger=statistic(new.y_true, new.scores),
        champion=statistic(new.y_true, old_scores),
        interval=interval,
        limit=-margin,
        failed=interval.high < -margin,
    )


def _promise(
    scored: ScoredRows,
    edges_and_targets: tuple[LabelThresholds, ThresholdTargets],
    label: str,
    promise: str,
    confidence: float,
    n_resamples: int,
    seed: int,
) -> GateCheck:
    """The seller-weighted rate of one promise at the card's edges, with a seller interval."""
    data = scored.label_data(label)
    edges, targets = edges_and_targets
    if promise == "violations_let_through":
        event, at_risk = data.scores < edges.allow, data.y_true == 1
        target = targets.max_violations_let_through
    else:
        enforce = edges.enforce if edges.enforce is not None else np.inf
        event, at_risk = data.y_true == 0, data.scores >= enforce
        target = targets.max_wrong_enforcements
    # One representative row per seller with a row at risk, carrying that seller's share: the
    # seller-weighted rate is then a weighted mean over representatives, and the bootstrap's
    # seller multiplicities weight it as they weight every row of the seller.
    sellers = np.unique(data.groups.astype(str), return_inverse=True)[1]
    numerators = np.bincount(sellers, weights=(event & at_risk).astype(np.float64))
    denominators = np.bincount(sellers, weights=at_risk.astype(np.float64))
    first = np.zeros(sellers.size, dtype=bool)
    first[np.unique(sellers, return_index=True)[1]] = True
    representative = first & (denominators[sellers] > 0)
    if not representative.any():  # no seller at risk (nothing auto-enforced, say): nothing broken
        undefined = Interval(float("nan"), float("nan"), float("nan"), 0, 0, confidence)
        return GateCheck("promise", label, promise, float("nan"), None, undefined, target, False)
    share = np.where(
        representative, numerators[sellers] / np.maximum(denominators[sellers], 1.0), 0.0
    )
    spread = bootstrap_ci(
        _weighted_mean,
        representative.astype(np.int64),
        share,
        groups=data.groups,
        n_resamples=n_resamples,
        confidence=ONE_SD,
        seed=seed,
    )
    interval = _normal(spread, confidence)
    return GateCheck(
        kind="promise",
        label=label,
        name=promise,
        challenger=interval.estimate,
        champion=None,
        interval=interval,
        limit=target,
        failed=interval.low > target,
    )


def _normal(spread: Interval, confidence: float) -> Interval:
    """The estimate +- z(confidence) x the bootstrap standard error read from ``spread``."""
    error = (spread.high - spread.low) / 2.0
    z = NormalDist().inv_cdf(0.5 + confidence / 2.0)
    return Interval(
        spread.estimate,
        spread.estimate - z * error,
        spread.estimate + z * error,
        spread.n_resamples_used,
        spread.n_resamples_dropped,
        confidence,
    )


def _weighted_mean(
    y_true: np.ndarray, scores: np.ndarray, sample_weight: np.ndarray | None = None
) -> float:
    """Mean of ``scores`` over rows where ``y_true`` is 1, weighted; nan where there are none."""
    weights = np.ones(y_true.size) if sample_weight is None else np.asarray(sample_weight)
    total = float((weights * y_true).sum())
    return float((weights * y_true * scores).sum() / total) if total > 0 else float("nan")
