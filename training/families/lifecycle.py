"""A model family's one lifecycle: fit -> calibrate -> export -> check, each step guarded.

Every family (hashed-linear, transformer, ensemble) is a :class:`ModelFamily`; the training
pipeline drives them all through the same four steps and never asks which family it holds. A
step called before the one it needs raises :class:`LifecycleError` (as MAPIE's fit/conformalize
guards do); fitting again forgets the later steps.

* ``fit(splits)`` — fits on ``splits.fit`` (the tokenized families stop early on ``splits.tune``)
  and compiles the model that will ship (for the transformer: the ONNX graph, int8 if quantized),
* ``calibrate(rows)`` — Platt maps and point-estimate edges from the shipped model's logits,
* ``export(bundle_dir, card)`` — writes the graph (and tokenizer) bound to the card,
* ``check(scorer, rows)`` — the written bundle reproduces the in-memory model (and, for
  tokenized families, the fp32 graph matches torch; int8 was measured against its budget when
  ``fit`` compiled it).
"""

from abc import ABC, abstractmethod
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar

import numpy as np

from data.schema import LabeledListing
from data.taxonomy import Taxonomy
from models.bundle import ModelCard, ParityCheck, QuantizationCheck
from models.calibration import PlattMap, calibrate_logits
from models.scorer import BundleScorer
from models.thresholds import LabelThresholds
from training.calibration_fit import fit_calibration_and_thresholds
from training.config import TrainConfig
from training.errors import TrainingError
from training.label_arrays import label_arrays
from training.row_weights import row_weights
from training.validation_metrics import split_metrics

STEPS = ("fit", "calibrate", "export", "check")
Progress = Callable[[str], None]


class LifecycleError(TrainingError):
    """A lifecycle step was called before the step it builds on."""


@dataclass(frozen=True)
class FamilySplits:
    """Seller-disjoint parts of the training data (``tune`` is empty for hashed-linear)."""

    fit: list[LabeledListing]
    tune: list[LabeledListing]
    calibration: list[LabeledListing]

    def sizes(self) -> dict[str, int]:
        sizes = {"fit": len(self.fit), "calibration": len(self.calibration)}
        if self.tune:
            sizes["tune"] = len(self.tune)
        return sizes


@dataclass(frozen=True)
class Calibrated:
    calibration: dict[str, PlattMap]
    thresholds: dict[str, LabelThresholds]
    metrics: dict[str, Any]


@dataclass(frozen=True)
class Checked:
    parity: ParityCheck
    quantization: QuantizationCheck | None = None


class ModelFamily(ABC):
    """One model family; subclasses implement the ``_``-prefixed steps."""

    name: ClassVar[str]
    """The family's name in configs and on ``--model`` (the card's ``model_family`` may differ)."""

    def __init__(self, config: TrainConfig, taxonomy: Taxonomy, progress: Progress) -> None:
        self.config, self.taxonomy, self.progress = config, taxonomy, progress
        self._done: list[str] = []
        self.calibrated: Calibrated | None = None

    # -- the guarded lifecycle -------------------------------------------------------------
    def _enter(self, step: str) -> None:
        needed = STEPS[: STEPS.index(step)]
        missing = [name for name in needed if name not in self._done]
        if missing:
            raise LifecycleError(
                f"{type(self).__name__}.{step}() called before {missing[0]}(): the lifecycle "
                f"is {' -> '.join(STEPS)}"
            )
        self._done = list(needed)

    def fit(self, splits: FamilySplits, *, checkpoint_dir: Path | None = None) -> None:
        self._enter("fit")
        self._fit(splits, checkpoint_dir)
        self._done.append("fit")

    def calibrate(self, rows: list[LabeledListing]) -> Calibrated:
        """Platt maps, point-estimate edges and metrics on held-out ``rows`` (the shipped
        model's logits: the int8 graph where int8 ships). Design weights, where the config
        names them, weight the Platt fit in full."""
        self._enter("calibrate")
        logits = self.logits(rows)
        y_true, known = label_arrays(rows, self.labels)
        calibration, thresholds = fit_calibration_and_thresholds(
            logits,
            y_true,
            known,
            labels=self.labels,
            targets={label: self.config.targets_for(label) for label in self.labels},
            sample_weight=row_weights(rows, self.config.weights, capped=False),
        )
        probabilities = calibrate_logits(logits, [calibration[label] for label in self.labels])
        self.calibrated = Calibrated(
            calibration, thresholds, split_metrics(probabilities, y_true, known, self.labels)
        )
        self.progress("calibrated and set point-estimate edges on the calibration split")
        self._done.append("calibrate")
        return self.calibrated

    def export(self, bundle_dir: Path, card: ModelCard) -> ModelCard:
        """Write the graph (and what else the family ships) bound to ``card``; the bound card."""
        self._enter("export")
        bound = self._export(bundle_dir, card)
        self._done.append("export")
        return bound

    def check(self, scorer: BundleScorer, rows: list[LabeledListing], *, split: str) -> Checked:
        """The written bundle against the in-memory model; raises ParityError when off."""
        self._enter("check")
        checked = self._check(scorer, rows, split)
        self._done.append("check")
        return checked

    @property
    def checked(self) -> bool:
        return "check" in self._done

    # -- what every family provides --------------------------------------------------------
    @abstractmethod
    def split(self, rows: list[LabeledListing]) -> FamilySplits: ...

    @abstractmethod
    def _fit(self, splits: FamilySplits, checkpoint_dir: Path | None) -> None: ...

    @abstractmethod
    def logits(self, rows: list[LabeledListing]) -> np.ndarray:
        """Raw logits (n, L) of the in-memory model that ships (after :meth:`fit`)."""

    @abstractmethod
    def ordering_logits(self) -> tuple[list[LabeledListing], np.ndarray]:
        """Rows and logits out of their model's fit that order the enforce candidates."""

    def training_record(self) -> dict[str, Any]:
        """What the card's ``training`` section adds for this family (fine-tuning figures)."""
        return {}

    @abstractmethod
    def card_fields(self) -> dict[str, Any]:
        """model_family, labels, regulated_categories, input/output names (after fit)."""

    @abstractmethod
    def _export(self, bundle_dir: Path, card: ModelCard) -> ModelCard: ...

    @abstractmethod
    def _check(self, scorer: BundleScorer, rows: list[LabeledListing], split: str) -> Checked: ...

    @property
    @abstractmethod
    def labels(self) -> list[str]: ...
