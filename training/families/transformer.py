"""The transformer family: a fine-tuned encoder with a multi-label risk head and a category head.

Splits the training rows by seller into fit / tune / calibration: fine-tuning on fit, early
stopping on tune, calibration and certified edges on calibration (no cross-fitting: an epoch
costs minutes). ``fit`` also compiles the model that ships — ONNX fp32, and int8 where it stays
within its budget on the tune split (``transformer.quantize``) — so calibration and the edges are
fitted on the shipped graph's scores. Serving reads it with onnxruntime and ``tokenizers`` only.
"""

import hashlib
import json
import shutil
import tempfile
from pathlib import Path
from typing import Any

import numpy as np
from onnx import ModelProto

from data.schema import LabeledListing
from data.splits import split_by_seller
from models.bundle import (
    MODEL_FILE,
    OUTPUT_NAMES,
    TOKEN_INPUT_NAMES,
    TOKENIZER_FILE,
    TRANSFORMER_FAMILY,
    EncoderSpec,
    ModelCard,
    ParityCheck,
    QuantizationCheck,
)
from models.calibration import PlattMap
from models.scorer import BundleScorer
from models.token_text import TokenEncoder
from training.calibration_fit import fit_platt
from training.errors import ParityError, TrainingError
from training.families.hashed import carried_stratify_labels
from training.families.lifecycle import Checked, FamilySplits, ModelFamily
from training.families.transformer_export import (
    export_fp32,
    load_graph,
    open_session,
    probability_gap,
    quantization_check,
    quantize_int8,
    session_outputs,
)
from training.families.transformer_fit import (
    EncodedRows,
    FineTuner,
    encode_rows,
    model_logits,
)
from training.families.transformer_model import encoder_folder, tokenizer_file
from training.onnx_export import bind_and_write
from training.row_weights import row_weights

BUNDLE_GRAPH_TOLERANCE = 1e-5
"""The written bundle against the in-memory copy of the same graph: float rounding only."""


class TransformerFamily(ModelFamily):
    name = "transformer"

    def split(self, rows: list[LabeledListing]) -> FamilySplits:
        calibration = self.config.calibration_fraction
        tune = self.config.transformer.tune_fraction
        if calibration + tune >= 0.9:
            raise TrainingError(
                f"calibration_fraction {calibration} + transformer.tune_fraction {tune} leave "
                "too little to fit on"
            )
        parts = split_by_seller(
            rows,
            fractions={"fit": 1.0 - calibration - tune, "tune": tune, "calibration": calibration},
            seed=self.config.seed,
            stratify_labels=carried_stratify_labels(rows, self.taxonomy),
        )
        empty = [name for name in ("fit", "tune", "calibration") if not parts[name]]
        if empty:
            raise TrainingError(
                f"the {' and '.join(empty)} split is empty: too few sellers "
                f"({len(rows)} rows) for fit / tune / calibration"
            )
        return FamilySplits(fit=parts["fit"], tune=parts["tune"], calibration=parts["calibration"])

    # -- fit: fine-tune, then compile the shipped graph -------------------------------------
    def _fit(self, splits: FamilySplits, checkpoint_dir: Path | None) -> None:
        params = self.config.transformer
        self._scratch = tempfile.TemporaryDirectory(prefix="listingguard-transformer-")
        scratch = Path(self._scratch.name)
        self.folder = encoder_folder(params.encoder)
        self.tokenizer_path = tokenizer_file(self.folder, scratch)
        self.encoder = TokenEncoder(
            self.tokenizer_path, max_length=params.max_length, feature_spec=self.config.features
        )
        _check_token_limit(self.folder, params.max_length)
        self._labels, self.categories = _labels_and_categories(splits.fit, self.taxonomy)
        self.tune_rows, self.calibration_rows = splits.tune, splits.calibration
        fit, tune = self.encode(splits.fit), self.encode(splits.tune)
        self.progress(
            f"fine-tuning {self.folder.name} on {len(fit.ids)} rows "
            f"({', '.join(self._labels)}; {len(self.categories)} categories), early stopping on "
            f"{len(tune.ids)} tune rows"
        )
        tuner = FineTuner(
            params,
            seed=self.config.seed,
            folder=self.folder,
            labels=self._labels,
            categories=self.categories,
            pad_id=self.encoder.pad_id,
            progress=self.progress,
        )
        fit_weights = row_weights(splits.fit, self.config.weights, capped=True)
        key = tuner.run_key(splits.fit, splits.tune, self.config.features, fit_weights)
        self.fine_tuning: dict[str, Any] = {"checkpoint_key": key}
        self.torch_model = tuner.train(
            fit,
            tune,
            key=key,
            checkpoint_dir=checkpoint_dir / key if checkpoint_dir else None,
            fit_weights=fit_weights,
        )
        self.fine_tuning.update(
            {"steps": tuner.steps, "seconds": round(tuner.seconds, 1), "history": tuner.history}
        )
        self.fp32_path = scratch / "model.fp32.onnx"
        export_fp32(self.torch_model, self.fp32_path, self.encoder.pad_id, fit.ids[:2])
        self.fp32_session = open_session(self.fp32_path)
        self.shipped_path, self.shipped_session = self.fp32_path, self.fp32_session
        self.quantization: QuantizationCheck | None = None
        if params.quantize != "none":
            self._quantize(scratch, tune)
        self.progress(
            f"compiled ONNX: fp32 {self.fp32_path.stat().st_size / 1e6:.1f} MB; shipping "
            f"{'int8' if self.int8 else 'fp32'} ({self.shipped_path.stat().st_size / 1e6:.1f} MB)"
        )

    def _quantize(self, scratch: Path, tune: EncodedRows) -> None:
        """int8 against fp32 on the tune split; the int8 graph ships only within its budget."""
        params = self.config.transformer
        int8_path = scratch / "model.int8.onnx"
        quantize_int8(self.fp32_path, int8_path)
        int8_session = open_session(int8_path)
        pad = self.encoder.pad_id
        fp32 = session_outputs(self.fp32_session, tune, pad, alone=False)
        maps = [
            _platt_or_identity(fp32[0][tune.known[:, c], c], tune.y[tune.known[:, c], c])
            for c in range(len(self._labels))
        ]
        self.quantization = quantization_check(
            fp32,
            session_outputs(int8_session, tune, pad, alone=True),
            tune,
            labels=self._labels,
            calibration=maps,
            budget_probability=params.int8_max_probability_diff,
            budget_pr_auc=params.int8_max_pr_auc_loss,
            split="tune",
            strict=params.quantize == "int8",
        )
        verdict = (
            "within budget: int8 ships"
            if self.quantization.weights == "int8"
            else "outside the budget: fp32 ships"
        )
        self.progress(
            f"int8 vs fp32 on {self.quantization.rows_checked} tune rows: max probability "
            f"difference {self.quantization.max_abs_probability_diff:.4f} (budget "
            f"{params.int8_max_probability_diff:g}), largest PR-AUC loss "
            f"{max(self.quantization.pr_auc_loss.values(), default=0.0):.4f} (budget "
            f"{params.int8_max_pr_auc_loss:g}): {verdict}"
        )
        if self.quantization.weights == "int8":
            self.shipped_path, self.shipped_session = int8_path, int8_session

    def encode(self, rows: list[LabeledListing]) -> EncodedRows:
        return encode_rows(self.encoder, rows, self._labels, self.categories)

    @property
    def labels(self) -> list[str]:
        return self._labels

    @property
    def int8(self) -> bool:
        """Whether the shipped graph is the int8 one (decided in fit)."""
        return self.quantization is not None and self.quantization.weights == "int8"

    def logits(self, rows: list[LabeledListing]) -> np.ndarray:
        return session_outputs(
            self.shipped_session, self.encode(rows), self.encoder.pad_id, alone=self.int8
        )[0]

    def ordering_logits(self) -> tuple[list[LabeledListing], np.ndarray]:
        """The tune split: out of the fine-tuning fit (no cross-fitting of the transformer)."""
        return self.tune_rows, self.logits(self.tune_rows)

    def training_record(self) -> dict[str, Any]:
        return {"fine_tuning": self.fine_tuning}

    def card_fields(self) -> dict[str, Any]:
        return {
            "model_family": TRANSFORMER_FAMILY,
            "labels": self.labels,
            "regulated_categories": self.categories,
            "input_names": list(TOKEN_INPUT_NAMES),
            "output_names": list(OUTPUT_NAMES[:2]),
        }

    # -- export and check --------------------------------------------------------------------
    def encoder_spec(self, bundle_dir: Path) -> EncoderSpec:
        target = bundle_dir / TOKENIZER_FILE
        shutil.copyfile(self.tokenizer_path, target)
        return EncoderSpec(
            base_model=self.folder.name,
            tokenizer_sha256=hashlib.sha256(target.read_bytes()).hexdigest(),
            max_length=self.config.transformer.max_length,
            weights="int8" if self.int8 else "fp32",
            english_only=self.config.transformer.encoder is None,
        )

    def shipped_graph(self) -> ModelProto:
        return load_graph(self.shipped_path)

    def _export(self, bundle_dir: Path, card: ModelCard) -> ModelCard:
        card = card.model_copy(update={"encoder": self.encoder_spec(bundle_dir)})
        return bind_and_write(self.shipped_graph(), card, bundle_dir / MODEL_FILE)

    def _check(self, scorer: BundleScorer, rows: list[LabeledListing], split: str) -> Checked:
        assert self.calibrated is not None
        maps = [self.calibrated.calibration[label] for label in self.labels]
        params = self.config.transformer
        encoded = self.encode(rows)
        pad = self.encoder.pad_id
        torch_risk, torch_category = model_logits(self.torch_model, encoded, pad, self.torch_device)
        torch_outputs = (torch_risk, _softmax(torch_category))
        fp32 = session_outputs(self.fp32_session, encoded, pad, alone=False)
        gap = probability_gap(torch_outputs, fp32, maps)
        if gap > params.parity_tolerance:
            raise ParityError(
                f"the fp32 ONNX graph differs from the torch model by {gap:.3g} "
                f"(tolerance {params.parity_tolerance:g}) on {len(rows)} {split} rows"
            )
        self.check_bundle(scorer, rows, self.expected_outputs(rows, encoded), maps)
        parity = ParityCheck(
            max_abs_probability_diff=gap,
            rows_checked=len(rows),
            tolerance=params.parity_tolerance,
            split=split,
        )
        return Checked(parity=parity, quantization=self.quantization)

    @property
    def torch_device(self) -> Any:
        return next(self.torch_model.parameters()).device

    def expected_outputs(
        self, rows: list[LabeledListing], encoded: EncodedRows
    ) -> tuple[np.ndarray, np.ndarray]:
        """What the written bundle must reproduce: the in-memory shipped graph's outputs."""
        return session_outputs(self.shipped_session, encoded, self.encoder.pad_id, alone=self.int8)

    def check_bundle(
        self,
        scorer: BundleScorer,
        rows: list[LabeledListing],
        expected: tuple[np.ndarray, np.ndarray],
        maps: list[Any],
    ) -> None:
        served = scorer.predict_logits([row.listing for row in rows])
        gap = probability_gap(expected, served, maps)
        if gap > BUNDLE_GRAPH_TOLERANCE:
            raise ParityError(
                f"the written bundle differs from the in-memory model by {gap:.3g} "
                f"(tolerance {BUNDLE_GRAPH_TOLERANCE:g}) on {len(rows)} rows"
            )


def _check_token_limit(folder: Path, max_length: int) -> None:
    config = json.loads((folder / "config.json").read_text(encoding="utf-8"))
    limit = config.get("max_position_embeddings")
    if isinstance(limit, int) and max_length > limit:
        raise TrainingError(
            f"transformer.max_length {max_length} exceeds the encoder's "
            f"max_position_embeddings {limit} ({folder / 'config.json'})"
        )


def _platt_or_identity(logits: np.ndarray, y_true: np.ndarray) -> PlattMap:
    """A Platt map of one label on the tune split (identity where it cannot be fitted)."""
    try:
        fitted = fit_platt(logits, y_true)
    except TrainingError:
        return PlattMap(slope=1.0, intercept=0.0)
    return fitted if fitted.slope > 0 else PlattMap(slope=1.0, intercept=0.0)


def _softmax(logits: np.ndarray) -> np.ndarray:
    if logits.shape[1] == 0:
        return logits
    shifted = np.exp(logits - logits.max(axis=1, keepdims=True))
    result: np.ndarray = shifted / shifted.sum(axis=1, keepdims=True)
    return result


def _labels_and_categories(
    rows: list[LabeledListing], taxonomy: Any
) -> tuple[list[str], list[str]]:
    """The same rule as the baseline: labels carried and known with both classes, in taxonomy
    order; categories seen (two at least) when their label is modelled."""
    labels = []
    for label in taxonomy.label_names:
        values = {row.labels.value(label) for row in rows} - {None}
        if values == {0, 1}:
            labels.append(label)
        elif values:
            raise TrainingError(f"label {label!r} has a single class in the training data")
    if not labels:
        raise TrainingError("every label is unknown in the training data")
    seen = {row.labels.category for row in rows if row.labels.category is not None}
    categories = [name for name in taxonomy.categories if name in seen]
    if taxonomy.category_label not in labels or len(categories) < 2:
        categories = []
    return labels, categories
