"""The model families on marketplace-risk-v1: baseline, transformer, ensemble, and the frozen bar.

    .venv/bin/pip install -e '.[dev,transformer]'
    .venv/bin/python -m benchmarks.model_families [--epochs 2] [--resamples 500]

Every model is fitted on train only (the tokenized families split train by seller into fit /
tune / calibration: early stopping and the ensemble's heads on tune, calibration and certified
edges on calibration) and measured on validation, whose sellers none of them saw. Prints, per
label: average precision and recall at precision 0.95 with seller-bootstrap 95% intervals; the
paired seller-bootstrap interval of the AP difference against the frozen-embedding reference
(``benchmarks.frozen_embeddings``); average precision per source slice; the out-of-distribution
check; fine-tuning seconds per epoch; inference texts/s (batches of 64) and single-listing
latency p50/p99 for torch fp32, ONNX fp32 and ONNX int8 on the same validation titles, in one
run. The transformer's fine-tuning is checkpointed under ``var/checkpoints/model-families``,
and the ensemble reuses it (same splits, same settings). Writes the figures to
``var/benchmarks/model_families.json``. Skips cleanly without the shared data.
"""

import argparse
import json
import os
import statistics
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np

from benchmarks.frozen_embeddings import frozen_reference_scores
from benchmarks.marketplace_data import DATASET, load_marketplace
from data.schema import LabeledListing
from evaluation.bootstrap import bootstrap_many, paired_bootstrap_difference
from evaluation.metrics import LABEL_STATISTICS
from evaluation.ood import load_ood, ood_check
from evaluation.scored import score_rows, seller_group
from models.bundle import read_card
from models.policy import default_policy
from models.scorer import BundleScorer
from training.config import TrainConfig, load_config, merge_config
from training.pipeline import train_bundle

CHECKPOINTS = Path("var/checkpoints/model-families")
SMOKE_CHECKPOINTS = Path("var/checkpoints/model-families-smoke")


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--epochs", type=int, default=1)
    parser.add_argument("--resamples", type=int, default=500)
    parser.add_argument("--speed-texts", type=int, default=300)
    parser.add_argument("--every", type=int, default=1, help="every Nth row only (a smoke run)")
    parser.add_argument("--max-steps", type=int, help="stop fine-tuning after this many steps")
    parser.add_argument("--learning-rate", type=float, help="the encoder's (default: config's)")
    args = parser.parse_args()
    loaded = load_marketplace("train", "validation")
    if loaded is None:
        return
    mapping, parts = loaded
    train, validation = parts["train"], parts["validation"]
    train, validation = train[:: args.every], validation[:: args.every]
    labels = list(mapping.known_labels)
    print(
        f"{DATASET}: {len(train)} train, {len(validation)} validation rows; {os.cpu_count()} cores"
    )
    smoke = args.every > 1 or args.max_steps is not None
    checkpoints = SMOKE_CHECKPOINTS if smoke else CHECKPOINTS
    figures: dict[str, Any] = {"train_rows": len(train), "validation_rows": len(validation)}
    probabilities: dict[str, np.ndarray] = {}
    with tempfile.TemporaryDirectory() as scratch:
        bundles = {}
        for family in ("hashed-linear", "transformer", "ensemble"):
            config = _config(family, args.epochs, args.max_steps, args.learning_rate)
            started = time.perf_counter()
            bundle = Path(scratch) / family
            train_bundle(
                train,
                config=config,
                data_fingerprint="bench",
                bundle_dir=bundle,
                progress=lambda line, f=family: print(f"  [{f}] {line}", flush=True),
                checkpoint_dir=checkpoints,
            )
            figures.setdefault("train_seconds", {})[family] = round(
                time.perf_counter() - started, 1
            )
            bundles[family] = bundle
            scorer = BundleScorer(bundle)
            scored = score_rows(scorer, validation)
            probabilities[family] = np.column_stack(
                [scored.probabilities[:, scored.labels.index(label)] for label in labels]
            )
            figures.setdefault("ood", {})[family] = _ood(scorer)
        started = time.perf_counter()
        probabilities["frozen MiniLM+TF-IDF"] = frozen_reference_scores(train, validation, labels)
        figures["train_seconds"]["frozen"] = round(time.perf_counter() - started, 1)
        figures["fine_tuning"] = read_card(bundles["transformer"]).training["fine_tuning"]
        ensemble_card = read_card(bundles["ensemble"])
        figures["ensemble_heads"] = {
            "tune_average_precision": ensemble_card.training.get("ensemble_heads"),
            "joint": sorted(ensemble_card.joint_heads or {}),
        }
        figures["validation"] = _validation(validation, labels, probabilities, args.resamples)
        figures["slices"] = _source_slices(validation, labels, probabilities)
        figures["speed"] = _speed(bundles["transformer"], validation, args.speed_texts, checkpoints)
    _print(figures)
    out = Path(f"var/benchmarks/model_families{'-smoke' if smoke else ''}.json")
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(figures, indent=2) + "\n", encoding="utf-8")
    print(f"\nfigures written to {out}")


def _config(
    family: str, epochs: int, max_steps: int | None, learning_rate: float | None
) -> TrainConfig:
    base = load_config().model_dump(mode="json")
    every = 250 if max_steps is None else max(1, max_steps // 2)
    override: dict[str, Any] = {
        "family": family,
        "transformer": {
            "epochs": epochs,
            "evaluate_every_steps": every,
            "patience": 2,
            "max_steps": max_steps,
        },
    }
    if learning_rate is not None:
        override["transformer"]["learning_rate"] = learning_rate
    return TrainConfig.model_validate(merge_config(base, override))


def _ood(scorer: BundleScorer) -> dict[str, Any]:
    result = ood_check(scorer, default_policy(scorer.card.taxonomy), load_ood())
    return {
        key: result[key] for key in ("n", "agreement", "false_blocks", "violations_auto_allowed")
    }


def _checkpoint_of(bundle: Path, checkpoints: Path) -> Path:
    """The fine-tuning checkpoint the bundle's card names (its key)."""
    key = read_card(bundle).training["fine_tuning"]["checkpoint_key"]
    return checkpoints / key / "fine_tuning.pt"


def _validation(
    rows: list[LabeledListing],
    labels: list[str],
    probabilities: dict[str, np.ndarray],
    resamples: int,
) -> dict[str, Any]:
    groups = np.array([seller_group(row) for row in rows], dtype=object)
    wanted = {key: LABEL_STATISTICS[key] for key in ("average_precision", "recall@p0.95")}
    result: dict[str, Any] = {}
    reference = probabilities["frozen MiniLM+TF-IDF"]
    for column, label in enumerate(labels):
        values = np.array([row.labels.value(label) for row in rows], dtype=object)
        known = np.array([value is not None for value in values])
        y = values[known].astype(np.int64)
        for name, scores in probabilities.items():
            intervals = bootstrap_many(
                wanted, y, scores[known, column], groups=groups[known], n_resamples=resamples
            )
            cell = {key: _interval(item) for key, item in intervals.items()}
            if name != "frozen MiniLM+TF-IDF":
                cell["ap_minus_frozen"] = _interval(
                    paired_bootstrap_difference(
                        LABEL_STATISTICS["average_precision"],
                        y,
                        scores[known, column],
                        reference[known, column],
                        groups=groups[known],
                        n_resamples=resamples,
                    )
                )
            result.setdefault(label, {})[name] = cell
    return result


def _interval(item: Any) -> list[float]:
    return [round(item.estimate, 4), round(item.low, 4), round(item.high, 4)]


def _source_slices(
    rows: list[LabeledListing], labels: list[str], probabilities: dict[str, np.ndarray]
) -> dict[str, Any]:
    statistic = LABEL_STATISTICS["average_precision"]
    sources = np.array([row.slices.get("source", "?") for row in rows], dtype=object)
    result: dict[str, Any] = {}
    for source in sorted(set(sources.tolist())):
        for column, label in enumerate(labels):
            values = np.array([row.labels.value(label) for row in rows], dtype=object)
            mask = (sources == source) & np.array([value is not None for value in values])
            y = values[mask].astype(np.int64)
            if y.sum() < 5 or y.sum() == len(y):
                continue
            result.setdefault(source, {})[label] = {
                name: round(float(statistic(y, scores[mask, column])), 4)
                for name, scores in probabilities.items()
            }
    return result


def _speed(
    bundle: Path, rows: list[LabeledListing], count: int, checkpoints: Path
) -> dict[str, Any]:
    """torch fp32 vs ONNX fp32 vs ONNX int8 on the same titles, one run."""
    import onnxruntime as ort
    import torch

    from models.bundle import TOKENIZER_FILE
    from models.token_text import TokenEncoder
    from training.families.transformer_export import export_fp32, quantize_int8
    from training.families.transformer_model import RiskEncoder, encoder_folder

    scorer = BundleScorer(bundle)
    card = scorer.card
    assert card.encoder is not None
    encoder = TokenEncoder(
        bundle / TOKENIZER_FILE, max_length=card.encoder.max_length, feature_spec=card.feature_spec
    )
    path = _checkpoint_of(bundle, checkpoints)
    model = RiskEncoder(encoder_folder(None), len(card.labels), len(card.regulated_categories))
    model.load_state_dict(torch.load(path, map_location="cpu", weights_only=False)["best"])
    model.eval()
    texts = [encoder.text(row.listing) for row in rows[:count]]
    with tempfile.TemporaryDirectory() as scratch:
        fp32_path, int8_path = Path(scratch) / "fp32.onnx", Path(scratch) / "int8.onnx"
        export_fp32(model, fp32_path, encoder.pad_id)
        quantize_int8(fp32_path, int8_path)
        options = ort.SessionOptions()
        options.intra_op_num_threads = os.cpu_count() or 1
        sessions = {
            "onnx_fp32": ort.InferenceSession(str(fp32_path), options),
            "onnx_int8": ort.InferenceSession(str(int8_path), options),
        }

        def run_torch(batch: list[str]) -> None:
            inputs = encoder.encode_texts(batch)
            with torch.no_grad():
                model(
                    torch.from_numpy(inputs["input_ids"]),
                    torch.from_numpy(inputs["attention_mask"]),
                )

        runners = {"torch_fp32": run_torch}
        for name, session in sessions.items():
            runners[name] = lambda batch, s=session: s.run(None, encoder.encode_texts(batch))
        result: dict[str, Any] = {"texts": len(texts), "threads": os.cpu_count()}
        for name, run in runners.items():
            run(texts[:8])  # warm-up
            started = time.perf_counter()
            for start in range(0, len(texts), 64):
                run(texts[start : start + 64])
            batch_rate = len(texts) / (time.perf_counter() - started)
            latencies = []
            for text in texts:
                began = time.perf_counter()
                run([text])
                latencies.append((time.perf_counter() - began) * 1000)
            latencies.sort()
            result[name] = {
                "batch64_texts_per_s": round(batch_rate, 1),
                "single_p50_ms": round(statistics.median(latencies), 2),
                "single_p99_ms": round(latencies[int(0.99 * (len(latencies) - 1))], 2),
            }
        served = [row.listing for row in rows[:count]]
        began = time.perf_counter()
        for listing in served:
            scorer.score([listing])
        result["shipped_weights"] = card.encoder.weights
        result["scorer_with_reasons_single_ms"] = round(
            (time.perf_counter() - began) / len(served) * 1000, 2
        )
    return result


def _print(figures: dict[str, Any]) -> None:
    print(f"\ntraining seconds: {figures['train_seconds']}")
    tuning = figures["fine_tuning"]
    print(f"fine-tuning: {tuning['steps']} steps in {tuning['seconds']} s; {tuning['history']}")
    heads = figures["ensemble_heads"]
    print(f"ensemble heads (tune AP per candidate): {heads['tune_average_precision']}")
    print(f"  joint heads chosen for: {heads['joint'] or 'none'}")
    print(f"\n{'label':<12} {'model':<22} {'AP [95% CI]':<26} {'recall@p0.95':<26} AP - frozen")
    for label, models in figures["validation"].items():
        for name, cell in models.items():
            ap, recall = cell["average_precision"], cell["recall@p0.95"]
            diff = cell.get("ap_minus_frozen")
            print(
                f"{label:<12} {name:<22} {_cell(ap):<26} {_cell(recall):<26} "
                f"{_cell(diff) if diff else '-'}"
            )
    print("\naverage precision per source slice (validation):")
    for source, items in figures["slices"].items():
        for label, models in items.items():
            cells = "  ".join(f"{name} {value:.3f}" for name, value in models.items())
            print(f"  {source:<22} {label:<12} {cells}")
    print("\nout-of-distribution check:")
    for family, item in figures["ood"].items():
        print(f"  {family:<14} {item}")
    print(f"\ninference (transformer): {json.dumps(figures['speed'], indent=1)}")


def _cell(values: list[float]) -> str:
    return f"{values[0]:.3f} [{values[1]:.3f}, {values[2]:.3f}]"


if __name__ == "__main__":
    main()
