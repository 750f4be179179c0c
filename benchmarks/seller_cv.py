"""Seller-grouped cross-validation on marketplace-risk-v1 *train* only (validation untouched).

    .venv/bin/python benchmarks/seller_cv.py [--folds 3] [--seed 5]

How design choices of the baseline were made without looking at the validation split: the train
split is cut into seller-disjoint folds (data.splits.split_by_seller), the baseline is fitted on
all folds but one and scored on the held-out fold. Prints per-fold average precision of each label
for the default config and for the same config without term groups.
"""

import argparse
import os
from pathlib import Path

import numpy as np

from data.loaders import load_labeled
from data.mapping import load_mapping, resolve_mapping_path
from data.splits import split_by_seller
from evaluation.metrics import average_precision
from models.calibration import sigmoid
from training.baseline import HashedLinearModel
from training.config import TrainConfig, load_config
from training.label_arrays import label_arrays


def fold_scores(folds: dict[str, list], config: TrainConfig) -> dict[str, list[float]]:
    scores: dict[str, list[float]] = {}
    for held_out, test_rows in folds.items():
        fit_rows = [row for name, rows in folds.items() if name != held_out for row in rows]
        model = HashedLinearModel(
            config.features, c=config.model.c, category_c=config.model.category_c, seed=config.seed
        ).fit(fit_rows)
        probabilities = sigmoid(model.decision_function(model.matrix(test_rows)))
        y_true, _ = label_arrays(test_rows, model.labels_)
        for column, label in enumerate(model.labels_):
            ap = average_precision(y_true[:, column], probabilities[:, column])
            scores.setdefault(label, []).append(round(ap, 3))
        print(f"  fold {held_out} done", flush=True)
    return scores


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    shared = os.environ.get(
        "LISTINGGUARD_SHARED_DIR", str(Path(__file__).parents[1].parent / "shared")
    )
    parser.add_argument("--shared", default=shared)
    parser.add_argument("--folds", type=int, default=3)
    parser.add_argument("--seed", type=int, default=5)
    args = parser.parse_args()
    path = Path(args.shared) / "data" / "marketplace-risk-v1" / "train.jsonl"
    if not path.is_file():
        raise SystemExit(f"shared data absent: {path}")
    rows = load_labeled(path, load_mapping(resolve_mapping_path("marketplace-risk-v1"))).rows
    names = [f"fold{i}" for i in range(args.folds)]
    folds = split_by_seller(rows, fractions=dict.fromkeys(names, 1 / args.folds), seed=args.seed)
    default = load_config()
    without = default.model_copy(
        update={"features": default.features.model_copy(update={"term_groups": {}})}
    )
    for name, config in (("default config", default), ("without term groups", without)):
        print(name, flush=True)
        for label, values in fold_scores(folds, config).items():
            print(f"  {label:<12} AP per fold {values}  mean {np.mean(values):.3f}")


if __name__ == "__main__":
    main()
