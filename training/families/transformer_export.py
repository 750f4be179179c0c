"""Compile the fine-tuned transformer to ONNX: fp32 (parity with torch) and dynamic int8.

int8 is dynamic per-channel quantization of the weights (onnxruntime ``quantize_dynamic``),
in 7 bits (``reduce_range``): on a CPU without VNNI instructions (AVX2 only) onnxruntime's
8-bit products of uint8 activations and int8 weights saturate — a test bundle measured a
probability difference of 0.74 from fp32 on such a machine with 8-bit weights, within its budget
with 7 —, and a bundle may be served on another machine than the one it was checked on. It
cannot match torch to float rounding, so it carries a budget instead: the largest calibrated-
probability difference and the PR-AUC loss against fp32, both recorded on the card. Which graph
ships is decided before calibration, so it is measured on the tune split (probabilities through
a Platt map fitted there on the fp32 logits); above either budget ``quantize: int8`` fails and
``quantize: auto`` ships fp32.
"""

import logging
import os
import warnings
from pathlib import Path

import numpy as np
import onnx
import onnxruntime as ort
import torch
from sklearn.metrics import average_precision_score

from models.bundle import OUTPUT_NAMES, TOKEN_INPUT_NAMES, QuantizationCheck
from models.calibration import PlattMap, calibrate_logits
from models.runner_tokens import run_inputs
from training.errors import ParityError
from training.families.transformer_fit import EVAL_BATCH, EncodedRows, padded
from training.families.transformer_model import ExportedGraph, RiskEncoder

OPSET = 17


def export_fp32(
    model: RiskEncoder, path: Path, pad_id: int, sample: list[np.ndarray] | None = None
) -> None:
    """``torch.onnx.export`` (TorchScript exporter, opset 17) with dynamic batch and length;
    ``sample``: token ids of two texts of the encoder's own vocabulary to trace with."""
    graph = ExportedGraph(model.cpu()).eval()
    ids = sample or [np.array([pad_id, pad_id, pad_id]), np.array([pad_id, pad_id])]
    tokens, mask = padded(ids[:2], pad_id)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        torch.onnx.export(
            graph,
            (tokens, mask),
            str(path),
            input_names=list(TOKEN_INPUT_NAMES),
            output_names=list(OUTPUT_NAMES[:2]),
            dynamic_axes={
                "input_ids": {0: "batch", 1: "tokens"},
                "attention_mask": {0: "batch", 1: "tokens"},
                "risk_logits": {0: "batch"},
                "category_probabilities": {0: "batch"},
            },
            opset_version=OPSET,
            dynamo=False,
        )


def quantize_int8(fp32_path: Path, int8_path: Path) -> None:
    """Dynamic per-channel int8 of the encoder's matrix products; the two small heads stay fp32
    (they hold a few thousand weights and decide the logits directly)."""
    from onnxruntime.quantization import QuantType, quantize_dynamic

    heads = [
        node.name
        for node in onnx.load(str(fp32_path)).graph.node
        if node.name.startswith(("/model/risk/", "/model/category/"))
    ]
    quiet = logging.getLogger()  # quantize_dynamic advises pre-processing on the root logger
    level = quiet.level
    quiet.setLevel(logging.ERROR)
    try:
        quantize_dynamic(
            str(fp32_path),
            str(int8_path),
            per_channel=True,
            reduce_range=True,
            weight_type=QuantType.QInt8,
            nodes_to_exclude=heads,
        )
    finally:
        quiet.setLevel(level)


def open_session(path: Path) -> ort.InferenceSession:
    options = ort.SessionOptions()
    options.intra_op_num_threads = min(4, os.cpu_count() or 1)
    options.log_severity_level = 3
    return ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])


def session_outputs(
    session: ort.InferenceSession, encoded: EncodedRows, pad_id: int, *, alone: bool
) -> tuple[np.ndarray, np.ndarray]:
    """Risk logits (n, L) and category probabilities (n, C) of an ONNX session; ``alone`` runs
    each row by itself, as serving runs an int8 graph."""
    risk, category = session_arrays(session, list(OUTPUT_NAMES[:2]), encoded, pad_id, alone=alone)
    return risk, category


def session_arrays(
    session: ort.InferenceSession,
    names: list[str],
    encoded: EncodedRows,
    pad_id: int,
    *,
    alone: bool,
) -> list[np.ndarray]:
    """The named outputs of an ONNX session over encoded rows, in batches (``alone``: row by
    row)."""
    parts: list[list[np.ndarray]] = []
    for start in range(0, len(encoded.ids), EVAL_BATCH):
        tokens, mask = padded(encoded.ids[start : start + EVAL_BATCH], pad_id)
        inputs = {"input_ids": tokens.numpy(), "attention_mask": mask.numpy()}
        parts.append(run_inputs(session, names, inputs, alone=alone))
    if not parts:
        return [np.zeros((0, 0), np.float32) for _ in names]
    return [np.vstack([part[i] for part in parts]) for i in range(len(names))]


POOLED_OUTPUT = "pooled"
RISK_HEAD_PREFIX = "/model/risk/"


def pooled_tensor(fp32_graph: onnx.ModelProto) -> str:
    """The name of the tensor the risk head reads in the exported fp32 graph: the pooled
    embedding (int8 graphs quantized from it keep the name)."""
    for node in fp32_graph.graph.node:
        if node.name.startswith(RISK_HEAD_PREFIX):
            return str(node.input[0])
    raise ParityError(f"the encoder graph has no {RISK_HEAD_PREFIX} node to read pooled from")


def with_pooled_output(graph: onnx.ModelProto, tensor: str, hidden: int) -> onnx.ModelProto:
    """A copy of an encoder graph that also outputs ``pooled`` (n, hidden): ``tensor``."""
    produced = {name for node in graph.graph.node for name in node.output}
    if tensor not in produced:
        raise ParityError(f"the encoder graph computes no {tensor!r} (the pooled embedding)")
    copy = onnx.ModelProto()
    copy.CopyFrom(graph)
    copy.graph.node.append(
        onnx.helper.make_node("Identity", [tensor], [POOLED_OUTPUT], name="pooled")
    )
    copy.graph.output.append(
        onnx.helper.make_tensor_value_info(POOLED_OUTPUT, onnx.TensorProto.FLOAT, ["batch", hidden])
    )
    return copy


def probability_gap(
    a: tuple[np.ndarray, np.ndarray],
    b: tuple[np.ndarray, np.ndarray],
    calibration: list[PlattMap],
) -> float:
    """Largest |difference| of calibrated risk and category probabilities."""
    risk = np.abs(calibrate_logits(a[0], calibration) - calibrate_logits(b[0], calibration))
    categories = np.abs(a[1] - b[1])
    return float(max(risk.max(initial=0.0), categories.max(initial=0.0)))


def quantization_check(
    fp32: tuple[np.ndarray, np.ndarray],
    int8: tuple[np.ndarray, np.ndarray],
    encoded: EncodedRows,
    *,
    labels: list[str],
    calibration: list[PlattMap],
    budget_probability: float,
    budget_pr_auc: float,
    split: str,
    strict: bool,
) -> QuantizationCheck:
    """int8 against fp32 on ``split``; ``weights`` says which ships: int8 within both budgets,
    else fp32 — or, ``strict``, :class:`ParityError`."""
    losses: dict[str, float] = {}
    for column, label in enumerate(labels):
        mask = encoded.known[:, column]
        truth = encoded.y[mask, column]
        if truth.min(initial=1) == truth.max(initial=0):
            continue
        losses[label] = float(
            average_precision_score(truth, fp32[0][mask, column])
            - average_precision_score(truth, int8[0][mask, column])
        )
    gap = probability_gap(fp32, int8, calibration)
    worst = max(losses.values(), default=0.0)
    within = gap <= budget_probability and worst <= budget_pr_auc
    if strict and not within:
        raise ParityError(
            f"the int8 graph is outside its budget on {len(encoded.ids)} {split} rows: "
            f"max probability difference {gap:.3g} (budget {budget_probability:g}), largest "
            f"PR-AUC loss {worst:.3g} (budget {budget_pr_auc:g}); set transformer.quantize: auto "
            "(fp32 ships when int8 is outside) or none"
        )
    return QuantizationCheck(
        weights="int8" if within else "fp32",
        max_abs_probability_diff=gap,
        pr_auc_loss=losses,
        budget_probability_diff=budget_probability,
        budget_pr_auc_loss=budget_pr_auc,
        rows_checked=len(encoded.ids),
        split=split,
    )


def load_graph(path: Path) -> onnx.ModelProto:
    return onnx.load(str(path))
