"""Baseline on marketplace-risk-v1: train on train, evaluate on validation through evaluation.run.

    .venv/bin/python benchmarks/evaluate_marketplace.py [--resamples 1000] [--seed 0] [--out DIR]

Reads ``$LISTINGGUARD_SHARED_DIR/data/marketplace-risk-v1`` (default ``../shared``). Trains the
baseline with the embedded default config into a temporary folder (no MLflow), then prints, for
the validation split: per-label metrics with seller-cluster bootstrap intervals, the routing
simulation at the config's targets, per-source slices (fraud and counterfeit positives exist only
in the Agora source), hard-negative slices and the slices flagged. Aggregate figures only: no
row or title is printed. ``--out`` also writes report.html and report.json.
"""

import argparse
import os
import sys
import tempfile
import time
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import numpy as np

from data.loaders import load_labeled
from data.mapping import load_mapping, resolve_mapping_path
from data.schema import LabeledListing
from evaluation.run import EvaluationOptions, evaluate_bundle
from evaluation.slices import SliceSpec
from training.config import load_config
from training.pipeline import train_bundle

DATASET = "marketplace-risk-v1"
HARD_NEGATIVES = "hard negatives"
METRICS = (
    "average_precision",
    "roc_auc",
    "recall@p0.90",
    "recall@p0.95",
    "precision@r0.8",
    "brier",
    "ece",
)

# Hard-negative slices, chosen by the sources' own category paths (source_category).
HardNegative = Callable[[str, str], bool]
HARD_NEGATIVE_SLICES: Mapping[str, HardNegative] = {
    "Amazon watches + jewellery": lambda source, path: (
        source == "amazon-in-2023" and ("Watches" in path or "Jewellery" in path)
    ),
    "Instacart alcohol": lambda source, path: (
        source == "instacart-2017" and path.startswith("alcohol/")
    ),
    "Instacart supplements": lambda source, path: (
        source == "instacart-2017"
        and path
        in {"personal care/vitamins supplements", "personal care/protein meal replacements"}
    ),
}


def main() -> None:
    args = _arguments()
    folder = _data_folder()
    mapping = load_mapping(resolve_mapping_path(DATASET))
    train = load_labeled(folder / "train.jsonl", mapping).rows
    validation = load_labeled(folder / "validation.jsonl", mapping).rows
    print(f"{DATASET}: {len(train)} train rows, {len(validation)} validation rows")
    with tempfile.TemporaryDirectory() as scratch:
        bundle = Path(scratch) / "bundle"
        started = time.perf_counter()
        train_bundle(
            train,
            config=load_config(),
            data_fingerprint="benchmark",
            bundle_dir=bundle,
            validation_rows=validation,
            progress=lambda message: print(f"  {message}"),
        )
        print(f"trained in {time.perf_counter() - started:.0f}s")
        started = time.perf_counter()
        report = evaluate_bundle(
            bundle,
            validation,
            options=EvaluationOptions(n_resamples=args.resamples, seed=args.seed),
            data_info={"file": f"{DATASET}/validation.jsonl", "mapping": DATASET},
            extra_slices=hard_negative_slices(validation),
            out_dir=args.out,
            progress=lambda message: print(f"  {message}"),
        )
        print(f"evaluated in {time.perf_counter() - started:.0f}s\n")
    print_figures(report)


def _arguments() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--resamples", type=int, default=1000)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", type=Path, help="Write report.html and report.json here.")
    return parser.parse_args()


def _data_folder() -> Path:
    shared = os.environ.get("LISTINGGUARD_SHARED_DIR", str(Path(__file__).parents[2] / "shared"))
    folder = Path(shared) / "data" / DATASET
    if not (folder / "train.jsonl").is_file() or not (folder / "validation.jsonl").is_file():
        sys.exit(f"{folder}: no train.jsonl/validation.jsonl here; set LISTINGGUARD_SHARED_DIR")
    return folder


def hard_negative_slices(rows: list[LabeledListing]) -> list[SliceSpec]:
    sources = [
        (row.slices.get("source", ""), row.slices.get("source_category", "")) for row in rows
    ]
    return [
        SliceSpec(HARD_NEGATIVES, name, np.array([chosen(*pair) for pair in sources]))
        for name, chosen in HARD_NEGATIVE_SLICES.items()
    ]


def print_figures(report: Mapping[str, Any]) -> None:
    settings = report["settings"]
    print(
        f"validation rows {report['data']['rows']}; 95% intervals from {settings['n_resamples']} "
        f"seller-cluster resamples (seed {settings['seed']})\n"
    )
    _print_labels(report["labels"])
    _print_routing(report)
    slices = report["slices"]["rows"]
    _print_slices("per source", [row for row in slices if row["dimension"] == "source"])
    _print_slices(HARD_NEGATIVES, [row for row in slices if row["dimension"] == HARD_NEGATIVES])
    flagged = [
        f"{row['dimension']}={row['value']} ({label})"
        for row in slices
        for label, item in row["labels"].items()
        if item["status"] == "flagged"
    ]
    print(f"flagged slices ({len(flagged)}): {'; '.join(flagged) or 'none'}")


def _print_labels(labels: Mapping[str, Any]) -> None:
    print("| label | rows | positives | " + " | ".join(METRICS) + " |")
    print("|---" * (3 + len(METRICS)) + "|")
    for label, item in labels.items():
        cells = [_ci(item["metrics"][name]) for name in METRICS]
        print(f"| {label} | {item['n']} | {item['positives']} | " + " | ".join(cells) + " |")
    print()


def _print_routing(report: Mapping[str, Any]) -> None:
    routing = report["routing"]
    shares = routing["action_shares"]
    print(f"routing at the card's thresholds ({routing['threshold_set_id']}, policy default-v1):")
    print(
        f"  allowed {_pct(shares['allow'])}, sent to review {_pct(shares['review'])}, "
        f"blocked {_pct(shares['block'])}"
    )
    print(
        f"  overall: violations let through {_pct(routing['violations_let_through'])}, "
        f"wrong enforcements {_pct(routing['wrong_enforcements'])}"
    )
    print(
        "| label | targets (let through / wrong) | let through | wrong enforcements | review band |"
    )
    print("|---|---|---|---|---|")
    edges = report["model"]["thresholds"]
    for label, item in routing["labels"].items():
        targets = item["targets"]
        wrong = _pct(item["wrong_enforcements"]) if edges[label]["enforce"] else "auto-enforce off"
        print(
            f"| {label} | {targets['max_violations_let_through']:.0%} / "
            f"{targets['max_wrong_enforcements']:.0%} | {_pct(item['violations_let_through'])} | "
            f"{wrong} | {_pct(item['band_shares']['review'])} |"
        )
    card = report["figures"]["routing_tradeoff"]["card"]
    print(f"  automation (share not reviewed) at the card's thresholds: {card['automation']:.3f}\n")


def _print_slices(title: str, rows: list[Mapping[str, Any]]) -> None:
    print(f"{title}:")
    print(
        "| slice | rows | sellers | allow / review / block | label | positives "
        "| average precision | status | clean not allowed | clean enforced |"
    )
    print("|---" * 10 + "|")
    for row in rows:
        actions = " / ".join(
            f"{100 * row['actions'][a]:.1f}%" for a in ("allow", "review", "block")
        )
        for label, item in row["labels"].items():
            print(
                f"| {row['value']} | {row['n_rows']} | {row['n_sellers']} | {actions} | {label} "
                f"| {item['positives']} | {_ci(item['average_precision'])} | {item['status']} "
                f"| {_pct(item['negatives_not_allowed'])} | {_pct(item['negatives_enforced'])} |"
            )
    print()


def _ci(interval: Mapping[str, Any] | None) -> str:
    if interval is None or interval["estimate"] is None:
        return "n/a"
    if interval["low"] is None:
        return f"{interval['estimate']:.3f}"
    return f"{interval['estimate']:.3f} [{interval['low']:.3f}, {interval['high']:.3f}]"


def _pct(interval: Mapping[str, Any] | None) -> str:
    if interval is None or interval["estimate"] is None:
        return "n/a"
    text = f"{100 * interval['estimate']:.1f}%"
    if interval["low"] is None:
        return text
    return f"{text} [{100 * interval['low']:.1f}, {100 * interval['high']:.1f}]"


if __name__ == "__main__":
    main()
