"""The ensemble family: the hashed n-grams and the transformer, one head per label, one bundle.

Both members fit on the fit split (the transformer stops early on tune). Each label's head is a
blend of the two members' logits or one joint logistic regression over the n-grams and the
fine-tuned pooled embedding (:mod:`training.families.ensemble_heads`: both linear in the two,
chosen per label on the tune split); the category mix is fitted on tune; calibration and the
certified edges on the calibration split: weights and thresholds on separate splits. The two
graphs are merged into one ONNX graph that takes both members' inputs; reasons are the n-gram
part's phrase contributions to the logit (which also keeps a language-agnostic signal where the
English-only encoder reads little).
"""

import copy
from pathlib import Path
from typing import Any

import numpy as np
import onnx
from onnx import ModelProto, helper, numpy_helper

from data.schema import LabeledListing
from models.bundle import (
    ENSEMBLE_FAMILY,
    INPUT_NAMES,
    MODEL_FILE,
    OUTPUT_NAMES,
    TOKEN_INPUT_NAMES,
    ModelCard,
)
from models.runner_tokens import run_inputs
from models.scorer import BundleScorer
from models.text_features import FeatureHasher, pad_batch
from training.baseline import HashedLinearModel
from training.errors import ParityError, TrainingError
from training.families.ensemble_heads import EncoderHead, LinearHeads, SplitFeatures, fit_heads
from training.families.hashed import HashedLinearFamily
from training.families.lifecycle import Checked, FamilySplits
from training.families.transformer import TransformerFamily
from training.families.transformer_export import (
    POOLED_OUTPUT,
    load_graph,
    open_session,
    pooled_tensor,
    probability_gap,
    session_arrays,
    with_pooled_output,
)
from training.families.transformer_fit import EVAL_BATCH, EncodedRows
from training.onnx_export import bind_and_write, build_onnx_model
from training.row_weights import row_weights

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
        hidden = int(self.torch_model.encoder.config.hidden_size)
        self.encoder_graph = with_pooled_output(
            self.shipped_graph(), pooled_tensor(load_graph(self.fp32_path)), hidden
        )
        pooled_path = Path(self._scratch.name) / "encoder.pooled.onnx"
        onnx.save(self.encoder_graph, str(pooled_path))
        self.pooled_session = open_session(pooled_path)
        tune_risk, tune_categories, tune_pooled = self._encoder_outputs(splits.tune)
        joint = self.config.ensemble.head != "blend"
        if joint:
            self.progress(f"pooled embeddings of the {len(splits.fit)} fit rows for joint heads")
        fit_pooled = (
            self._encoder_outputs(splits.fit)[2] if joint else np.zeros((len(splits.fit), hidden))
        )
        model = self.hashed.model
        risk = self.torch_model.risk
        self.heads = fit_heads(
            model,
            EncoderHead(
                weight=risk.weight.detach().cpu().numpy().astype(np.float64),
                bias=risk.bias.detach().cpu().numpy().astype(np.float64),
            ),
            SplitFeatures(
                model.matrix(splits.fit),
                fit_pooled,
                splits.fit,
                row_weights(splits.fit, self.config.weights, capped=True),
            ),
            SplitFeatures(
                model.matrix(splits.tune),
                tune_pooled,
                splits.tune,
                row_weights(splits.tune, self.config.weights, capped=True),
            ),
            tune_risk,
            self.config.ensemble,
            class_weight=self.config.model.class_weight,
            seed=self.config.seed,
            progress=self.progress,
        )
        tune_encoded = self.encode(splits.tune)
        self.category_blend = _category_blend(
            self.hashed.category_probabilities(splits.tune), tune_categories, tune_encoded
        )
        self.progress(
            "heads: "
            + ", ".join(
                f"{label} {'joint' if label in self.heads.joints else 'blend'}"
                for label in self._labels
            )
            + f"; categories {self.category_blend:.1f} transformer"
        )
        self.merged = merged_graph(
            build_onnx_model(ngram_part(model, self.heads)),
            self.encoder_graph,
            self.heads.embedding,
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

    def _encoder_outputs(self, rows: list[LabeledListing]) -> list[np.ndarray]:
        """The encoder graph's risk logits, category probabilities and pooled embeddings."""
        names = [*OUTPUT_NAMES[:2], POOLED_OUTPUT]
        return session_arrays(
            self.pooled_session, names, self.encode(rows), self.encoder.pad_id, alone=self.int8
        )

    def outside_graph(self, rows: list[LabeledListing]) -> tuple[np.ndarray, np.ndarray]:
        """The ensemble's logits (n, L) and category probabilities (n, C) computed outside the
        merged graph: scikit-learn's TF-IDF rows, the encoder graph's pooled embeddings and
        category probabilities, the heads in numpy."""
        _, encoder_categories, pooled = self._encoder_outputs(rows)
        logits = self.heads.logits(self.hashed.model.matrix(rows), pooled)
        share = self.category_blend
        categories = (1 - share) * self.hashed.category_probabilities(rows) + share * (
            encoder_categories
        )
        return logits, categories

    def logits(self, rows: list[LabeledListing]) -> np.ndarray:
        return self.merged_outputs(rows)[0]

    def ordering_logits(self) -> tuple[list[LabeledListing], np.ndarray]:
        return self.tune_rows, self.logits(self.tune_rows)

    def training_record(self) -> dict[str, Any]:
        return {
            **super().training_record(),
            "ensemble_heads": self.heads.tune_average_precision,
        }

    def card_fields(self) -> dict[str, Any]:
        return {
            "model_family": ENSEMBLE_FAMILY,
            "labels": self.labels,
            "regulated_categories": self.categories,
            "input_names": list(INPUT_NAMES + TOKEN_INPUT_NAMES),
            "output_names": list(OUTPUT_NAMES),
            "ensemble": self.heads.blends,
            "joint_heads": self.heads.joints or None,
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
        graph against the heads computed outside it (:meth:`outside_graph`) within the parity
        tolerance when fp32 ships; an int8 member is fused differently inside the merged graph
        by onnxruntime, so with int8 the gap is held to the int8 probability budget instead.
        The card's parity is the larger of the two checks."""
        checked = super()._check(scorer, rows, split)
        assert self.calibrated is not None
        maps = [self.calibrated.calibration[label] for label in self.labels]
        gap = probability_gap(self.merged_outputs(rows), self.outside_graph(rows), maps)
        params = self.config.transformer
        tolerance = params.int8_max_probability_diff if self.int8 else params.parity_tolerance
        if gap > tolerance:
            raise ParityError(
                f"the merged ensemble graph differs from its heads computed outside it by "
                f"{gap:.3g} (tolerance {tolerance:g}) on {len(rows)} {split} rows"
            )
        self.progress(f"merged graph vs the heads outside it: max probability difference {gap:.2e}")
        worst = max(gap, checked.parity.max_abs_probability_diff)
        parity = checked.parity.model_copy(
            update={"max_abs_probability_diff": worst, "tolerance": tolerance}
        )
        return Checked(parity=parity, quantization=checked.quantization)


def ngram_part(model: HashedLinearModel, heads: LinearHeads) -> HashedLinearModel:
    """The n-gram member with the heads' n-gram coefficients and intercepts (the category head
    unchanged): the graph of the n-gram part of every label's logit."""
    part = copy.copy(model)
    part.coef_, part.intercept_ = heads.ngram_coef, heads.intercept
    return part


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
    ngrams: ModelProto,
    encoder: ModelProto,
    embedding: np.ndarray,
    category_blend: float,
) -> ModelProto:
    """One graph: both members side by side (prefixed), then each label's logit as the n-gram
    part plus ``pooled @ embedding``, and the category mix."""
    h = onnx.compose.add_prefix(ngrams, "ngrams/", rename_inputs=False)
    t = onnx.compose.add_prefix(encoder, "encoder/", rename_inputs=False)
    constants = {
        "blend/embedding": embedding.astype(np.float32),
        "blend/category_hashed": np.array(1.0 - category_blend, np.float32),
        "blend/category_transformer": np.array(category_blend, np.float32),
    }
    node = helper.make_node
    blend = [
        node("MatMul", [f"encoder/{POOLED_OUTPUT}", "blend/embedding"], ["blend/e"]),
        node("Add", ["ngrams/risk_logits", "blend/e"], ["risk_logits"]),
        node("Mul", ["ngrams/category_probabilities", "blend/category_hashed"], ["blend/ch"]),
        node("Mul", ["encoder/category_probabilities", "blend/category_transformer"], ["blend/ct"]),
        node("Add", ["blend/ch", "blend/ct"], ["category_probabilities"]),
        node("Identity", ["ngrams/contributions"], ["contributions"]),
    ]
    n_labels = embedding.shape[1]
    n_categories = ngrams.graph.output[1].type.tensor_type.shape.dim[1].dim_value
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
