"""``listingguard label-audit``: training cases whose label is likely wrong, for QA to re-check.

Per label, every case with a known label is scored out of fold: the rows are split by seller into
``folds`` parts, and each part is scored by the baseline model (the training config's
hashed-linear family, uncalibrated logits through a sigmoid) fitted on the others, so no case is
judged by a model that saw it or its seller. cleanlab's confident learning
(``cleanlab.filter.find_label_issues``, ``prune_by_noise_rate``) then names the cases whose
given label disagrees with what the rest of the data implies, ranked by self-confidence (the
out-of-fold probability of the given label; lowest first).

Nothing is relabelled: the report lists the cases (CSV for the QA team's tools, HTML to read) with
their given label and the model's out-of-fold score (a ranking: the class-balanced baseline is not
calibrated). Cells a spreadsheet would run as formulas are quoted. What QA decides goes back through
review verdicts and ``export-labels``.
"""

import csv
import html
import json
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from data.schema import LabeledListing
from data.splits import split_by_seller
from data.taxonomy import Taxonomy
from training.baseline import HashedLinearModel
from training.config import TrainConfig
from training.errors import TrainingError

Echo = Callable[[str], None]


@dataclass(frozen=True)
class LabelIssue:
    label: str
    rank: int
    listing_id: str
    seller_id: str | None
    title: str
    given: int
    score: float
    """Out-of-fold score that the label is 1: the class-balanced baseline's logit through a
    sigmoid (uncalibrated: a ranking, not a probability)."""
    self_confidence: float
    """The out-of-fold score of the given label (``score`` or ``1 - score``): the lower, the
    likelier an error."""


@dataclass(frozen=True)
class AuditSummary:
    label: str
    cases: int
    positives: int
    issues: int


def audit_labels(
    rows: list[LabeledListing],
    config: TrainConfig,
    *,
    taxonomy: Taxonomy,
    folds: int,
    echo: Echo,
) -> tuple[list[AuditSummary], list[LabelIssue]]:
    """The likely label errors of ``rows``, per label the data carries."""
    from cleanlab.filter import find_label_issues

    if folds < 2:
        raise TrainingError("--folds must be at least 2")
    probabilities = out_of_fold(rows, config, taxonomy=taxonomy, folds=folds, echo=echo)
    summaries, issues = [], []
    for label, (indices, scores) in probabilities.items():
        given = np.array([int(rows[i].labels.value(label) or 0) for i in indices])
        if len(set(given.tolist())) < 2:
            continue
        pred_probs = np.column_stack([1.0 - scores, scores])
        ranked = find_label_issues(
            labels=given, pred_probs=pred_probs, return_indices_ranked_by="self_confidence"
        )
        for rank, position in enumerate(ranked, start=1):
            row = rows[indices[position]]
            issues.append(
                LabelIssue(
                    label=label,
                    rank=rank,
                    listing_id=row.listing.listing_id,
                    seller_id=row.listing.seller_id,
                    title=row.listing.title or "",
                    given=int(given[position]),
                    score=float(scores[position]),
                    self_confidence=float(pred_probs[position, given[position]]),
                )
            )
        summaries.append(AuditSummary(label, int(given.size), int(given.sum()), len(ranked)))
        echo(f"{label}: {len(ranked)} likely label errors among {given.size} cases")
    return summaries, issues


def out_of_fold(
    rows: list[LabeledListing],
    config: TrainConfig,
    *,
    taxonomy: Taxonomy,
    folds: int,
    echo: Echo,
) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    """Per label: (row indices where it is known, out-of-fold probabilities there)."""
    parts = split_by_seller(
        rows, fractions={str(k): 1.0 / folds for k in range(folds)}, seed=config.seed
    )
    position = {id(row): index for index, row in enumerate(rows)}
    scores: dict[str, dict[int, float]] = {}
    for fold, held_out in parts.items():
        if not held_out:
            continue
        fitted_on = [row for name, part in parts.items() if name != fold for row in part]
        model = _model(config, taxonomy).fit(fitted_on)
        logits = model.decision_function(model.matrix(held_out))
        for column, label in enumerate(model.labels_):
            for row, logit in zip(held_out, logits[:, column], strict=True):
                if row.labels.value(label) is not None:
                    scores.setdefault(label, {})[position[id(row)]] = float(logit)
        echo(f"fold {int(fold) + 1}/{folds}: scored {len(held_out)} cases out of fold")
    result = {}
    for label, found in scores.items():
        indices = np.array(sorted(found), dtype=np.int64)
        logits = np.array([found[i] for i in indices])
        result[label] = (indices, 1.0 / (1.0 + np.exp(-logits)))
    return result


def _model(config: TrainConfig, taxonomy: Taxonomy) -> HashedLinearModel:
    params = config.model
    return HashedLinearModel(
        config.features,
        taxonomy=taxonomy,
        c=params.c,
        category_c=params.category_c,
        class_weight=params.class_weight,
        seed=config.seed,
    )


def write_audit(
    out_dir: Path, summaries: list[AuditSummary], issues: list[LabelIssue], *, source: str
) -> None:
    out_dir.mkdir(parents=True, exist_ok=True)
    fields = list(LabelIssue.__dataclass_fields__)
    with (out_dir / "label_issues.csv").open("w", encoding="utf-8", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=fields)
        writer.writeheader()
        for issue in issues:
            writer.writerow({key: _cell(value) for key, value in vars(issue).items()})
    document = {
        "source": source,
        "labels": [vars(summary) for summary in summaries],
        "issues": [vars(issue) for issue in issues],
    }
    (out_dir / "label_issues.json").write_text(json.dumps(document, indent=2) + "\n", "utf-8")
    (out_dir / "label_issues.html").write_text(_html(summaries, issues, source), "utf-8")


def _cell(value: object) -> object:
    """Text a spreadsheet would run as a formula (a seller's title can start with ``=``) is
    quoted with a leading apostrophe."""
    if isinstance(value, str) and value[:1] in ("=", "+", "-", "@", "\t", "\r"):
        return "'" + value
    return value


def _html(summaries: list[AuditSummary], issues: list[LabelIssue], source: str) -> str:
    escape = html.escape
    ranked = sorted(issues, key=lambda issue: (issue.self_confidence, issue.label, issue.rank))
    summary_rows = "".join(
        f"<tr><td>{escape(s.label)}</td><td>{s.cases}</td><td>{s.positives}</td>"
        f"<td>{s.issues}</td></tr>"
        for s in summaries
    )
    issue_rows = "".join(
        f"<tr><td>{escape(i.label)}</td><td>{i.rank}</td><td>{escape(i.listing_id)}</td>"
        f"<td>{escape(i.seller_id or '')}</td><td>{escape(i.title)}</td><td>{i.given}</td>"
        f"<td>{i.score:.3f}</td></tr>"
        for i in ranked[:1000]
    )
    return (
        "<!doctype html><html lang='en'><head><meta charset='utf-8'>"
        "<title>Label audit · ListingGuard</title>"
        "<style>body{font-family:system-ui,sans-serif;margin:2em}td,th{padding:2px 8px;"
        "border-bottom:1px solid #ddd;text-align:left}</style></head><body>"
        f"<h1>Likely label errors in {escape(source)}</h1>"
        "<p>Out-of-fold scores (seller-grouped folds) and cleanlab's confident learning. "
        "Nothing was relabelled: re-check these cases and record the verdicts.</p>"
        "<table><tr><th>Label</th><th>Cases</th><th>Positives</th><th>Likely errors</th></tr>"
        f"{summary_rows}</table><h2>Cases, least self-confident first, all labels (up to 1,000)"
        "</h2>"
        "<table><tr><th>Label</th><th>Rank</th><th>Listing</th><th>Seller</th><th>Title</th>"
        f"<th>Given</th><th>Out-of-fold score</th></tr>{issue_rows}</table></body></html>"
    )
