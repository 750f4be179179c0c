"""How much the rare labels' sellers let a comparison show: seller counts and train-only CV.

    .venv/bin/pip install -e '.[transformer]'
    .venv/bin/python -m benchmarks.seller_support

The transformer issue's bar is a paired seller-bootstrap interval of the AP difference above 0.
That interval resamples sellers, so what decides it is how many sellers carry each rare label.
This prints, per label and split of marketplace-risk-v1, the positives and the sellers they come
from, then a seller-grouped 5-fold cross-validation **on train only** of the frozen reference's
head (all-MiniLM-L6-v2 mean-pooled embedding + title word 1-2 and character 3-5 gram TF-IDF, one
class-balanced logistic regression per label) and of variants of it (the listing's price band
one-hot; a weaker L2), per fold with the positive sellers the fold holds. Validation rows are
counted, never scored. Skips cleanly without the shared data.
"""

import time
from collections import Counter
from dataclasses import dataclass

import numpy as np
import scipy.sparse as sp
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import average_precision_score
from sklearn.model_selection import GroupKFold

from benchmarks.frozen_embeddings import FrozenEncoder
from benchmarks.marketplace_data import load_marketplace
from data.schema import LabeledListing
from evaluation.scored import seller_group
from models.text_features import price_band

RARE_LABELS = ("fraud", "counterfeit")
FOLDS = 5
PRICE_BANDS = 42  # bands 0-40 and "missing"


@dataclass(frozen=True)
class Variant:
    name: str
    price: bool
    c: float


VARIANTS = (
    Variant("reference head (C=4)", price=False, c=4.0),
    Variant("+ price band", price=True, c=4.0),
    Variant("C=16", price=False, c=16.0),
    Variant("+ price band, C=16", price=True, c=16.0),
)


def main() -> None:
    loaded = load_marketplace("train", "validation")
    if loaded is None:
        return
    _, parts = loaded
    print("positives (sellers) per split; top sellers' shares of train")
    for label in RARE_LABELS:
        for split, rows in parts.items():
            sellers = Counter(seller_group(r) for r in rows if r.labels.value(label) == 1)
            top = ", ".join(f"{n}" for _, n in sellers.most_common(3))
            print(f"  {label:<12} {split:<11} {sum(sellers.values()):>4} ({len(sellers)} sellers;"
                  f" largest three: {top})")  # fmt: skip
    train = parts["train"]
    titles = [row.listing.title for row in train]
    started = time.perf_counter()
    embedded = FrozenEncoder().encode(titles)
    price = _price_bands(train)
    groups = np.array([seller_group(row) for row in train])
    folds = list(GroupKFold(n_splits=FOLDS).split(titles, groups=groups))
    scores = {(v.name, label): np.zeros(len(train)) for v in VARIANTS for label in RARE_LABELS}
    for number, (fit, held) in enumerate(folds, 1):
        word = TfidfVectorizer(ngram_range=(1, 2), token_pattern=r"(?u)[^\W_][^\W_]+", min_df=2)
        char = TfidfVectorizer(analyzer="char", ngram_range=(3, 5), min_df=2)
        fit_titles, held_titles = [titles[i] for i in fit], [titles[i] for i in held]
        text_fit = sp.hstack([word.fit_transform(fit_titles), char.fit_transform(fit_titles)])
        text_held = sp.hstack([word.transform(held_titles), char.transform(held_titles)])
        for variant in VARIANTS:
            x_fit = _features(text_fit, embedded[fit], price[fit] if variant.price else None)
            x_held = _features(text_held, embedded[held], price[held] if variant.price else None)
            for label in RARE_LABELS:
                known, y = _target(train, fit, label)
                model = LogisticRegression(C=variant.c, class_weight="balanced", max_iter=2000)
                model.fit(x_fit[known], y)
                scores[(variant.name, label)][held] = model.decision_function(x_held)
        print(f"  fold {number}/{FOLDS} fitted ({time.perf_counter() - started:.0f} s)", flush=True)
    print(f"\nseller-grouped {FOLDS}-fold CV on train: average precision per fold (positive "
          "sellers in the fold), mean of folds, pooled")  # fmt: skip
    for label in RARE_LABELS:
        everyone = np.arange(len(train))
        known_all, y_all = _target(train, everyone, label)
        per_fold_sellers = [
            len({groups[i] for i in held if train[i].labels.value(label) == 1}) for _, held in folds
        ]
        print(f"  {label}: positive sellers per fold {per_fold_sellers}")
        for variant in VARIANTS:
            s = scores[(variant.name, label)]
            per_fold = []
            for _, held in folds:
                known, y = _target(train, held, label)
                per_fold.append(average_precision_score(y, s[held][known]))
            pooled = average_precision_score(y_all, s[known_all])
            cells = " ".join(f"{value:.3f}" for value in per_fold)
            print(f"    {variant.name:<22} folds {cells}  mean {np.mean(per_fold):.3f}"
                  f"  pooled {pooled:.3f}")  # fmt: skip


def _features(text: sp.spmatrix, embedded: np.ndarray, price: np.ndarray | None) -> sp.csr_matrix:
    blocks = [text, sp.csr_matrix(embedded)]
    if price is not None:
        blocks.append(sp.csr_matrix(price))
    return sp.hstack(blocks).tocsr()


def _price_bands(rows: list[LabeledListing]) -> np.ndarray:
    onehot = np.zeros((len(rows), PRICE_BANDS))
    for i, row in enumerate(rows):
        price = row.listing.price
        onehot[i, PRICE_BANDS - 1 if price is None else price_band(price)] = 1.0
    return onehot


def _target(
    rows: list[LabeledListing], index: np.ndarray, label: str
) -> tuple[np.ndarray, np.ndarray]:
    values = [rows[i].labels.value(label) for i in index]
    known = np.array([value is not None for value in values])
    return known, np.array([value or 0 for value in values])[known]


if __name__ == "__main__":
    main()
