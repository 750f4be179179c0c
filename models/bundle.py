"""The model bundle (``model.onnx`` + ``card.json``): the one contract of training and serving."""

import hashlib
import json
from datetime import datetime
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from models.calibration import PlattMap
from models.errors import BundleError
from models.text_features import FeatureSpec
from models.thresholds import LabelThresholds, ThresholdTargets

BUNDLE_FORMAT_VERSION = 1
SUPPORTED_FORMAT_VERSIONS = (1,)
MODEL_FILE = "model.onnx"
CARD_FILE = "card.json"
INPUT_NAMES = ("feature_ids", "feature_counts", "feature_blocks")
OUTPUT_NAMES = ("risk_logits", "category_probabilities", "contributions")


class ParityCheck(BaseModel):
    """How closely the exported ONNX graph reproduced the in-memory model."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    max_abs_probability_diff: float
    rows_checked: int
    tolerance: float
    split: str


class ModelCard(BaseModel):
    """Everything serving needs to know about a bundle, and what it was trained and checked on."""

    model_config = ConfigDict(extra="forbid", frozen=True, protected_namespaces=())

    format_version: int
    model_family: str
    model_name: str
    model_id: str
    labels: list[str] = Field(min_length=1)
    regulated_categories: list[str]
    feature_spec: FeatureSpec
    input_names: list[str]
    output_names: list[str]
    calibration: dict[str, PlattMap]
    threshold_targets: dict[str, ThresholdTargets]
    thresholds: dict[str, LabelThresholds]
    threshold_set_id: str
    threshold_note: str
    training: dict[str, Any]
    metrics: dict[str, Any]
    parity: ParityCheck | None
    mlflow_run_id: str | None
    created_at: datetime


def threshold_set_id(
    thresholds: dict[str, LabelThresholds], targets: dict[str, ThresholdTargets]
) -> str:
    """A short content hash of the band edges and the targets they were fitted for."""
    edges = {label: [t.allow, t.enforce] for label, t in sorted(thresholds.items())}
    goals = {label: t.model_dump() for label, t in sorted(targets.items())}
    payload = json.dumps({"edges": edges, "targets": goals}, sort_keys=True)
    return "ts-" + hashlib.sha256(payload.encode()).hexdigest()[:12]


def write_card(bundle_dir: Path, card: ModelCard) -> Path:
    path = bundle_dir / CARD_FILE
    path.write_text(card.model_dump_json(indent=2) + "\n", encoding="utf-8")
    return path


def read_card(bundle_dir: Path) -> ModelCard:
    """Read and check a bundle's card; raise :class:`BundleError` saying what is wrong."""
    bundle_dir = Path(bundle_dir)
    if not bundle_dir.is_dir():
        raise BundleError(f"bundle directory {bundle_dir} does not exist")
    for name in (MODEL_FILE, CARD_FILE):
        if not (bundle_dir / name).is_file():
            raise BundleError(f"bundle {bundle_dir} is missing {name}")
    try:
        raw = json.loads((bundle_dir / CARD_FILE).read_text(encoding="utf-8"))
    except json.JSONDecodeError as error:
        raise BundleError(
            f"{bundle_dir / CARD_FILE}: invalid JSON at line {error.lineno} column {error.colno}"
        ) from error
    version = raw.get("format_version") if isinstance(raw, dict) else None
    if version not in SUPPORTED_FORMAT_VERSIONS:
        raise BundleError(
            f"{bundle_dir / CARD_FILE}: bundle format version {version!r} is not supported "
            f"(this build reads {list(SUPPORTED_FORMAT_VERSIONS)})"
        )
    try:
        card = ModelCard.model_validate(raw)
    except ValidationError as error:
        raise BundleError(f"{bundle_dir / CARD_FILE}: invalid card: {error}") from error
    _check_card_consistency(bundle_dir, card)
    return card


def _check_card_consistency(bundle_dir: Path, card: ModelCard) -> None:
    missing = [label for label in card.labels if label not in card.calibration]
    missing += [label for label in card.labels if label not in card.thresholds]
    if missing:
        raise BundleError(f"{bundle_dir / CARD_FILE}: no calibration or thresholds for {missing}")
    if tuple(card.input_names) != INPUT_NAMES or tuple(card.output_names) != OUTPUT_NAMES:
        raise BundleError(
            f"{bundle_dir / CARD_FILE}: inputs {card.input_names} / outputs {card.output_names} "
            f"differ from this format's {list(INPUT_NAMES)} / {list(OUTPUT_NAMES)}"
        )
