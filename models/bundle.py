"""The model bundle (``model.onnx`` + ``card.json``): the one contract of training and serving."""

import hashlib
import json
from datetime import datetime
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from data.taxonomy import Taxonomy, default_taxonomy
from models.calibration import PlattMap
from models.certified_thresholds import GuaranteeSettings
from models.errors import BundleError
from models.reference_scores import ReferenceScores
from models.text_features import FeatureSpec
from models.thresholds import LabelThresholds, ThresholdTargets

BUNDLE_FORMAT_VERSION = 3
SUPPORTED_FORMAT_VERSIONS = (2, 3)
"""Format 3 cards may carry reference scores (a build that reads only 2 refuses them by their
version, not by an unknown field); format 2 is still served, without that check."""
UPGRADABLE_FORMAT_VERSIONS = (1,)
"""Format 1 lacks the card-to-graph binding; ``listingguard models upgrade DIR`` adds it."""
MODEL_FILE = "model.onnx"
CARD_FILE = "card.json"
TOKENIZER_FILE = "tokenizer.json"
INPUT_NAMES = ("feature_ids", "feature_counts", "feature_blocks")
OUTPUT_NAMES = ("risk_logits", "category_probabilities", "contributions")
"""The hashed-linear family's graph inputs and outputs."""
TOKEN_INPUT_NAMES = ("input_ids", "attention_mask")

HASHED_LINEAR_FAMILY = "hashed-ngram-linear"
TRANSFORMER_FAMILY = "transformer"
ENSEMBLE_FAMILY = "ensemble"
FAMILY_IO: dict[str, tuple[tuple[str, ...], tuple[str, ...]]] = {
    HASHED_LINEAR_FAMILY: (INPUT_NAMES, OUTPUT_NAMES),
    TRANSFORMER_FAMILY: (TOKEN_INPUT_NAMES, OUTPUT_NAMES[:2]),
    ENSEMBLE_FAMILY: (INPUT_NAMES + TOKEN_INPUT_NAMES, OUTPUT_NAMES),
}
"""Each model family this build serves, with its graph's input and output names (in order)."""
TOKENIZED_FAMILIES = (TRANSFORMER_FAMILY, ENSEMBLE_FAMILY)
"""Families whose bundle holds ``tokenizer.json`` and whose card an ``encoder`` section."""


class ParityCheck(BaseModel):
    """How closely the exported ONNX graph reproduced the in-memory model."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    max_abs_probability_diff: float
    rows_checked: int
    tolerance: float
    split: str


class EncoderSpec(BaseModel):
    """How a tokenized family reads a listing: its tokenizer file and the encoder it came from."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    base_model: str
    """The pretrained encoder fine-tuned (a folder name; weights are in the graph)."""
    tokenizer_sha256: str = Field(pattern=r"^[0-9a-f]{64}$")
    """SHA-256 of the bundle's ``tokenizer.json``."""
    max_length: int = Field(ge=8, le=512)
    """Tokens per listing text, special tokens included (longer texts are truncated)."""
    weights: Literal["fp32", "int8"] = "fp32"
    """The shipped graph's weights. int8 is dynamically quantized: its activation scales depend
    on the whole input tensor, so each listing runs alone and its score stays a function of the
    listing only, not of what else is in the batch."""
    english_only: bool = True
    """The bundled all-MiniLM-L6-v2 is English-only; other languages rely on the ensemble's
    character n-grams."""


class QuantizationCheck(BaseModel):
    """How far the int8 graph of the transformer (the ensemble's transformer member) is from
    its fp32 graph, on the tune split, and which of the two ships."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    weights: str
    """``int8`` (dynamic, per-channel) or ``fp32`` (not quantized)."""
    max_abs_probability_diff: float
    pr_auc_loss: dict[str, float]
    """Per label: fp32 PR-AUC minus int8 PR-AUC (negative: int8 did better)."""
    budget_probability_diff: float
    budget_pr_auc_loss: float
    rows_checked: int
    split: str


class BlendWeights(BaseModel):
    """One label's ensemble logit: ``hashed * hashed_logit + transformer * transformer_logit +
    bias`` (a logistic regression on the two logits, fitted on the tune split)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    hashed: float
    transformer: float
    bias: float


class JointHead(BaseModel):
    """One label's ensemble logit from a single logistic regression over the n-gram TF-IDF
    features and the fine-tuned encoder's pooled embedding (times ``embedding_scale``), fitted on
    the fit split, chosen over the blend (and the other scales) by tune-split average precision."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    embedding_scale: float = Field(gt=0)
    tune_average_precision: float
    blend_tune_average_precision: float | None
    """None where the config asked for joint heads only (no blend was fitted)."""


class ModelCard(BaseModel):
    """Everything serving needs to know about a bundle, and what it was trained and checked on."""

    model_config = ConfigDict(extra="forbid", frozen=True, protected_namespaces=())

    format_version: int
    model_family: str
    model_name: str
    model_id: str
    taxonomy: Taxonomy = Field(default_factory=default_taxonomy)
    """The taxonomy the training data was labeled in (cards written before it existed used the
    default one); serving's label schema and default policy follow it."""
    labels: list[str] = Field(min_length=1)
    """The labels this model scores, in output order: the taxonomy's that the data carried."""
    regulated_categories: list[str]
    """The category head's outputs: categories of the taxonomy's category label."""
    feature_spec: FeatureSpec
    input_names: list[str]
    output_names: list[str]
    calibration: dict[str, PlattMap]
    threshold_targets: dict[str, ThresholdTargets]
    thresholds: dict[str, LabelThresholds]
    guarantee: GuaranteeSettings | None = None
    """How the edges were certified (None: point-estimate thresholds, no guarantee)."""
    threshold_set_id: str
    threshold_note: str
    training: dict[str, Any]
    metrics: dict[str, Any]
    parity: ParityCheck | None
    reference_scores: ReferenceScores | None = None
    """Scores of fixed listings recorded where the export was checked; every load scores them
    again (None: exported before they were recorded)."""
    encoder: EncoderSpec | None = None
    """Tokenized families only (transformer, ensemble)."""
    quantization: QuantizationCheck | None = None
    """Tokenized families: the int8 budget check of the shipped graph."""
    ensemble: dict[str, BlendWeights] | None = None
    """The ensemble family only: the labels whose logit blends the two members' logits."""
    joint_heads: dict[str, JointHead] | None = None
    """The ensemble family only: the other labels, each one joint head (None: every label
    blends, as every ensemble written before joint heads existed)."""
    category_blend: float | None = None
    """The ensemble family only: the transformer's share of the category probabilities."""
    model_sha256: str = Field(pattern=r"^[0-9a-f]{64}$")
    """SHA-256 of the ``model.onnx`` this card was written with."""
    mlflow_run_id: str | None
    created_at: datetime


def threshold_set_id(
    thresholds: dict[str, LabelThresholds],
    targets: dict[str, ThresholdTargets],
    guarantee: GuaranteeSettings | None = None,
) -> str:
    """A short content hash of the band edges, the targets and how they were certified."""
    edges = {label: [t.allow, t.enforce] for label, t in sorted(thresholds.items())}
    goals = {label: t.model_dump() for label, t in sorted(targets.items())}
    content: dict[str, Any] = {"edges": edges, "targets": goals}
    if guarantee is not None:  # absent from ids of cards written before certification
        content["guarantee"] = guarantee.model_dump()
    payload = json.dumps(content, sort_keys=True)
    return "ts-" + hashlib.sha256(payload.encode()).hexdigest()[:12]


def write_card(bundle_dir: Path, card: ModelCard) -> Path:
    path = bundle_dir / CARD_FILE
    path.write_text(card.model_dump_json(indent=2) + "\n", encoding="utf-8")
    return path


def read_card(bundle_dir: Path, *, require_checked: bool = True) -> ModelCard:
    """Read and check a bundle's card; raise :class:`BundleError` saying what is wrong.

    ``require_checked`` (everywhere but inside the training run that is still checking it)
    refuses a bundle whose ONNX parity check is missing or failed.
    """
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
    if version in UPGRADABLE_FORMAT_VERSIONS:
        raise BundleError(
            f"{bundle_dir / CARD_FILE}: bundle format {version} is no longer served; upgrade it "
            f"in place with `listingguard models upgrade {bundle_dir}`"
        )
    if version not in SUPPORTED_FORMAT_VERSIONS:
        raise BundleError(
            f"{bundle_dir / CARD_FILE}: bundle format version {version!r} is not supported "
            f"(this build reads {list(SUPPORTED_FORMAT_VERSIONS)})"
        )
    try:
        card = ModelCard.model_validate(raw)
    except ValidationError as error:
        raise BundleError(
            f"{bundle_dir / CARD_FILE}: invalid card: {_first_problem(error)}"
        ) from error
    _check_card_consistency(card, bundle_dir / CARD_FILE)
    _check_family(card, bundle_dir)
    if require_checked:
        _check_parity(card, bundle_dir / CARD_FILE)
    return card


def _check_family(card: ModelCard, bundle_dir: Path) -> None:
    """The family is served, its graph's names are the family's, and its own parts are there."""
    card_path = bundle_dir / CARD_FILE
    if card.model_family not in FAMILY_IO:
        raise BundleError(
            f"{card_path}: model family {card.model_family!r} is not served by this build "
            f"(it serves {list(FAMILY_IO)})"
        )
    inputs, outputs = FAMILY_IO[card.model_family]
    if tuple(card.input_names) != inputs or tuple(card.output_names) != outputs:
        raise BundleError(
            f"{card_path}: inputs {card.input_names} / outputs {card.output_names} differ from "
            f"the {card.model_family} family's {list(inputs)} / {list(outputs)}"
        )
    tokenized = card.model_family in TOKENIZED_FAMILIES
    if tokenized != (card.encoder is not None):
        needs = "needs" if tokenized else "must not have"
        raise BundleError(
            f"{card_path}: a card of the {card.model_family} family {needs} an encoder section"
        )
    if card.encoder is not None:
        tokenizer = bundle_dir / TOKENIZER_FILE
        if not tokenizer.is_file():
            raise BundleError(f"bundle {bundle_dir} is missing {TOKENIZER_FILE}")
        digest = hashlib.sha256(tokenizer.read_bytes()).hexdigest()
        if digest != card.encoder.tokenizer_sha256:
            raise BundleError(
                f"{tokenizer}: SHA-256 {digest[:12]}... is not the card's "
                f"{card.encoder.tokenizer_sha256[:12]}... (files from two exports?)"
            )
    blended = card.model_family == ENSEMBLE_FAMILY
    if blended != (card.ensemble is not None and card.category_blend is not None):
        needs = "needs" if blended else "must not have"
        raise BundleError(
            f"{card_path}: a card of the {card.model_family} family {needs} ensemble and "
            "category_blend"
        )
    if card.joint_heads is not None and not blended:
        raise BundleError(
            f"{card_path}: a card of the {card.model_family} family must not have joint_heads"
        )
    if card.ensemble is not None:
        joint = set(card.joint_heads or {})
        both = sorted(set(card.ensemble) & joint)
        covered = set(card.ensemble) | joint
        if both or covered != set(card.labels):
            raise BundleError(
                f"{card_path}: ensemble covers {sorted(card.ensemble)} and joint_heads "
                f"{sorted(joint)}; each of the labels {card.labels} needs exactly one"
            )


def _check_parity(card: ModelCard, card_path: Path) -> None:
    if card.parity is None:
        raise BundleError(
            f"{card_path}: the export was never checked against the trained model (parity is "
            "missing: the training run stopped before its check); train again"
        )
    if not card.parity.max_abs_probability_diff <= card.parity.tolerance:
        raise BundleError(
            f"{card_path}: the export failed its parity check "
            f"({card.parity.max_abs_probability_diff:.2e} > {card.parity.tolerance:.0e})"
        )


def _check_card_consistency(card: ModelCard, card_path: Path) -> None:
    """Labels and categories unique, maps and edges for every label, coherent edges, their id."""
    for name, values in (
        ("labels", card.labels),
        ("regulated_categories", card.regulated_categories),
    ):
        if len(set(values)) != len(values):
            raise BundleError(f"{card_path}: {name} repeats a name: {values}")
    _check_against_taxonomy(card, card_path)
    for name, mapping in (
        ("calibration", card.calibration),
        ("thresholds", card.thresholds),
        ("threshold_targets", card.threshold_targets),
    ):
        if set(mapping) != set(card.labels):
            raise BundleError(
                f"{card_path}: {name} covers {sorted(mapping)}, the labels are {card.labels}"
            )
    for label, edges in card.thresholds.items():
        cap = card.threshold_targets[label].max_auto_allow_probability
        if edges.enforce is not None and edges.allow > edges.enforce:
            raise BundleError(
                f"{card_path}: thresholds.{label}: allow {edges.allow} is above "
                f"enforce {edges.enforce}"
            )
        if edges.allow > cap:
            raise BundleError(
                f"{card_path}: thresholds.{label}.allow {edges.allow} exceeds "
                f"max_auto_allow_probability {cap}"
            )
    expected_id = threshold_set_id(card.thresholds, card.threshold_targets, card.guarantee)
    if card.threshold_set_id != expected_id:
        raise BundleError(
            f"{card_path}: threshold_set_id {card.threshold_set_id} is not the id of the "
            f"thresholds and targets in the card ({expected_id}): edited by hand?"
        )


def _check_against_taxonomy(card: ModelCard, card_path: Path) -> None:
    taxonomy = card.taxonomy
    outside = taxonomy.unknown_labels(card.labels)
    if outside:
        raise BundleError(f"{card_path}: labels {outside} are not in the card's {_text(taxonomy)}")
    unknown = sorted(set(card.regulated_categories) - set(taxonomy.categories))
    if unknown:
        raise BundleError(
            f"{card_path}: regulated_categories {unknown} are not categories of taxonomy "
            f"{taxonomy.name!r} ({list(taxonomy.categories)})"
        )
    if card.regulated_categories and taxonomy.category_label not in card.labels:
        raise BundleError(
            f"{card_path}: a category head without its label {taxonomy.category_label!r}"
        )


def _text(taxonomy: Taxonomy) -> str:
    return taxonomy.valid_labels_text()


def _first_problem(error: ValidationError) -> str:
    problems = error.errors()
    first = problems[0]
    where = ".".join(str(part) for part in first["loc"]) or "card"
    more = f" (and {len(problems) - 1} more)" if len(problems) > 1 else ""
    return f"{where}: {first['msg']}{more}"
