"""Baseline on marketplace-risk-v1: train on train, report validation figures.

    .venv/bin/python benchmarks/baseline_marketplace.py [--shared ../shared] [--resamples 1000]

Trains with the embedded default config (no MLflow), then prints per-label average precision and
recall at precision 0.95 on the validation split with seller-cluster bootstrap 95% intervals, and
the routing shares the card's thresholds produce on validation. Aggregate figures only.
"""

import argparse
import json
import os
import tempfile
import time
from pathlib import Path

import numpy as np

from data.loaders import load_labeled
from data.mapping import load_mapping, resolve_mapping_path
from evaluation.bootstrap import bootstrap_ci
from evaluation.metrics import average_precision, recall_at_precision
from models.policy import DEFAULT_POLICY
from models.routing import route_listing
from models.scorer import BundleScorer
from training.config import load_config
from training.label_arrays import label_arrays
from training.pipeline import train_bundle


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    default_shared = os.environ.get(
        "LISTINGGUARD_SHARED_DIR", str(Path(__file__).parents[1].parent / "shared")
    )
    parser.add_argument("--shared", default=default_shared)
    parser.add_argument("--resamples", type=int, default=1000)
    parser.add_argument("--json", type=Path, help="Also write the figures here.")
    args = parser.parse_args()
    folder = Path(args.shared) / "data" / "marketplace-risk-v1"
    mapping = load_mapping(resolve_mapping_path("marketplace-risk-v1"))
    train = load_labeled(folder / "train.jsonl", mapping).rows
    validation = load_labeled(folder / "validation.jsonl", mapping).rows
    with tempfile.TemporaryDirectory() as scratch:
        started = time.perf_counter()
        trained = train_bundle(
            train,
            config=load_config(),
            data_fingerprint="benchmark",
            bundle_dir=Path(scratch) / "bundle",
            validation_rows=validation,
            progress=print,
        )
        print(f"trained in {time.perf_counter() - started:.0f}s")
        scorer = BundleScorer(trained.bundle_dir)
        started = time.perf_counter()
        scores = [
            s
            for i in range(0, len(validation), 512)
            for s in scorer.score([r.listing for r in validation[i : i + 512]])
        ]
        elapsed = time.perf_counter() - started
        print(f"scored {len(validation)} validation rows through ONNX in {elapsed:.1f}s")
    figures = _figures(trained.card.labels, validation, scores, args.resamples)
    figures["routing"] = _routing(trained.card, scores, validation)
    print(json.dumps(figures, indent=2))
    if args.json:
        args.json.write_text(json.dumps(figures, indent=2))


def _figures(labels, rows, scores, resamples):
    y_true, known = label_arrays(rows, labels)
    sellers = np.array([r.listing.seller_id or r.listing.listing_id for r in rows])
    result = {}
    for column, label in enumerate(labels):
        mask = known[:, column]
        p = np.array([s.probabilities[label] for s in scores])[mask]
        y = y_true[mask, column]
        ap = bootstrap_ci(average_precision, y, p, groups=sellers[mask], n_resamples=resamples)
        r95 = bootstrap_ci(
            lambda a, b, sample_weight=None: recall_at_precision(
                a, b, precision=0.95, sample_weight=sample_weight
            ),
            y,
            p,
            groups=sellers[mask],
            n_resamples=resamples,
        )
        result[label] = {
            "positives": int(y.sum()),
            "n": int(y.size),
            "average_precision": [round(ap.estimate, 3), round(ap.low, 3), round(ap.high, 3)],
            "recall_at_p0.95": [round(r95.estimate, 3), round(r95.low, 3), round(r95.high, 3)],
        }
    return result


def _routing(card, scores, rows):
    actions = {"allow": 0, "review": 0, "block": 0}
    bands = {label: {"allow": 0, "review": 0, "enforce": 0} for label in card.labels}
    let_through = {label: [0, 0] for label in card.labels}
    for score, row in zip(scores, rows, strict=True):
        routed = route_listing(
            score.probabilities,
            score.regulated_category,
            thresholds=card.thresholds,
            policy=DEFAULT_POLICY,
        )
        actions[routed.action] += 1
        for label, band in routed.bands.items():
            bands[label][band] += 1
            if row.labels.value(label) == 1:
                let_through[label][1] += 1
                let_through[label][0] += band == "allow"
    n = len(rows)
    return {
        "actions": {k: round(v / n, 4) for k, v in actions.items()},
        "bands": {label: {k: round(v / n, 4) for k, v in b.items()} for label, b in bands.items()},
        "violations_let_through": {
            label: round(a / b, 3) if b else None for label, (a, b) in let_through.items()
        },
    }


if __name__ == "__main__":
    main()
