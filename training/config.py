"""The training configuration: one YAML file, validated, with embedded defaults."""

from importlib import resources
from pathlib import Path
from typing import Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from data.taxonomy import LABELS
from models.text_features import FeatureSpec
from models.thresholds import ThresholdTargets
from training.errors import TrainingError


class ModelParams(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    c: float = Field(default=4.0, gt=0)
    category_c: float = Field(default=4.0, gt=0)
    class_weight: Literal["balanced"] | None = "balanced"


class TrainConfig(BaseModel):
    """What a training run does; every field is recorded as an MLflow parameter."""

    model_config = ConfigDict(extra="forbid", frozen=True, protected_namespaces=())

    model_name: str = Field(default="listingguard-baseline", pattern=r"^[A-Za-z0-9_.-]{1,100}$")
    seed: int = 13
    calibration_fraction: float = Field(default=0.2, gt=0.0, lt=0.9)
    parity_tolerance: float = Field(default=1e-5, gt=0.0, le=1e-5)
    """Largest |ONNX - scikit-learn| probability difference a run accepts (never looser)."""
    model: ModelParams = ModelParams()
    features: FeatureSpec = FeatureSpec()
    targets: ThresholdTargets = ThresholdTargets()
    label_targets: dict[str, ThresholdTargets] = Field(default_factory=dict)

    @field_validator("label_targets")
    @classmethod
    def _known_labels(cls, value: dict[str, ThresholdTargets]) -> dict[str, ThresholdTargets]:
        unknown = sorted(set(value) - set(LABELS))
        if unknown:
            raise ValueError(f"unknown labels {unknown}; expected some of {list(LABELS)}")
        return value

    def targets_for(self, label: str) -> ThresholdTargets:
        return self.label_targets.get(label, self.targets)

    def flat_params(self) -> dict[str, str]:
        """Dotted parameter names and values, for MLflow."""
        return dict(_flatten(self.model_dump(mode="json")))


def _flatten(value: object, prefix: str = "") -> list[tuple[str, str]]:
    if isinstance(value, dict):
        return [pair for key, item in value.items() for pair in _flatten(item, f"{prefix}{key}.")]
    return [(prefix.rstrip("."), str(value))]


def default_config_text() -> str:
    return resources.files("training").joinpath("configs/default.yaml").read_text("utf-8")


def load_config(path: Path | None = None) -> TrainConfig:
    """The embedded default, or a YAML file overriding it; errors name the file and field."""
    text = default_config_text() if path is None else _read(path)
    source = "embedded default config" if path is None else str(path)
    try:
        raw = yaml.safe_load(text) or {}
    except yaml.YAMLError as error:
        mark = getattr(error, "problem_mark", None)
        where = f" line {mark.line + 1} column {mark.column + 1}" if mark else ""
        raise TrainingError(f"{source}:{where} invalid YAML") from error
    try:
        return TrainConfig.model_validate(raw)
    except ValidationError as error:
        problems = "; ".join(
            f"{'.'.join(str(part) for part in item['loc'])}: {item['msg']}"
            for item in error.errors()
        )
        raise TrainingError(f"{source}: {problems}") from error


def _read(path: Path) -> str:
    try:
        return Path(path).read_text(encoding="utf-8")
    except OSError as error:
        raise TrainingError(f"{path}: cannot read config: {error.strerror}") from error
