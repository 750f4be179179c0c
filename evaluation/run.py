"""Evaluate a model bundle (or compare two) on labeled rows: every figure as one JSON-able dict.

:func:`evaluate_bundle` scores the rows through the bundle's ONNX graph (as serving does), then
computes per-label metrics with seller-cluster bootstrap intervals, the routing simulation at
the card's thresholds, the what-if trade-off curve, the slice table, the category confusion
matrix and the data of every plot; with ``out_dir`` it also writes ``report.html`` and
``report.json`` (:mod:`evaluation.report`). :func:`compare_bundles` does the same for the paired
comparison of two bundles.
"""

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from data.schema import LabeledListing
from evaluation.bootstrap import bootstrap_many
from evaluation.capacity import certifiable
from evaluation.comparison import common_labels, compare_models
from evaluation.decision_rules import decision_rules
from evaluation.errors import EvaluationError
from evaluation.figures import (
    confusion_figure,
    histogram_figure,
    pr_curve_figure,
    reliability_figure,
    tradeoff_figure,
)
from evaluation.metrics import LABEL_STATISTICS
from evaluation.ood import applies_to, load_ood, ood_check
from evaluation.report import write_report
from evaluation.report_json import (
    comparison_json,
    interval_json,
    model_json,
    routing_json,
    slice_json,
)
from evaluation.routing_simulation import (
    replay_routing,
    routing_point,
    summarize_routing,
    tradeoff_curve,
)
from evaluation.scored import ScoredRows, score_rows
from evaluation.slices import (
    MIN_POSITIVES_TO_FLAG,
    SliceSpec,
    evaluate_slices,
    standard_slices,
)
from models.bundle import ModelCard
from models.policy import Policy, default_policy
from models.scorer import BundleScorer

REPORT_FORMAT_VERSION = 1
Progress = Callable[[str], None]
TRADEOFF_NOTE = (
    "The trade-off curve is a what-if: for each pair of targets the band edges are refitted on "
    "this evaluation data itself, so it is optimistic about what those targets would give on new "
    "data. The star marks the card's own thresholds (certified on the training run's calibration "
    "sellers), routed on this data. Green circles mark the certified region: pairs of promises "
    "that every label can certify on this data (on half its sellers, the other half ordering the "
    "enforce candidates), at the card's confidence and unit."
)
OVERALL_NOTE = (
    "Overall errors count listings: a violation is a listing the policy would review or block "
    "given its true labels; one let through is auto-allowed; a wrong enforcement is a blocked "
    "listing the policy would not block. Per-label errors count the label's bands, as the "
    "threshold targets do."
)
COMPARISON_NOTE = (
    "Differences are A - B, both models scored on the same seller-cluster resamples; an "
    "interval that excludes 0 says the difference is unlikely to be resampling noise."
)


def _quiet(message: str) -> None:
    """The default progress callback: say nothing."""


@dataclass(frozen=True)
class EvaluationOptions:
    """Bootstrap settings and the policy the routing simulation applies."""

    n_resamples: int = 1000
    seed: int = 0
    confidence: float = 0.95
    policy: Policy | None = None
    """None: the default policy of the evaluated model's taxonomy."""

    def policy_for(self, card: ModelCard) -> Policy:
        policy = self.policy or default_policy(card.taxonomy)
        try:
            policy.check_against(card.taxonomy)
        except ValueError as error:
            raise EvaluationError(f"policy {policy.version}: {error}") from None
        return policy

    def bootstrap(self) -> dict[str, Any]:
        """The keyword arguments every bootstrap call takes."""
        return {"n_resamples": self.n_resamples, "confidence": self.confidence, "seed": self.seed}

    def settings(self, policy: Policy | None = None) -> dict[str, Any]:
        """The settings as reported; ``policy`` is the one the routing simulation applied."""
        applied = policy or self.policy
        return {
            "n_resamples": self.n_resamples,
            "seed": self.seed,
            "confidence": self.confidence,
            "clusters": "seller_id (a row without seller is its own cluster)",
            "policy": applied.version if applied else None,
        }


def evaluate_bundle(
    bundle_dir: Path,
    rows: Sequence[LabeledListing],
    *,
    options: EvaluationOptions = EvaluationOptions(),
    data_info: Mapping[str, Any] | None = None,
    extra_slices: Sequence[SliceSpec] = (),
    out_dir: Path | None = None,
    progress: Progress = _quiet,
) -> dict[str, Any]:
    """The full evaluation report of one bundle on ``rows``; written to ``out_dir`` if given."""
    scorer = BundleScorer(bundle_dir)
    progress(f"scoring {len(rows)} rows with {scorer.card.model_id}")
    scored = score_rows(scorer, rows)
    report = evaluation_report(
        scorer.card, scored, options=options, extra_slices=extra_slices, progress=progress
    )
    report["model"]["bundle"] = str(bundle_dir)
    report["data"] = {**(data_info or {}), "rows": scored.n}
    report["out_of_distribution"] = None
    if applies_to(scorer):
        progress("out-of-distribution check (hand-written everyday and risky listings)")
        report["out_of_distribution"] = ood_check(
            scorer, options.policy_for(scorer.card), load_ood()
        )
    if out_dir is not None:
        progress(f"writing the report to {out_dir}")
        write_report(report, out_dir)
    return report


def evaluation_report(
    card: ModelCard,
    scored: ScoredRows,
    *,
    options: EvaluationOptions = EvaluationOptions(),
    extra_slices: Sequence[SliceSpec] = (),
    progress: Progress = _quiet,
) -> dict[str, Any]:
    """Every figure of one model's scores; see :func:`evaluate_bundle`."""
    labels = _evaluated_labels(card, scored)
    progress(f"label metrics with {options.n_resamples} bootstrap resamples")
    metrics = {label: label_metrics_json(scored, label, options) for label in labels}
    for label in labels:
        rules = decision_rules(scored.label_data(label), card.thresholds.get(label))
        metrics[label]["decision_rules"] = rules
    progress("routing simulation at the card's thresholds")
    policy = options.policy_for(card)
    replay = replay_routing(scored, thresholds=card.thresholds, policy=policy)
    summary = summarize_routing(scored, replay, **options.bootstrap())
    progress("trade-off curve (thresholds refitted on this data)")
    points = tradeoff_curve(
        scored,
        base_targets=card.threshold_targets,
        fallback_thresholds=card.thresholds,
        policy=policy,
    )
    progress("slices")
    slices = _slices_section(card, scored, replay.actions, extra_slices, options)
    figures = _label_figures(card, scored, labels)
    progress("which pairs of promises certify on this data")
    flags = [
        certifiable(scored, card, p.max_violations_let_through, p.max_wrong_enforcements)
        if card.guarantee is not None
        else False
        for p in points
    ]
    figures["routing_tradeoff"] = tradeoff_figure(points, routing_point(replay), flags)
    figures["category_confusion"] = confusion_figure(
        scored, card.taxonomy.category_label, card.regulated_categories
    )
    return {
        "format_version": REPORT_FORMAT_VERSION,
        "kind": "evaluation",
        "model": model_json(card),
        "settings": options.settings(policy),
        "skipped_labels": [label for label in card.labels if label not in labels],
        "labels": metrics,
        "routing": routing_json(card, summary),
        "slices": slices,
        "figures": figures,
        "notes": {
            "thresholds": card.threshold_note,
            "overall_errors": OVERALL_NOTE,
            "tradeoff": TRADEOFF_NOTE,
        },
    }


def compare_bundles(
    bundle_a: Path,
    bundle_b: Path,
    rows: Sequence[LabeledListing],
    *,
    options: EvaluationOptions = EvaluationOptions(),
    data_info: Mapping[str, Any] | None = None,
    out_dir: Path | None = None,
    progress: Progress = _quiet,
) -> dict[str, Any]:
    """Two bundles on the same rows: both models' metrics and paired differences A - B."""
    cards, scored = [], []
    for name, bundle in (("A", bundle_a), ("B", bundle_b)):
        scorer = BundleScorer(bundle)
        progress(f"scoring {len(rows)} rows with model {name}: {scorer.card.model_id}")
        cards.append(scorer.card)
        scored.append(score_rows(scorer, rows))
    progress(f"paired bootstrap with {options.n_resamples} resamples")
    comparisons = compare_models(scored[0], scored[1], **options.bootstrap())
    labels = common_labels(scored[0], scored[1])
    report: dict[str, Any] = {
        "format_version": REPORT_FORMAT_VERSION,
        "kind": "comparison",
        "models": {
            "A": {**model_json(cards[0]), "bundle": str(bundle_a)},
            "B": {**model_json(cards[1]), "bundle": str(bundle_b)},
        },
        "settings": options.settings(),
        "data": {**(data_info or {}), "rows": scored[0].n},
        "comparison": [comparison_json(item) for item in comparisons],
        "labels": {
            name: {label: label_metrics_json(s, label, options) for label in labels}
            for name, s in (("A", scored[0]), ("B", scored[1]))
        },
        "figures": {"pr_curves": _paired_pr_curves(scored[0], scored[1], labels)},
        "notes": {"comparison": COMPARISON_NOTE},
    }
    if out_dir is not None:
        progress(f"writing the report to {out_dir}")
        write_report(report, out_dir)
    return report


def _slices_section(
    card: ModelCard,
    scored: ScoredRows,
    actions: Sequence[str],
    extra_slices: Sequence[SliceSpec],
    options: EvaluationOptions,
) -> dict[str, Any]:
    slice_set = standard_slices(scored.rows)
    results = evaluate_slices(
        scored,
        [*slice_set.slices, *extra_slices],
        thresholds=card.thresholds,
        actions=actions,
        **options.bootstrap(),
    )
    return {
        "flag_rule": (
            "flagged: the slice's average-precision interval lies entirely below the whole "
            f"dataset's estimate; fewer than {MIN_POSITIVES_TO_FLAG} positives: shown, "
            "not flagged; no positives: n/a"
        ),
        "left_out_values": slice_set.left_out,
        "rows": [slice_json(result) for result in results],
    }


def _evaluated_labels(card: ModelCard, scored: ScoredRows) -> tuple[str, ...]:
    labels = scored.evaluated_labels()
    if not labels:
        raise EvaluationError(
            f"the data carries none of the model's labels ({', '.join(card.labels)}): "
            "check the mapping's labels section"
        )
    return labels


def label_metrics_json(
    scored: ScoredRows, label: str, options: EvaluationOptions
) -> dict[str, Any]:
    """Every ``LABEL_STATISTICS`` entry of one label with its seller-cluster interval."""
    data = scored.label_data(label)
    intervals = bootstrap_many(
        LABEL_STATISTICS, data.y_true, data.scores, groups=data.groups, **options.bootstrap()
    )
    return {
        "n": int(data.y_true.size),
        "positives": data.positives,
        "metrics": {name: interval_json(value) for name, value in intervals.items()},
    }


def _label_figures(card: ModelCard, scored: ScoredRows, labels: Sequence[str]) -> dict[str, Any]:
    figures: dict[str, dict[str, Any]] = {"pr_curves": {}, "reliability": {}, "histograms": {}}
    for label in labels:
        data = scored.label_data(label)
        if data.positives:
            figures["pr_curves"][label] = {"model": pr_curve_figure(data.y_true, data.scores)}
        figures["reliability"][label] = reliability_figure(data.y_true, data.scores)
        figures["histograms"][label] = histogram_figure(
            data.y_true, data.scores, card.thresholds.get(label)
        )
    return figures


def _paired_pr_curves(
    first: ScoredRows, second: ScoredRows, labels: Sequence[str]
) -> dict[str, Any]:
    curves: dict[str, Any] = {}
    for label in labels:
        data_a, data_b = first.label_data(label), second.label_data(label)
        if data_a.positives:
            curves[label] = {
                "A": pr_curve_figure(data_a.y_true, data_a.scores),
                "B": pr_curve_figure(data_b.y_true, data_b.scores),
            }
    return curves
