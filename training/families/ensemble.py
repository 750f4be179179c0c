"""The ensemble family: the hashed n-grams and the transformer, blended per label, one bundle.

Both members fit on the fit split (the transformer stops early on tune); each label's blend — a
logistic regression on the two members' logits — and the category mix are fitted on the tune
split; calibration and the certified edges on the calibration split: weights and thresholds on
separate splits. The two graphs are merged into one ONNX graph that takes both members' inputs;
reasons are the n-gram member's phrases scaled by its blend weight (which also keeps a
language-agnostic signal where the English-only encoder reads little).
"""

from pathlib import Path
from typing import Any

import numpy as np
import onnx
from onnx import ModelProto, helper, numpy_helper
from sklearn.linear_model import LogisticRegression

from data.schema import LabeledListing
from models.bundle import (
    ENSEMBLE_FAMILY,
    INPUT_NAMES,
    MODEL_FILE,
    OUTPUT_NAMES,
    TOKEN_INPUT_NAMES,
    BlendWeights,
    ModelCard,
)
from models.runner_tokens import run_inputs
from models.scorer import BundleScorer
from models.text_features import FeatureHasher, pad_batch
from training.errors import ParityError, TrainingError
from training.families.hashed import HashedLinearFamily
from training.families.lifecycle import Checked, FamilySplits
from training.families.transformer import TransformerFamily
from training.families.transformer_export import open_session, probability_gap
from training.families.transformer_fit import EVAL_BATCH, EncodedRows
from training.onnx_export import bind_and_write, build_onnx_model

CATEGORY_GRID = np.linspace(0.0, 1.0, 11)


class EnsembleFamily(TransformerFamily):
    name = "ensemble"

    def _fit(self, splits: FamilySplits, checkpoint_dir: Path | None) -> None:
        self.hashed = HashedLinearFamily(self.config, self.taxonomy, self.progress)
        self.hashed.fit(FamilySplits(fit=splits.fit, tune=[], calibration=[]))
        super()._fit(splits, checkpoint_dir)
        if self.hashed.labels != self._labels or list(self.hashed.model.categories_) != list(
            self.categories
        ):
            raise TrainingError("the ensemble's members model different labels or categories")
        tune = splits.tune
        hashed_logits = self.hashed.logits(tune)
        encoder_logits, encoder_categories = self._member_outputs(tune)
        self.weights = _blend_weights(hashed_logits, encoder_logits, tune, self._labels)
        self.category_blend = _category_blend(
            self.hashed.category_probabilities(tune), encoder_categories, self.encode(tune)
        )
        self.progress(
            "blend on the tune split: "
            + ", ".join(
                f"{label} {w.hashed:.2f}*ngrams + {w.transformer:.2f}*transformer"
                for label, w in self.weights.items()
            )
            + f"; categories {self.category_blend:.1f} transformer"
        )
        self.merged = merged_graph(
            build_onnx_model(self.hashed.model),
            self.shipped_graph(),
            [self.weights[label] for label in self._labels],
            self.category_blend,
        )
        merged_path = Path(self._scratch.name) / "ensemble.onnx"
        onnx.save(self.merged, str(merged_path))
        self.merged_session = open_session(merged_path)
        self.hasher = FeatureHasher(self.config.features)

    def merged_outputs(self, rows: list[LabeledListing]) -> tuple[np.ndarray, np.ndarray]:
        """The merged graph's logits and category probabilities: what the bundle ships."""
        logits, categories = [], []
        for start in range(0, len(rows), EVAL_BATCH):
            listings = [row.listing for row in rows[start : start + EVAL_BATCH]]
            inputs = {**pad_batch(self.hasher.transform(listings)), **self.encoder.encode(listings)}
            outputs = run_inputs(
                self.merged_session, list(OUTPUT_NAMES[:2]), inputs, alone=self.int8
            )
            logits.append(outputs[0])
            categories.append(outputs[1])
        return np.vstack(logits), np.vstack(categories)

    def _member_outputs(self, rows: list[LabeledListing]) -> tuple[np.ndarray, np.ndarray]:
        from training.families.transformer_export import session_outputs

        return session_outputs(
            self.shipped_session, self.encode(rows), self.encoder.pad_id, alone=self.int8
        )

    def blended(self, rows: list[LabeledListing]) -> tuple[np.ndarray, np.ndarray]:
        """The ensemble's logits (n, L) and category probabilities (n, C), member by member."""
        return self.model_outputs(rows, self._member_outputs(rows))

    def model_outputs(
        self, rows: list[LabeledListing], member: tuple[np.ndarray, np.ndarray]
    ) -> tuple[np.ndarray, np.ndarray]:
        encoder_logits, encoder_categories = member
        hashed_logits = self.hashed.logits(rows)
        weights = [self.weights[label] for label in self._labels]
        logits = (
            hashed_logits * np.array([w.hashed for w in weights])
            + encoder_logits * np.array([w.transformer for w in weights])
            + np.array([w.bias for w in weights])
        )
        share = self.category_blend
        categories = (1 - share) * self.hashed.category_probabilities(rows) + share * (
            encoder_categories
        )
        return logits, categories

    def logits(self, rows: list[LabeledListing]) -> np.ndarray:
        return self.merged_outputs(rows)[0]

    def ordering_logits(self) -> tuple[list[LabeledListing], np.ndarray]:
        return self.tune_rows, self.logits(self.tune_rows)

    def card_fields(self) -> dict[str, Any]:
        return {
            "model_family": ENSEMBLE_FAMILY,
            "labels": self.labels,
            "regulated_categories": self.categories,
            "input_names": list(INPUT_NAMES + TOKEN_INPUT_NAMES),
            "output_names": list(OUTPUT_NAMES),
            "ensemble": self.weights,
            "category_blend": self.category_blend,
        }

    def _export(self, bundle_dir: Path, card: ModelCard) -> ModelCard:
        card = card.model_copy(update={"encoder": self.encoder_spec(bundle_dir)})
        return bind_and_write(self.merged, card, bundle_dir / MODEL_FILE)

    def expected_outputs(
        self, rows: list[LabeledListing], encoded: EncodedRows
    ) -> tuple[np.ndarray, np.ndarray]:
        return self.merged_outputs(rows)

    def _check(self, scorer: BundleScorer, rows: list[LabeledListing], split: str) -> Checked:
        """The transformer member's checks, the bundle against the merged graph, and the merged
        graph against the blend of the members computed outside it — scikit-learn's n-gram
        logits and the transformer's graph — within the parity tolerance when fp32 ships; an
        int8 member is fused differently inside the merged graph by onnxruntime, so with int8
        the gap is held to the int8 probability budget instead. The card's parity is the larger
        of the two checks."""
        checked = super()._check(scorer, rows, split)
        assert self.calibrated is not None
        maps = [self.calibrated.calibration[label] for label in self.labels]
        gap = probability_gap(self.merged_outputs(rows), self.blended(rows), maps)
        params = self.config.transformer
        tolerance = params.int8_max_probability_diff if self.int8 else params.parity_tolerance
        if gap > tolerance:
            raise ParityError(
                f"the merged ensemble graph differs from its members' blend by {gap:.3g} "
                f"(tolerance {tolerance:g}) on {len(rows)} {split} rows"
            )
        self.progress(f"merged graph vs the members' blend: max probability difference {gap:.2e}")
        worst = max(gap, checked.parity.max_abs_probability_diff)
        parity = checked.parity.model_copy(
            update={"max_abs_probability_diff": worst, "tolerance": tolerance}
        )
        return Checked(parity=parity, quantization=checked.quantization)


def _blend_weights(
    hashed: np.ndarray, encoder: np.ndarray, rows: list[LabeledListing], labels: list[str]
) -> dict[str, BlendWeights]:
    weights = {}
    for column, label in enumerate(labels):
        values = [row.labels.value(label) for row in rows]
        known = np.array([value is not None for value in values])
        y = np.array([value or 0 for value in values])[known]
        if len(set(y.tolist())) < 2:
            raise TrainingError(
                f"the tune split holds a single class of {label}: cannot fit the blend "
                "(raise transformer.tune_fraction)"
            )
        features = np.column_stack([hashed[known, column], encoder[known, column]])
        fitted = LogisticRegression(C=1.0, max_iter=1000).fit(features, y)
        weights[label] = BlendWeights(
            hashed=float(fitted.coef_[0, 0]),
            transformer=float(fitted.coef_[0, 1]),
            bias=float(fitted.intercept_[0]),
        )
    return weights


def _category_blend(hashed: np.ndarray, encoder: np.ndarray, encoded: EncodedRows) -> float:
    """The transformer's share of the category mix with the lowest tune-split log loss."""
    picked = encoded.category >= 0
    if hashed.shape[1] == 0 or not picked.any():
        return 0.5
    truth = encoded.category[picked]
    losses = []
    for share in CATEGORY_GRID:
        mixed = (1 - share) * hashed[picked] + share * encoder[picked]
        losses.append(-np.log(np.clip(mixed[np.arange(len(truth)), truth], 1e-12, 1)).mean())
    return float(CATEGORY_GRID[int(np.argmin(losses))])


def merged_graph(
    hashed: ModelProto,
    transformer: ModelProto,
    weights: list[BlendWeights],
    category_blend: float,
) -> ModelProto:
    """One graph: both members side by side (prefixed), then the blend of their outputs."""
    h = onnx.compose.add_prefix(hashed, "ngrams/", rename_inputs=False)
    t = onnx.compose.add_prefix(transformer, "encoder/", rename_inputs=False)
    constants = {
        "blend/hashed": np.array([w.hashed for w in weights], np.float32),
        "blend/transformer": np.array([w.transformer for w in weights], np.float32),
        "blend/bias": np.array([w.bias for w in weights], np.float32),
        "blend/category_hashed": np.array(1.0 - category_blend, np.float32),
        "blend/category_transformer": np.array(category_blend, np.float32),
    }
    node = helper.make_node
    blend = [
        node("Mul", ["ngrams/risk_logits", "blend/hashed"], ["blend/h"]),
        node("Mul", ["encoder/risk_logits", "blend/transformer"], ["blend/t"]),
        node("Add", ["blend/h", "blend/t"], ["blend/sum"]),
        node("Add", ["blend/sum", "blend/bias"], ["risk_logits"]),
        node("Mul", ["ngrams/category_probabilities", "blend/category_hashed"], ["blend/ch"]),
        node("Mul", ["encoder/category_probabilities", "blend/category_transformer"], ["blend/ct"]),
        node("Add", ["blend/ch", "blend/ct"], ["category_probabilities"]),
        node("Mul", ["ngrams/contributions", "blend/hashed"], ["contributions"]),
    ]
    n_labels = len(weights)
    n_categories = hashed.graph.output[1].type.tensor_type.shape.dim[1].dim_value
    outputs = [
        helper.make_tensor_value_info("risk_logits", onnx.TensorProto.FLOAT, ["batch", n_labels]),
        helper.make_tensor_value_info(
            "category_probabilities", onnx.TensorProto.FLOAT, ["batch", n_categories]
        ),
        helper.make_tensor_value_info(
            "contributions", onnx.TensorProto.FLOAT, ["batch", "features", n_labels]
        ),
    ]
    graph = helper.make_graph(
        list(h.graph.node) + list(t.graph.node) + blend,
        "listingguard_ensemble",
        list(h.graph.input) + list(t.graph.input),
        outputs,
        list(h.graph.initializer)
        + list(t.graph.initializer)
        + [numpy_helper.from_array(value, name) for name, value in constants.items()],
    )
    opsets: dict[str, int] = {}
    for model in (h, t):
        for entry in model.opset_import:
            opsets[entry.domain] = max(opsets.get(entry.domain, 0), entry.version)
    merged = helper.make_model(
        graph, opset_imports=[helper.make_opsetid(domain, v) for domain, v in opsets.items()]
    )
    merged.ir_version = max(h.ir_version, t.ir_version)
    onnx.checker.check_model(merged)
    return merged
