"""The hashed-linear family, the baseline: hashed n-grams, one logistic regression per label."""

import time
from pathlib import Path
from typing import Any

import numpy as np

from data.schema import LabeledListing
from data.splits import split_by_seller, stratify_labels_of
from models.bundle import HASHED_LINEAR_FAMILY, INPUT_NAMES, MODEL_FILE, OUTPUT_NAMES, ModelCard
from models.scorer import BundleScorer
from training.baseline import HashedLinearModel
from training.errors import TrainingError
from training.families.lifecycle import Checked, FamilySplits, ModelFamily
from training.onnx_export import bind_and_write, build_onnx_model, check_parity
from training.row_weights import row_weights


class HashedLinearFamily(ModelFamily):
    name = "hashed-linear"

    def split(self, rows: list[LabeledListing]) -> FamilySplits:
        fraction = self.config.calibration_fraction
        parts = split_by_seller(
            rows,
            fractions={"fit": 1.0 - fraction, "calibration": fraction},
            seed=self.config.seed,
            stratify_labels=carried_stratify_labels(rows, self.taxonomy),
        )
        return FamilySplits(fit=parts["fit"], tune=[], calibration=parts["calibration"])

    def new_model(self) -> HashedLinearModel:
        params = self.config.model
        return HashedLinearModel(
            self.config.features,
            taxonomy=self.taxonomy,
            c=params.c,
            category_c=params.category_c,
            class_weight=params.class_weight,
            seed=self.config.seed,
        )

    def _fit(self, splits: FamilySplits, checkpoint_dir: Path | None) -> None:
        started = time.perf_counter()
        weights = row_weights(splits.fit, self.config.weights, capped=True)
        self.model = self.new_model().fit(splits.fit, progress=self.progress, sample_weight=weights)
        self.fit_rows = splits.fit
        self.progress(
            f"fitted {', '.join(self.model.labels_)} and {len(self.model.categories_)} "
            f"categories in {time.perf_counter() - started:.1f}s"
        )

    @property
    def labels(self) -> list[str]:
        return list(self.model.labels_)

    def logits(self, rows: list[LabeledListing]) -> np.ndarray:
        return self.model.decision_function(self.model.matrix(rows))

    def category_probabilities(self, rows: list[LabeledListing]) -> np.ndarray:
        return self.model.category_probabilities(self.model.matrix(rows))

    def card_fields(self) -> dict[str, Any]:
        return {
            "model_family": HASHED_LINEAR_FAMILY,
            "labels": self.labels,
            "regulated_categories": list(self.model.categories_),
            "input_names": list(INPUT_NAMES),
            "output_names": list(OUTPUT_NAMES),
        }

    def _export(self, bundle_dir: Path, card: ModelCard) -> ModelCard:
        return bind_and_write(build_onnx_model(self.model), card, bundle_dir / MODEL_FILE)

    def _check(self, scorer: BundleScorer, rows: list[LabeledListing], split: str) -> Checked:
        assert self.calibrated is not None
        parity = check_parity(
            self.model,
            self.calibrated.calibration,
            scorer,
            rows,
            split=split,
            tolerance=self.config.parity_tolerance,
            progress=self.progress,
        )
        return Checked(parity=parity)

    def ordering_logits(self) -> tuple[list[LabeledListing], np.ndarray]:
        """Logits of the fit rows from models fitted on the other half of their sellers.

        They only order the enforce candidates (never the test itself), and out-of-fold scores
        look like the calibration sellers' where in-sample ones are over-confident. A label a
        half cannot fit keeps the in-sample logits of the main model.
        """
        rows = self.fit_rows
        logits = self.logits(rows)
        folds = split_by_seller(rows, fractions={"a": 0.5, "b": 0.5}, seed=self.config.seed + 1)
        position = {id(row): index for index, row in enumerate(rows)}
        for held_out, fitted_on in (("a", "b"), ("b", "a")):
            try:
                weights = row_weights(folds[fitted_on], self.config.weights, capped=True)
                half = self.new_model().fit(folds[fitted_on], sample_weight=weights)
            except TrainingError as error:
                self.progress(f"ordering the enforce candidates in-sample ({error})")
                return rows, self.logits(rows)
            indices = np.array([position[id(row)] for row in folds[held_out]], dtype=np.int64)
            if indices.size == 0:
                continue
            scores = half.decision_function(half.matrix(folds[held_out]))
            for column, label in enumerate(self.labels):
                if label in half.labels_:
                    logits[indices, column] = scores[:, half.labels_.index(label)]
        self.progress("ordered the enforce candidates on out-of-fold scores of the fit split")
        return rows, logits


def carried_stratify_labels(rows: list[LabeledListing], taxonomy: Any) -> list[str]:
    carried = {label for row in rows for label in row.labels.values}
    return [label for label in stratify_labels_of(taxonomy) if label in carried]
