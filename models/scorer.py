"""ONNX inference over a model bundle: calibrated scores, category and reasons, for any family.

The card's ``model_family`` picks the runner that turns listings into the graph's inputs (hashed
n-grams, token ids, or both); everything after the graph — calibration, category, reasons — is
the same for every family, so nothing outside this module knows which family it serves. Imports
only numpy, onnxruntime, tokenizers and our own run-time modules: the serving process stays light.
"""

import os
from pathlib import Path
from typing import Protocol

import numpy as np
import onnxruntime as ort

from data.schema import Listing
from models.bundle import (
    ENSEMBLE_FAMILY,
    FAMILY_IO,
    HASHED_LINEAR_FAMILY,
    MODEL_FILE,
    TRANSFORMER_FAMILY,
    ModelCard,
    read_card,
)
from models.bundle_binding import check_fingerprint, check_model_file
from models.calibration import calibrate_logits
from models.errors import BundleError
from models.reference_scores import reference_drift
from models.runner_hashed import HashedLinearRunner, padded_chunks
from models.runner_tokens import EnsembleRunner, TransformerRunner
from models.score_types import GraphOutputs, ListingScore, Reason, top_reasons

__all__ = [
    "HASHED_LINEAR_FAMILY",
    "SERVED_FAMILIES",
    "BundleScorer",
    "ListingScore",
    "Reason",
    "padded_chunks",
    "top_reasons",
]

SERVED_FAMILIES = tuple(FAMILY_IO)
"""Model families whose graphs this scorer runs (the card's ``model_family`` decides)."""


class Runner(Protocol):
    def run(self, listings: list[Listing], *, reasons: bool) -> GraphOutputs: ...


class BundleScorer:
    """Loads a bundle once; :meth:`score` is a pure function of the listings."""

    def __init__(
        self, bundle_dir: Path, *, threads: int | None = None, require_checked: bool = True
    ) -> None:
        self.bundle_dir = Path(bundle_dir)
        self.card: ModelCard = read_card(self.bundle_dir, require_checked=require_checked)
        model_path = self.bundle_dir / MODEL_FILE
        check_model_file(self.card, model_path)
        self._session = _open_session(model_path, threads)
        check_fingerprint(self.card, self._session.get_modelmeta().custom_metadata_map, model_path)
        self._runner = _runner(self.card, self._session, self.bundle_dir)
        try:
            self._check_outputs()
        except BundleError:
            raise
        except Exception as error:  # onnxruntime's own errors carry a long native trace
            raise BundleError(
                f"{model_path}: the graph does not run on inputs its card describes: "
                f"{_first_line(error)}"
            ) from error
        # The training run reads its bundle before the reference scores exist.
        if require_checked and self.card.reference_scores is not None:
            drift = reference_drift(self.card.reference_scores, self.calibrated)
            if drift is not None:
                raise BundleError(f"{self.bundle_dir}: {drift}")

    @property
    def labels(self) -> list[str]:
        return self.card.labels

    def _check_outputs(self) -> None:
        names = [output.name for output in self._session.get_outputs()]
        if names != list(self.card.output_names):
            raise BundleError(f"{self.bundle_dir}: ONNX outputs {names} differ from the card's")
        inputs = [item.name for item in self._session.get_inputs()]
        if inputs != list(self.card.input_names):
            raise BundleError(f"{self.bundle_dir}: ONNX inputs {inputs} differ from the card's")
        probe = self._runner.run([Listing(listing_id="probe", title="probe listing")], reasons=True)
        expected = {
            "risk_logits": (1, len(self.card.labels)),
            "category_probabilities": (1, len(self.card.regulated_categories)),
        }
        for (name, shape), actual in zip(
            expected.items(), (probe.logits, probe.categories), strict=True
        ):
            if actual.shape != shape:
                raise BundleError(
                    f"{self.bundle_dir}: ONNX output {name} has shape {actual.shape}, "
                    f"the card implies {shape}"
                )

    def predict_logits(self, listings: list[Listing]) -> tuple[np.ndarray, np.ndarray]:
        """Raw logits (n, L) and category probabilities (n, C) for a batch of listings."""
        outputs = self._runner.run(listings, reasons=False)
        return outputs.logits, outputs.categories

    def calibrated(self, listings: list[Listing]) -> tuple[np.ndarray, np.ndarray]:
        """Calibrated probabilities (n, L) and category probabilities (n, C), without reasons:
        the same numbers as :meth:`score`, for evaluation and certification."""
        logits, categories = self.predict_logits(listings)
        maps = [self.card.calibration[label] for label in self.card.labels]
        return calibrate_logits(logits, maps), categories

    def score(self, listings: list[Listing]) -> list[ListingScore]:
        """Score a batch: calibrated probabilities, category and top reasons per label."""
        outputs = self._runner.run(listings, reasons=True)
        maps = [self.card.calibration[label] for label in self.card.labels]
        probabilities = calibrate_logits(outputs.logits, maps)
        names = self.card.regulated_categories
        reasons = outputs.reasons or []
        return [
            ListingScore(
                probabilities=dict(zip(self.labels, probabilities[row].tolist(), strict=True)),
                category=names[int(np.argmax(outputs.categories[row]))] if names else None,
                category_probabilities=dict(
                    zip(names, outputs.categories[row].tolist(), strict=True)
                ),
                reasons=reasons[row],
            )
            for row in range(len(listings))
        ]


def _runner(card: ModelCard, session: ort.InferenceSession, bundle_dir: Path) -> Runner:
    if card.model_family == TRANSFORMER_FAMILY:
        return TransformerRunner(card, session, bundle_dir)
    if card.model_family == ENSEMBLE_FAMILY:
        return EnsembleRunner(card, session, bundle_dir)
    return HashedLinearRunner(card, session)


def _open_session(path: Path, threads: int | None) -> ort.InferenceSession:
    options = ort.SessionOptions()
    options.intra_op_num_threads = threads or min(4, os.cpu_count() or 1)
    options.inter_op_num_threads = 1
    # Idle intra-op threads sleep instead of spinning: on a server's few cores the spin burns
    # the CPU its Python and database need (measured: 60% more CPU per listing, same speed).
    options.add_session_config_entry("session.intra_op.allow_spinning", "0")
    try:
        return ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])
    except Exception as error:  # onnxruntime raises its own untyped errors for bad graphs
        raise BundleError(
            f"{path}: onnxruntime cannot load the model: {_first_line(error)}"
        ) from error


def _first_line(error: Exception) -> str:
    lines = [line.strip() for line in str(error).splitlines() if line.strip()]
    return lines[0][:300] if lines else type(error).__name__
