"""Export the baseline as a small ONNX graph (Gather + ReduceSum) and check its parity.

The graph reproduces :mod:`training.feature_matrix` and the linear heads exactly (up to float32
rounding): IDF weighting, block-wise L2 normalization, per-label logits, category softmax and the
per-feature contributions serving turns into reasons.
"""

import hashlib
import json
from pathlib import Path

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

from data.schema import LabeledListing
from models.bundle import INPUT_NAMES, OUTPUT_NAMES, ModelCard, ParityCheck
from models.bundle_binding import FINGERPRINT_KEY, card_fingerprint
from models.calibration import PlattMap, calibrate_logits
from models.scorer import BundleScorer
from training.baseline import HashedLinearModel
from training.errors import ParityError
from training.feature_matrix import NORM_EPSILON
from training.progress import Echo, StepProgress

OPSET = 17
PARITY_TOLERANCE = 1e-5


def build_onnx_model(model: HashedLinearModel) -> onnx.ModelProto:
    """The scoring graph of a fitted model; see the module docstring."""
    n_labels = len(model.labels_)
    n_total = n_labels + len(model.categories_)
    weights = np.column_stack([model.coef_, model.category_coef_]).astype(np.float32)
    bias = np.concatenate([model.intercept_, model.category_intercept_]).astype(np.float32)
    initializers = [
        numpy_helper.from_array(model.idf_.astype(np.float32), "idf"),
        numpy_helper.from_array(weights, "weights"),
        numpy_helper.from_array(bias, "bias"),
        numpy_helper.from_array(np.array(model.spec.n_blocks, dtype=np.int64), "n_blocks"),
        numpy_helper.from_array(np.array([0.0, 1.0], dtype=np.float32), "one_hot_values"),
        numpy_helper.from_array(np.array(NORM_EPSILON, dtype=np.float32), "epsilon"),
        numpy_helper.from_array(np.array([1], dtype=np.int64), "axis_1"),
        numpy_helper.from_array(np.array([2], dtype=np.int64), "axis_2"),
        numpy_helper.from_array(np.array([0], dtype=np.int64), "zero"),
        numpy_helper.from_array(np.array([n_labels], dtype=np.int64), "n_labels"),
        numpy_helper.from_array(np.array([n_total], dtype=np.int64), "n_total"),
    ]
    graph = helper.make_graph(
        _nodes(),
        "listingguard_hashed_linear",
        _inputs(),
        _outputs(n_labels, n_total - n_labels),
        initializers,
    )
    onnx_model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", OPSET)])
    onnx_model.ir_version = 8
    onnx.checker.check_model(onnx_model)
    return onnx_model


def _inputs() -> list[onnx.ValueInfoProto]:
    types = (TensorProto.INT64, TensorProto.FLOAT, TensorProto.INT64)
    return [
        helper.make_tensor_value_info(name, kind, ["batch", "features"])
        for name, kind in zip(INPUT_NAMES, types, strict=True)
    ]


def _outputs(n_labels: int, n_categories: int) -> list[onnx.ValueInfoProto]:
    shapes: tuple[list[str | int | None], ...] = (
        ["batch", n_labels],
        ["batch", n_categories],
        ["batch", "features", n_labels],
    )
    return [
        helper.make_tensor_value_info(name, TensorProto.FLOAT, shape)
        for name, shape in zip(OUTPUT_NAMES, shapes, strict=True)
    ]


def _nodes() -> list[onnx.NodeProto]:
    node = helper.make_node
    return [
        node("Gather", ["idf", "feature_ids"], ["idf_of_feature"]),
        node("Mul", ["feature_counts", "idf_of_feature"], ["tfidf"]),
        node("OneHot", ["feature_blocks", "n_blocks", "one_hot_values"], ["block_mask"], axis=-1),
        node("Mul", ["tfidf", "tfidf"], ["tfidf_squared"]),
        node("Unsqueeze", ["tfidf_squared", "axis_2"], ["tfidf_squared_3d"]),
        node("Mul", ["tfidf_squared_3d", "block_mask"], ["squared_by_block"]),
        node("ReduceSum", ["squared_by_block", "axis_1"], ["block_sum"], keepdims=1),
        node("Max", ["block_sum", "epsilon"], ["block_sum_safe"]),
        node("Sqrt", ["block_sum_safe"], ["block_norm"]),
        node("Mul", ["block_mask", "block_norm"], ["norm_by_block"]),
        node("ReduceSum", ["norm_by_block", "axis_2"], ["feature_norm"], keepdims=0),
        node("Div", ["tfidf", "feature_norm"], ["normalized"]),
        node("Unsqueeze", ["normalized", "axis_2"], ["normalized_3d"]),
        node("Gather", ["weights", "feature_ids"], ["feature_weights"]),
        node("Mul", ["feature_weights", "normalized_3d"], ["all_contributions"]),
        node("ReduceSum", ["all_contributions", "axis_1"], ["summed"], keepdims=0),
        node("Add", ["summed", "bias"], ["all_logits"]),
        node("Slice", ["all_logits", "zero", "n_labels", "axis_1"], ["risk_logits"]),
        node("Slice", ["all_logits", "n_labels", "n_total", "axis_1"], ["category_logits"]),
        node("Softmax", ["category_logits"], ["category_probabilities"], axis=1),
        node("Slice", ["all_contributions", "zero", "n_labels", "axis_2"], ["contributions"]),
    ]


def check_parity(
    model: HashedLinearModel,
    calibration: dict[str, PlattMap],
    scorer: BundleScorer,
    rows: list[LabeledListing],
    *,
    split: str,
    tolerance: float = PARITY_TOLERANCE,
    batch_size: int = 512,
    progress: Echo | None = None,
) -> ParityCheck:
    """Largest |ONNX - scikit-learn| over calibrated and category probabilities of ``rows``.

    Raises :class:`ParityError` above ``tolerance``.
    """
    maps = [calibration[label] for label in model.labels_]
    worst = 0.0
    checking = StepProgress(progress or (lambda message: None), "parity check", len(rows))
    for start in range(0, len(rows), batch_size):
        batch = rows[start : start + batch_size]
        features = model.matrix(batch)
        expected = calibrate_logits(model.decision_function(features), maps)
        expected_categories = model.category_probabilities(features)
        logits, categories = scorer.predict_logits([row.listing for row in batch])
        worst = max(
            worst,
            float(np.abs(calibrate_logits(logits, maps) - expected).max(initial=0.0)),
            float(np.abs(categories - expected_categories).max(initial=0.0)),
        )
        checking.advance(len(batch))
    if worst > tolerance:
        raise ParityError(
            f"ONNX export differs from the scikit-learn model by {worst:.3g} "
            f"(tolerance {tolerance:g}) on {len(rows)} {split} rows"
        )
    return ParityCheck(
        max_abs_probability_diff=worst, rows_checked=len(rows), tolerance=tolerance, split=split
    )


def bind_and_write(onnx_model: onnx.ModelProto, card: ModelCard, path: Path) -> ModelCard:
    """Write the graph bound to ``card``; the card with its model hash and id set."""
    sha256 = save_bound_onnx(onnx_model, card, path)
    return card.model_copy(
        update={
            "model_sha256": sha256,
            "model_id": f"{card.model_name}-{card.created_at:%Y%m%dT%H%M%SZ}-{sha256[:8]}",
        }
    )


def save_bound_onnx(onnx_model: onnx.ModelProto, card: ModelCard, path: Path) -> str:
    """Write the graph carrying ``card``'s fingerprint in its metadata; its SHA-256.

    Only the bound fields of ``card`` matter here (see :mod:`models.bundle_binding`).
    """
    bound = onnx.ModelProto()
    bound.CopyFrom(onnx_model)
    fingerprint = json.dumps(card_fingerprint(card), sort_keys=True)
    kept = {entry.key: entry.value for entry in bound.metadata_props}
    helper.set_model_props(bound, {**kept, FINGERPRINT_KEY: fingerprint})
    data = bound.SerializeToString()
    path.write_bytes(data)
    return hashlib.sha256(data).hexdigest()
