"""Train-only diagnostic for the transformer family: which linear head over which features.

    .venv/bin/python -m benchmarks.family_heads \
        --checkpoint var/checkpoints/model-families/KEY/fine_tuning.pt

On the transformer family's own seller split of marketplace-risk-v1 train (fit / tune /
calibration, the default config's seed and fractions), fits a class-balanced logistic
regression (C=4) per label on the fit split over title word 1-2 + character 3-5 gram TF-IDF,
alone and concatenated with the frozen all-MiniLM-L6-v2 pooled embedding or the fine-tuned
encoder's (from a ``benchmarks.model_families`` checkpoint), and prints average precision on the
tune split beside the fine-tuned risk head's. Never reads validation. The fine-tuned figures are
optimistic: the checkpoint was chosen on this tune split. Needs the ``transformer`` extra.
"""

import argparse
import time
from pathlib import Path

import numpy as np
import scipy.sparse as sp
import torch
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import average_precision_score

from benchmarks.marketplace_data import load_marketplace
from data.schema import LabeledListing
from data.taxonomy import default_taxonomy
from models.token_text import TokenEncoder
from training.config import load_config
from training.families.transformer import TransformerFamily
from training.families.transformer_fit import padded
from training.families.transformer_model import RiskEncoder, encoder_folder


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--checkpoint", type=Path, required=True)
    args = parser.parse_args()
    loaded = load_marketplace("train")
    if loaded is None:
        return
    mapping, parts = loaded
    rows = parts["train"]
    config = load_config()
    taxonomy = default_taxonomy()
    splits = TransformerFamily(config, taxonomy, print).split(rows)
    labels, categories = list(mapping.known_labels), list(taxonomy.categories)
    encoder_dir = encoder_folder(None)
    encoder = TokenEncoder(
        encoder_dir / "tokenizer.json",
        max_length=config.transformer.max_length,
        feature_spec=config.features,
    )
    frozen = RiskEncoder(encoder_dir, len(labels), len(categories))
    tuned = RiskEncoder(encoder_dir, len(labels), len(categories))
    saved = torch.load(args.checkpoint, map_location="cpu", weights_only=False)
    tuned.load_state_dict(saved["best"])
    started = time.perf_counter()
    embedded = {
        (name, part): _pooled(model, encoder, getattr(splits, part))
        for name, model in (("frozen", frozen), ("fine-tuned", tuned))
        for part in ("fit", "tune")
    }
    print(f"embedded fit and tune twice in {time.perf_counter() - started:.0f} s")
    word = TfidfVectorizer(ngram_range=(1, 2), token_pattern=r"(?u)[^\W_][^\W_]+", min_df=2)
    char = TfidfVectorizer(analyzer="char", ngram_range=(3, 5), min_df=2)
    fit_titles = [row.listing.title for row in splits.fit]
    tune_titles = [row.listing.title for row in splits.tune]
    tfidf_fit = sp.hstack([word.fit_transform(fit_titles), char.fit_transform(fit_titles)]).tocsr()
    tfidf_tune = sp.hstack([word.transform(tune_titles), char.transform(tune_titles)]).tocsr()
    variants = {"tfidf": (tfidf_fit, tfidf_tune)}
    for name in ("frozen", "fine-tuned"):
        variants[f"tfidf + {name} embedding"] = (
            sp.hstack([tfidf_fit, embedded[(name, "fit")][0]]).tocsr(),
            sp.hstack([tfidf_tune, embedded[(name, "tune")][0]]).tocsr(),
        )
    head_logits = embedded[("fine-tuned", "tune")][1]
    print(f"{'label':<12} {'tune positives':>14}  average precision on tune")
    for column, label in enumerate(labels):
        fit_y, fit_known = _labels(splits.fit, label)
        tune_y, tune_known = _labels(splits.tune, label)
        scores = {"fine-tuned risk head": head_logits[tune_known, column]}
        for name, (train_x, tune_x) in variants.items():
            classifier = LogisticRegression(C=4.0, class_weight="balanced", max_iter=2000)
            classifier.fit(train_x[fit_known], fit_y)
            scores[name] = classifier.decision_function(tune_x[tune_known])
        cells = "  ".join(
            f"{name} {average_precision_score(tune_y, value):.3f}" for name, value in scores.items()
        )
        print(f"{label:<12} {int(tune_y.sum()):>14}  {cells}")


def _labels(rows: list[LabeledListing], label: str) -> tuple[np.ndarray, np.ndarray]:
    values = [row.labels.value(label) for row in rows]
    known = np.array([value is not None for value in values])
    return np.array([value or 0 for value in values])[known], known


def _pooled(
    model: RiskEncoder, encoder: TokenEncoder, rows: list[LabeledListing]
) -> tuple[np.ndarray, np.ndarray]:
    """L2-normalized masked-mean embeddings (n, H) and the model's risk logits (n, L)."""
    texts = [encoder.text(row.listing) for row in rows]
    ids = [np.asarray(item.ids) for item in encoder.tokenizer.encode_batch(texts)]
    embeddings, logits = [], []
    model.eval()
    with torch.no_grad():
        for start in range(0, len(ids), 128):
            tokens, mask = padded(ids[start : start + 128], encoder.pad_id)
            states = model.encoder(input_ids=tokens, attention_mask=mask).last_hidden_state
            weights = mask.unsqueeze(-1).float()
            pooled = (states * weights).sum(1) / weights.sum(1).clamp(min=1e-9)
            embeddings.append(torch.nn.functional.normalize(pooled, dim=1).numpy())
            logits.append(model.risk(pooled).numpy())
    return np.vstack(embeddings), np.vstack(logits)


if __name__ == "__main__":
    main()
