"""``listingguard train``: load and check data, train a bundle, track and register it in MLflow."""

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from data.fingerprint import dataset_fingerprint
from data.loaders import DEFAULT_MAX_DROPPED_SHARE, LoadResult, load_labeled
from data.mapping import ColumnMapping, load_mapping, resolve_mapping_path
from data.schema import LabeledListing
from data.validation import validate_dataset
from models.bundle import ModelCard
from training import tracking
from training.config import TrainConfig, check_config_labels, model_name_for
from training.errors import TrainingError
from training.pipeline import train_bundle
from training.workspace import var_dir

Echo = Callable[[str], None]


@dataclass(frozen=True)
class TrainingRun:
    run_id: str
    bundle_dir: Path
    card: ModelCard
    registered: tracking.RegisteredVersion | None


def load_checked(
    data: str, mapping_spec: str, echo: Echo, *, max_dropped_share: float
) -> LoadResult:
    """Load a dataset through its mapping and run the same checks as ``data validate``."""
    mapping = load_mapping(resolve_mapping_path(mapping_spec))
    result = load_labeled(data, mapping)
    report = validate_dataset(result)
    for line in report.lines() + result.truncation_lines():
        echo(f"  {line}")
    result.check_dropped_share(max_dropped_share)
    if not result.rows:
        raise TrainingError(f"{data}: no usable rows after validation")
    return result


def run_training(
    data: str,
    mapping: str,
    *,
    config: TrainConfig,
    validation: str | None = None,
    register: bool = True,
    max_dropped_share: float = DEFAULT_MAX_DROPPED_SHARE,
    echo: Echo = print,
    checkpoint_dir: Path | None = None,
) -> TrainingRun:
    """Train on ``data`` (validation metrics on ``validation``), log it and register it.

    The tokenized families keep their fine-tuning state under ``checkpoint_dir`` (default
    ``var/checkpoints``), one folder per data and settings: a rerun resumes.
    """
    echo(f"loading {data}")
    train_result = load_checked(data, mapping, echo, max_dropped_share=max_dropped_share)
    validation_rows = None
    if validation:
        echo(f"loading {validation}")
        validation_rows = load_checked(
            validation, mapping, echo, max_dropped_share=max_dropped_share
        ).rows
    return train_rows(
        train_result.rows,
        train_result.mapping,
        config=config,
        validation_rows=validation_rows,
        register=register,
        echo=echo,
        checkpoint_dir=checkpoint_dir,
        tags={"data": str(data)},
    )


def train_rows(
    rows: list[LabeledListing],
    mapping: ColumnMapping,
    *,
    config: TrainConfig,
    validation_rows: list[LabeledListing] | None,
    register: bool,
    echo: Echo,
    checkpoint_dir: Path | None,
    tags: dict[str, str],
) -> TrainingRun:
    """Train on loaded ``rows`` (read through ``mapping``), track the run with ``tags``, and
    register it."""
    taxonomy = mapping.taxonomy
    check_config_labels(config, taxonomy)
    if config.model_name is None:
        config = config.model_copy(update={"model_name": model_name_for(mapping.name)})
    model_name = str(config.model_name)
    fingerprint = dataset_fingerprint(rows, mapping)
    mlflow = tracking.tracked_mlflow()
    with mlflow.start_run(experiment_id=tracking.experiment_id()) as run:
        run_id = str(run.info.run_id)
        echo(f"MLflow run {run_id} ({tracking.tracking_uri()})")
        mlflow.set_tags({"data_fingerprint": fingerprint, "model_family": config.family, **tags})
        mlflow.log_params(config.flat_params())
        trained = train_bundle(
            rows,
            config=config,
            data_fingerprint=fingerprint,
            bundle_dir=var_dir() / "runs" / run_id / "bundle",
            validation_rows=validation_rows,
            mlflow_run_id=run_id,
            progress=lambda message: echo(f"  {message}"),
            taxonomy=taxonomy,
            checkpoint_dir=checkpoint_dir or var_dir() / "checkpoints",
        )
        mlflow.log_metrics(flatten_metrics(trained.card.metrics))
        mlflow.log_artifacts(str(trained.bundle_dir), artifact_path=tracking.BUNDLE_ARTIFACT)
        registered = None
        if register:
            registered = tracking.register_bundle(model_name, run_id, run.info.artifact_uri)
            registered = _alias_new_version(registered, echo)
    return TrainingRun(run_id, trained.bundle_dir, trained.card, registered)


def _alias_new_version(
    version: tracking.RegisteredVersion, echo: Echo
) -> tracking.RegisteredVersion:
    """A new version becomes the challenger; the first version of a model is also champion."""
    version = tracking.set_alias(version.name, "challenger", version.version)
    has_champion = any("champion" in item.aliases for item in tracking.list_versions(version.name))
    if not has_champion:
        version = tracking.set_alias(version.name, "champion", version.version)
    echo(f"registered {version.name} version {version.version} ({', '.join(version.aliases)})")
    return version


def flatten_metrics(metrics: dict[str, Any], prefix: str = "") -> dict[str, float]:
    """Numeric leaves of nested metrics as MLflow metric names (``validation.fraud.ap``)."""
    flat: dict[str, float] = {}
    for key, value in metrics.items():
        name = f"{prefix}{key}".replace("@", "_at_")
        if isinstance(value, dict):
            flat.update(flatten_metrics(value, f"{name}."))
        elif isinstance(value, int | float) and not isinstance(value, bool):
            flat[name] = float(value)
    return flat
