"""Speed of the serving path against scikit-learn, on the real titles of marketplace-risk-v1.

    .venv/bin/python benchmarks/scoring_speed.py [--shared ../shared] [--repeats 5]

Trains the baseline (embedded default config) on the train split, then scores the validation
titles in batches of 256 and one at a time, five repeats each, reporting the median titles/s of:

* onnx      — what serving runs: the shared text front-end (hashing) + onnxruntime graph;
* sklearn   — the same model in scikit-learn: the same front-end + scipy TF-IDF + decision function
              (its hasher and column-to-block map built once, as the ONNX side's are);
* tfidf     — a classic scikit-learn pipeline for reference: TfidfVectorizer(word 1-2) +
              TfidfVectorizer(char 3-5) + one LogisticRegression per label, predict_proba.

It also prints the front-end alone and the largest |ONNX - scikit-learn| probability difference.
"""

import argparse
import json
import os
import statistics
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
import scipy.sparse as sp
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.linear_model import LogisticRegression

from data.loaders import load_labeled
from data.mapping import load_mapping, resolve_mapping_path
from models.scorer import BundleScorer
from models.text_features import FeatureHasher
from training.baseline import HashedLinearModel
from training.config import load_config
from training.label_arrays import label_arrays


def _median_rate(run: Callable[[], object], items: int, repeats: int) -> float:
    times = []
    for _ in range(repeats):
        started = time.perf_counter()
        run()
        times.append(time.perf_counter() - started)
    return items / statistics.median(times)


def _batches(items: list, size: int) -> list[list]:
    return [items[i : i + size] for i in range(0, len(items), size)]


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    shared = os.environ.get(
        "LISTINGGUARD_SHARED_DIR", str(Path(__file__).parents[1].parent / "shared")
    )
    parser.add_argument("--shared", default=shared)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--single", type=int, default=1000, help="titles scored one at a time")
    args = parser.parse_args()
    folder = Path(args.shared) / "data" / "marketplace-risk-v1"
    if not (folder / "train.jsonl").is_file():
        raise SystemExit(f"shared data absent: {folder}")
    mapping = load_mapping(resolve_mapping_path("marketplace-risk-v1"))
    train = load_labeled(folder / "train.jsonl", mapping).rows
    validation = load_labeled(folder / "validation.jsonl", mapping).rows
    config = load_config()
    model = HashedLinearModel(config.features, c=config.model.c, seed=config.seed).fit(train)
    listings = [row.listing for row in validation]
    titles = [listing.title for listing in listings]
    figures: dict[str, object] = {"rows": len(listings), "cores": os.cpu_count()}

    with tempfile.TemporaryDirectory() as scratch:
        bundle = _bundle_for(model, train, Path(scratch), config)
        scorer = BundleScorer(bundle, require_checked=False)  # a benchmark graph, no parity run
        batches = _batches(listings, 256)
        hasher = FeatureHasher(scorer.card.feature_spec)
        model.matrix_of_listings(listings[:1])  # setup once: its hasher and block map
        figures["batch256_titles_per_s"] = {
            "front_end_only": _median_rate(
                lambda: [hasher.transform(b) for b in batches], len(listings), args.repeats
            ),
            "onnx": _median_rate(
                lambda: [scorer.predict_logits(b) for b in batches], len(listings), args.repeats
            ),
            "sklearn_same_model": _median_rate(
                lambda: [model.decision_function(model.matrix_of_listings(b)) for b in batches],
                len(listings),
                args.repeats,
            ),
        }
        singles = listings[: args.single]
        figures["single_titles_per_s"] = {
            "onnx": _median_rate(
                lambda: [scorer.predict_logits([x]) for x in singles], len(singles), args.repeats
            ),
            "sklearn_same_model": _median_rate(
                lambda: [model.decision_function(model.matrix_of_listings([x])) for x in singles],
                len(singles),
                args.repeats,
            ),
        }
        onnx_logits = np.vstack([scorer.predict_logits(b)[0] for b in batches])
        sk_logits = model.decision_function(model.matrix_of_listings(listings))
        figures["max_abs_logit_diff"] = float(np.abs(onnx_logits - sk_logits).max())

    figures["classic_tfidf_batch256_titles_per_s"] = _classic_tfidf(
        train, titles, args.repeats, model.labels_
    )
    print(json.dumps(figures, indent=2))


def _bundle_for(model: HashedLinearModel, train: list, scratch: Path, config: object) -> Path:
    """A bundle around ``model`` (identity calibration is enough to time inference)."""
    from datetime import UTC, datetime

    from models.bundle import (
        BUNDLE_FORMAT_VERSION,
        INPUT_NAMES,
        OUTPUT_NAMES,
        ModelCard,
        threshold_set_id,
        write_card,
    )
    from models.calibration import PlattMap
    from models.thresholds import LabelThresholds, ThresholdTargets
    from training.onnx_export import bind_and_write, build_onnx_model

    bundle = scratch / "bundle"
    bundle.mkdir()
    labels = model.labels_
    thresholds = {label: LabelThresholds(allow=0.5) for label in labels}
    targets = {label: ThresholdTargets() for label in labels}
    card = ModelCard(
        format_version=BUNDLE_FORMAT_VERSION,
        model_family="hashed-ngram-linear",
        model_name="bench",
        model_id="bench",
        labels=labels,
        regulated_categories=model.categories_,
        feature_spec=model.spec,
        input_names=list(INPUT_NAMES),
        output_names=list(OUTPUT_NAMES),
        calibration={label: PlattMap(slope=1.0, intercept=0.0) for label in labels},
        threshold_targets=targets,
        thresholds=thresholds,
        threshold_set_id=threshold_set_id(thresholds, targets),
        threshold_note="benchmark only",
        training={},
        metrics={},
        parity=None,
        mlflow_run_id=None,
        model_sha256="0" * 64,  # set by bind_and_write
        created_at=datetime.now(UTC),
    )
    write_card(bundle, bind_and_write(build_onnx_model(model), card, bundle / "model.onnx"))
    return bundle


def _classic_tfidf(train: list, titles: list[str], repeats: int, labels: list[str]) -> float:
    pattern = r"(?u)[^\W_][^\W_]+"
    word = TfidfVectorizer(ngram_range=(1, 2), token_pattern=pattern, sublinear_tf=False)
    char = TfidfVectorizer(analyzer="char", ngram_range=(3, 5))
    train_titles = [row.listing.title for row in train]
    matrix = sp.hstack([word.fit_transform(train_titles), char.fit_transform(train_titles)]).tocsr()
    y_true, _ = label_arrays(train, labels)
    heads = [
        LogisticRegression(C=4.0, class_weight="balanced", solver="liblinear").fit(
            matrix, y_true[:, j]
        )
        for j in range(len(labels))
    ]

    def score() -> None:
        for batch in _batches(titles, 256):
            features = sp.hstack([word.transform(batch), char.transform(batch)]).tocsr()
            for head in heads:
                head.predict_proba(features)

    return _median_rate(score, len(titles), repeats)


if __name__ == "__main__":
    main()
