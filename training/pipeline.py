"""One training run, from labeled rows to a checked model bundle directory, for any family.

split by seller -> fit -> calibrate on the held-out split -> export ONNX -> check -> certify the
band edges on the exported graph's scores -> validation metrics -> card. The family
(:mod:`training.families`) does the family-specific part of each step; MLflow bookkeeping lives
in :mod:`training.runner`.
"""

from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from data.schema import LabeledListing
from data.taxonomy import Taxonomy, default_taxonomy
from models.bundle import (
    BUNDLE_FORMAT_VERSION,
    CARD_FILE,
    ModelCard,
    threshold_set_id,
    write_card,
)
from models.calibration import calibrate_logits
from models.reference_scores import record_reference_scores
from models.scorer import BundleScorer
from models.thresholds import LabelThresholds, estimate_bands
from training.certification import certify_thresholds
from training.config import UNNAMED_MODEL, TrainConfig, check_config_labels
from training.errors import ParityError
from training.families import family_for
from training.families.lifecycle import Calibrated, FamilySplits, ModelFamily
from training.label_arrays import label_arrays
from training.validation_metrics import split_metrics

THRESHOLD_NOTE = (
    "Each label's allow and enforce edges were certified (Learn then Test, Hoeffding-Bentkus "
    "bounds, fixed-sequence testing) on calibration sellers the model was not fitted on, from the "
    "exported graph's scores; see each edge's certificate for its promise, confidence, unit and "
    "estimand. An edge that could not be certified follows guarantee.uncertified and says so."
)
Progress = Callable[[str], None]
UNWRITTEN_SHA256 = "0" * 64
"""The model hash of a card whose graph is not written yet (never saved with it)."""


@dataclass(frozen=True)
class TrainedBundle:
    bundle_dir: Path
    card: ModelCard


def train_bundle(
    rows: list[LabeledListing],
    *,
    config: TrainConfig,
    data_fingerprint: str,
    bundle_dir: Path,
    validation_rows: list[LabeledListing] | None = None,
    mlflow_run_id: str | None = None,
    progress: Progress = lambda message: None,
    taxonomy: Taxonomy | None = None,
    checkpoint_dir: Path | None = None,
) -> TrainedBundle:
    """Train, calibrate, export and check one model of ``config.family``; write the bundle.

    ``taxonomy`` is the one the rows are labeled in (default: the built-in one); the config's
    label names are checked against it. ``checkpoint_dir`` (tokenized families) keeps the
    fine-tuning state, so an interrupted run resumes where it stopped.
    """
    taxonomy = taxonomy or default_taxonomy()
    check_config_labels(config, taxonomy)
    family = family_for(config.family)(config, taxonomy, progress)
    splits = family.split(rows)
    progress(
        f"{config.family}: split by seller: "
        + ", ".join(f"{count} {name}" for name, count in splits.sizes().items())
        + " rows"
    )
    family.fit(splits, checkpoint_dir=checkpoint_dir)
    calibrated = family.calibrate(splits.calibration)
    bundle_dir.mkdir(parents=True, exist_ok=True)
    (bundle_dir / CARD_FILE).unlink(missing_ok=True)
    unbound = _card(family, calibrated, config, data_fingerprint, splits, mlflow_run_id)
    card = family.export(bundle_dir, unbound)
    progress(f"exported the ONNX graph ({_size_mb(bundle_dir):.1f} MB bundle)")
    write_card(bundle_dir, card)
    parity_rows, parity_split = (
        (validation_rows, "validation") if validation_rows else (splits.calibration, "calibration")
    )
    try:
        checked = family.check(
            BundleScorer(bundle_dir, require_checked=False), parity_rows, split=parity_split
        )
    except ParityError:
        # An export that failed its check must not be left behind as a loadable bundle.
        (bundle_dir / CARD_FILE).unlink()
        raise
    progress(
        f"parity: max |ONNX - in-memory model| = {checked.parity.max_abs_probability_diff:.2e} "
        f"on {checked.parity.rows_checked} {parity_split} rows"
    )
    reference = record_reference_scores(BundleScorer(bundle_dir, require_checked=False).calibrated)
    progress(
        f"reference scores of {len(reference.listings)} fixed listings recorded "
        "(every load scores them again)"
    )
    card = card.model_copy(
        update={
            "parity": checked.parity,
            "quantization": checked.quantization,
            "reference_scores": reference,
        }
    )
    progress("certifying the band edges on the calibration sellers (exported graph's scores)")
    ordering_rows, ordering_logits = family.ordering_logits()
    thresholds = certify_thresholds(
        BundleScorer(bundle_dir, require_checked=False),
        fit_rows=ordering_rows,
        fit_logits=ordering_logits,
        calibration_rows=splits.calibration,
        calibration=calibrated.calibration,
        targets=card.threshold_targets,
        settings=config.guarantee,
        progress=lambda line: progress(f"  {line}"),
    )
    metrics = {"calibration": calibrated.metrics}
    if validation_rows:
        metrics["validation"] = _scored_metrics(family, calibrated, thresholds, validation_rows)
        progress("validation metrics computed")
    card = card.model_copy(
        update={
            "metrics": metrics,
            "thresholds": thresholds,
            "guarantee": config.guarantee,
            "threshold_set_id": threshold_set_id(
                thresholds, card.threshold_targets, config.guarantee
            ),
        }
    )
    write_card(bundle_dir, card)
    return TrainedBundle(bundle_dir=bundle_dir, card=card)


def _size_mb(bundle_dir: Path) -> float:
    return sum(path.stat().st_size for path in bundle_dir.iterdir() if path.is_file()) / 1e6


def _scored_metrics(
    family: ModelFamily,
    calibrated: Calibrated,
    thresholds: dict[str, LabelThresholds],
    rows: list[LabeledListing],
) -> dict[str, Any]:
    labels = family.labels
    logits = family.logits(rows)
    probabilities = calibrate_logits(logits, [calibrated.calibration[label] for label in labels])
    y_true, known = label_arrays(rows, labels)
    result = split_metrics(probabilities, y_true, known, labels)
    for column, label in enumerate(labels):
        mask = known[:, column]
        edges = thresholds[label]
        estimate = estimate_bands(
            y_true[mask, column],
            probabilities[mask, column],
            allow=edges.allow,
            enforce=edges.enforce,
        )
        result[label]["routing"] = estimate.model_dump()
    return result


def _card(
    family: ModelFamily,
    calibrated: Calibrated,
    config: TrainConfig,
    data_fingerprint: str,
    splits: FamilySplits,
    mlflow_run_id: str | None,
) -> ModelCard:
    """The card before export: its id and model hash are set once the graph is written."""
    created = datetime.now(UTC).replace(microsecond=0)
    targets = {label: config.targets_for(label) for label in family.labels}
    return ModelCard(
        format_version=BUNDLE_FORMAT_VERSION,
        model_name=config.model_name or UNNAMED_MODEL,
        model_id=config.model_name or UNNAMED_MODEL,
        taxonomy=family.taxonomy,
        feature_spec=config.features,
        calibration=calibrated.calibration,
        threshold_targets=targets,
        thresholds=calibrated.thresholds,
        threshold_set_id=threshold_set_id(calibrated.thresholds, targets),
        threshold_note=THRESHOLD_NOTE,
        training={
            "data_fingerprint": data_fingerprint,
            "rows": splits.sizes(),
            "seed": config.seed,
            "config": config.model_dump(mode="json"),
            **family.training_record(),
        },
        metrics={"calibration": calibrated.metrics},
        parity=None,
        model_sha256=UNWRITTEN_SHA256,
        mlflow_run_id=mlflow_run_id,
        created_at=created,
        **family.card_fields(),
    )
