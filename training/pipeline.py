"""One training run, from labeled rows to a checked model bundle directory.

split by seller -> fit -> calibrate + thresholds on the held-out split -> export ONNX ->
parity check -> validation metrics -> card. MLflow bookkeeping lives in :mod:`training.runner`.
"""

import time
from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np

from data.schema import LabeledListing
from data.splits import split_by_seller, stratify_labels_of
from data.taxonomy import Taxonomy, default_taxonomy
from models.bundle import (
    BUNDLE_FORMAT_VERSION,
    CARD_FILE,
    INPUT_NAMES,
    MODEL_FILE,
    OUTPUT_NAMES,
    ModelCard,
    threshold_set_id,
    write_card,
)
from models.calibration import PlattMap, calibrate_logits
from models.scorer import HASHED_LINEAR_FAMILY, BundleScorer
from models.thresholds import LabelThresholds, estimate_bands
from training.baseline import HashedLinearModel
from training.calibration_fit import fit_calibration_and_thresholds
from training.certification import certify_thresholds
from training.config import UNNAMED_MODEL, TrainConfig, check_config_labels
from training.errors import ParityError, TrainingError
from training.label_arrays import label_arrays
from training.onnx_export import build_onnx_model, check_parity, save_bound_onnx
from training.validation_metrics import split_metrics

MODEL_FAMILY = HASHED_LINEAR_FAMILY
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


@dataclass(frozen=True)
class _Fitted:
    model: HashedLinearModel
    calibration: dict[str, PlattMap]
    thresholds: dict[str, LabelThresholds]
    calibration_metrics: dict[str, Any]


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
) -> TrainedBundle:
    """Train, calibrate, export and check one model; write ``model.onnx`` + ``card.json``.

    ``taxonomy`` is the one the rows are labeled in (default: the built-in one); the config's
    label names are checked against it.
    """
    taxonomy = taxonomy or default_taxonomy()
    check_config_labels(config, taxonomy)
    carried = {label for row in rows for label in row.labels.values}
    splits = split_by_seller(
        rows,
        fractions={
            "fit": 1.0 - config.calibration_fraction,
            "calibration": config.calibration_fraction,
        },
        seed=config.seed,
        stratify_labels=[label for label in stratify_labels_of(taxonomy) if label in carried],
    )
    progress(
        f"split by seller: {len(splits['fit'])} fit rows, "
        f"{len(splits['calibration'])} calibration rows"
    )
    fitted = _fit(splits["fit"], splits["calibration"], config, taxonomy, progress)
    bundle_dir.mkdir(parents=True, exist_ok=True)
    unbound = _card(fitted, config, data_fingerprint, splits, mlflow_run_id)
    sha256 = save_bound_onnx(build_onnx_model(fitted.model), unbound, bundle_dir / MODEL_FILE)
    progress(f"exported ONNX graph ({(bundle_dir / MODEL_FILE).stat().st_size / 1e6:.1f} MB)")
    card = unbound.model_copy(
        update={
            "model_sha256": sha256,
            "model_id": f"{unbound.model_name}-{unbound.created_at:%Y%m%dT%H%M%SZ}-{sha256[:8]}",
        }
    )
    write_card(bundle_dir, card)
    parity_rows, parity_split = (
        (validation_rows, "validation")
        if validation_rows
        else (splits["calibration"], "calibration")
    )
    try:
        parity = check_parity(
            fitted.model,
            fitted.calibration,
            BundleScorer(bundle_dir, require_checked=False),
            parity_rows,
            split=parity_split,
            tolerance=config.parity_tolerance,
            progress=progress,
        )
    except ParityError:
        # An export that failed its check must not be left behind as a loadable bundle.
        (bundle_dir / CARD_FILE).unlink()
        raise
    progress(
        f"parity: max |ONNX - scikit-learn| = {parity.max_abs_probability_diff:.2e} "
        f"on {parity.rows_checked} {parity_split} rows"
    )
    progress("certifying the band edges on the calibration sellers (exported graph's scores)")
    thresholds = certify_thresholds(
        BundleScorer(bundle_dir, require_checked=False),
        fit_rows=splits["fit"],
        fit_logits=_out_of_fold_logits(splits["fit"], fitted.model, config, taxonomy, progress),
        calibration_rows=splits["calibration"],
        calibration=fitted.calibration,
        targets=card.threshold_targets,
        settings=config.guarantee,
        progress=lambda line: progress(f"  {line}"),
    )
    fitted = replace(fitted, thresholds=thresholds)
    metrics = {"calibration": fitted.calibration_metrics}
    if validation_rows:
        metrics["validation"] = _scored_metrics(fitted, validation_rows)
        progress("validation metrics computed")
    card = card.model_copy(
        update={
            "parity": parity,
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


def _fit(
    fit_rows: list[LabeledListing],
    calibration_rows: list[LabeledListing],
    config: TrainConfig,
    taxonomy: Taxonomy,
    progress: Progress,
) -> _Fitted:
    started = time.perf_counter()
    model = HashedLinearModel(
        config.features,
        taxonomy=taxonomy,
        c=config.model.c,
        category_c=config.model.category_c,
        class_weight=config.model.class_weight,
        seed=config.seed,
    ).fit(fit_rows, progress=progress)
    progress(
        f"fitted {', '.join(model.labels_)} and {len(model.categories_)} categories "
        f"in {time.perf_counter() - started:.1f}s"
    )
    logits = model.decision_function(model.matrix(calibration_rows))
    y_true, known = label_arrays(calibration_rows, model.labels_)
    calibration, thresholds = fit_calibration_and_thresholds(
        logits,
        y_true,
        known,
        labels=model.labels_,
        targets={label: config.targets_for(label) for label in model.labels_},
    )
    probabilities = calibrate_logits(logits, [calibration[label] for label in model.labels_])
    progress("calibrated and set thresholds on the calibration split")
    return _Fitted(
        model=model,
        calibration=calibration,
        thresholds=thresholds,
        calibration_metrics=split_metrics(probabilities, y_true, known, model.labels_),
    )


def _out_of_fold_logits(
    rows: list[LabeledListing],
    model: HashedLinearModel,
    config: TrainConfig,
    taxonomy: Taxonomy,
    progress: Progress,
) -> np.ndarray:
    """Logits (n, L) of the fit rows from models fitted on the other half of their sellers.

    They only order the enforce candidates (never the test itself), and out-of-fold scores
    look like the calibration sellers' where in-sample ones are over-confident. A label a half
    cannot fit keeps the in-sample logits of the main model.
    """
    logits = model.decision_function(model.matrix(rows))
    folds = split_by_seller(rows, fractions={"a": 0.5, "b": 0.5}, seed=config.seed + 1)
    position = {id(row): index for index, row in enumerate(rows)}
    for held_out, fitted_on in (("a", "b"), ("b", "a")):
        try:
            half = HashedLinearModel(
                config.features,
                taxonomy=taxonomy,
                c=config.model.c,
                category_c=config.model.category_c,
                class_weight=config.model.class_weight,
                seed=config.seed,
            ).fit(folds[fitted_on])
        except TrainingError as error:
            progress(f"ordering the enforce candidates in-sample ({error})")
            return logits
        indices = np.array([position[id(row)] for row in folds[held_out]], dtype=np.int64)
        if indices.size == 0:
            continue
        scores = half.decision_function(half.matrix(folds[held_out]))
        for column, label in enumerate(model.labels_):
            if label in half.labels_:
                logits[indices, column] = scores[:, half.labels_.index(label)]
    progress("ordered the enforce candidates on out-of-fold scores of the fit split")
    return logits


def _scored_metrics(fitted: _Fitted, rows: list[LabeledListing]) -> dict[str, Any]:
    model = fitted.model
    logits = model.decision_function(model.matrix(rows))
    probabilities = calibrate_logits(logits, [fitted.calibration[label] for label in model.labels_])
    y_true, known = label_arrays(rows, model.labels_)
    result = split_metrics(probabilities, y_true, known, model.labels_)
    for column, label in enumerate(model.labels_):
        mask = known[:, column]
        edges = fitted.thresholds[label]
        estimate = estimate_bands(
            y_true[mask, column],
            probabilities[mask, column],
            allow=edges.allow,
            enforce=edges.enforce,
        )
        result[label]["routing"] = estimate.model_dump()
    return result


def _card(
    fitted: _Fitted,
    config: TrainConfig,
    data_fingerprint: str,
    splits: dict[str, list[LabeledListing]],
    mlflow_run_id: str | None,
) -> ModelCard:
    """The card before export: its id and model hash are set once the graph is written."""
    created = datetime.now(UTC).replace(microsecond=0)
    targets = {label: config.targets_for(label) for label in fitted.model.labels_}
    return ModelCard(
        format_version=BUNDLE_FORMAT_VERSION,
        model_family=MODEL_FAMILY,
        model_name=config.model_name or UNNAMED_MODEL,
        model_id=config.model_name or UNNAMED_MODEL,
        taxonomy=fitted.model.taxonomy,
        labels=fitted.model.labels_,
        regulated_categories=fitted.model.categories_,
        feature_spec=config.features,
        input_names=list(INPUT_NAMES),
        output_names=list(OUTPUT_NAMES),
        calibration=fitted.calibration,
        threshold_targets=targets,
        thresholds=fitted.thresholds,
        threshold_set_id=threshold_set_id(fitted.thresholds, targets),
        threshold_note=THRESHOLD_NOTE,
        training={
            "data_fingerprint": data_fingerprint,
            "rows": {name: len(part) for name, part in splits.items()},
            "seed": config.seed,
            "config": config.model_dump(mode="json"),
        },
        metrics={"calibration": fitted.calibration_metrics},
        parity=None,
        model_sha256=UNWRITTEN_SHA256,
        mlflow_run_id=mlflow_run_id,
        created_at=created,
    )
