"""ONNX inference over a model bundle: calibrated scores, regulated category and reasons.

Imports only numpy, onnxruntime and our own run-time modules, so the serving process stays light.
"""

import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import onnxruntime as ort

from data.schema import Listing
from models.bundle import MODEL_FILE, ModelCard, read_card
from models.bundle_binding import check_fingerprint, check_model_file
from models.calibration import calibrate_logits
from models.errors import BundleError
from models.text_features import FeatureHasher, ListingFeatures, pad_batch

TOP_REASONS = 3
MAX_PADDED_SLOTS = 65_536


@dataclass(frozen=True)
class Reason:
    """A phrase of the listing and how much it pushed one label's logit up."""

    phrase: str
    weight: float


@dataclass(frozen=True)
class ListingScore:
    """The model's view of one listing: calibrated probability per label, category, reasons."""

    probabilities: dict[str, float]
    category: str | None
    """The most likely category of the taxonomy's category label (None: no category head)."""
    category_probabilities: dict[str, float]
    reasons: dict[str, list[Reason]]


HASHED_LINEAR_FAMILY = "hashed-ngram-linear"
SERVED_FAMILIES = (HASHED_LINEAR_FAMILY,)
"""Model families whose graphs this scorer runs (the card's ``model_family`` decides)."""


class BundleScorer:
    """Loads a bundle once; :meth:`score` is a pure function of the listings."""

    def __init__(
        self, bundle_dir: Path, *, threads: int | None = None, require_checked: bool = True
    ) -> None:
        self.bundle_dir = Path(bundle_dir)
        self.card: ModelCard = read_card(self.bundle_dir, require_checked=require_checked)
        if self.card.model_family not in SERVED_FAMILIES:
            raise BundleError(
                f"{self.bundle_dir / 'card.json'}: model family {self.card.model_family!r} is not "
                f"served by this build (it serves {list(SERVED_FAMILIES)})"
            )
        model_path = self.bundle_dir / MODEL_FILE
        check_model_file(self.card, model_path)
        self.hasher = FeatureHasher(self.card.feature_spec)
        self._session = _open_session(model_path, threads)
        check_fingerprint(self.card, self._session.get_modelmeta().custom_metadata_map, model_path)
        try:
            self._check_outputs()
        except BundleError:
            raise
        except Exception as error:  # onnxruntime's own errors carry a long native trace
            raise BundleError(
                f"{model_path}: the graph does not run on inputs its card describes: "
                f"{_first_line(error)}"
            ) from error

    @property
    def labels(self) -> list[str]:
        return self.card.labels

    def _run(self, features: list[ListingFeatures]) -> tuple[np.ndarray, ...]:
        outputs = self._session.run(list(self.card.output_names), pad_batch(features))
        return tuple(np.asarray(output) for output in outputs)

    def _check_outputs(self) -> None:
        names = [output.name for output in self._session.get_outputs()]
        if names != list(self.card.output_names):
            raise BundleError(f"{self.bundle_dir}: ONNX outputs {names} differ from the card's")
        probe = Listing(listing_id="probe", title="probe listing")
        logits, categories, contributions = self._run([self.hasher.transform_one(probe)])
        expected = {
            "risk_logits": (1, len(self.card.labels)),
            "category_probabilities": (1, len(self.card.regulated_categories)),
        }
        for (name, shape), actual in zip(expected.items(), (logits, categories), strict=True):
            if actual.shape != shape:
                raise BundleError(
                    f"{self.bundle_dir}: ONNX output {name} has shape {actual.shape}, "
                    f"the card implies {shape}"
                )
        if contributions.shape[2] != len(self.card.labels):
            raise BundleError(f"{self.bundle_dir}: ONNX contributions do not match card labels")

    def predict_logits(self, listings: list[Listing]) -> tuple[np.ndarray, np.ndarray]:
        """Raw logits (n, L) and category probabilities (n, C) for a batch of listings."""
        runs = [self._run(chunk) for chunk in padded_chunks(self.hasher.transform(listings))]
        if not runs:
            labels, categories = len(self.card.labels), len(self.card.regulated_categories)
            return np.zeros((0, labels), np.float32), np.zeros((0, categories), np.float32)
        return np.vstack([run[0] for run in runs]), np.vstack([run[1] for run in runs])

    def score(self, listings: list[Listing]) -> list[ListingScore]:
        """Score a batch: calibrated probabilities, category and top reasons per label."""
        maps = [self.card.calibration[label] for label in self.card.labels]
        results: list[ListingScore] = []
        for chunk in padded_chunks(self.hasher.transform(listings)):
            logits, categories, contributions = self._run(chunk)
            probabilities = calibrate_logits(logits, maps)
            results += [
                self._listing_score(probabilities[row], categories[row], contributions[row], item)
                for row, item in enumerate(chunk)
            ]
        return results

    def _listing_score(
        self,
        probabilities: np.ndarray,
        categories: np.ndarray,
        contributions: np.ndarray,
        features: ListingFeatures,
    ) -> ListingScore:
        names = self.card.regulated_categories
        category = names[int(np.argmax(categories))] if len(names) else None
        return ListingScore(
            probabilities=dict(zip(self.labels, probabilities.tolist(), strict=True)),
            category=category,
            category_probabilities=dict(zip(names, categories.tolist(), strict=True)),
            reasons={
                label: top_reasons(contributions[: len(features.ids), column], features.sources)
                for column, label in enumerate(self.labels)
            },
        )


def padded_chunks(
    features: list[ListingFeatures], *, max_slots: int = MAX_PADDED_SLOTS
) -> list[list[ListingFeatures]]:
    """Consecutive chunks whose padded size (rows x widest row) stays within ``max_slots``.

    Bounds inference memory: one listing with a long description would otherwise widen the
    padded arrays of the whole batch. A single listing always forms a chunk of its own.
    """
    chunks: list[list[ListingFeatures]] = []
    current: list[ListingFeatures] = []
    width = 0
    for item in features:
        new_width = max(width, len(item.ids))
        if current and new_width * (len(current) + 1) > max_slots:
            chunks.append(current)
            current, new_width = [], len(item.ids)
        current.append(item)
        width = new_width
    if current:
        chunks.append(current)
    return chunks


def top_reasons(
    contributions: np.ndarray, sources: list[str], *, limit: int = TOP_REASONS
) -> list[Reason]:
    """Phrases with the largest positive summed contribution; ``contributions`` (k,)."""
    totals: dict[str, float] = {}
    for phrase, weight in zip(sources, contributions.tolist(), strict=True):
        totals[phrase] = totals.get(phrase, 0.0) + weight
    ranked = sorted(totals.items(), key=lambda item: item[1], reverse=True)
    return [Reason(phrase, round(weight, 4)) for phrase, weight in ranked[:limit] if weight > 0]


def _open_session(path: Path, threads: int | None) -> ort.InferenceSession:
    options = ort.SessionOptions()
    options.intra_op_num_threads = threads or min(4, os.cpu_count() or 1)
    options.inter_op_num_threads = 1
    try:
        return ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])
    except Exception as error:  # onnxruntime raises its own untyped errors for bad graphs
        raise BundleError(
            f"{path}: onnxruntime cannot load the model: {_first_line(error)}"
        ) from error


def _first_line(error: Exception) -> str:
    lines = [line.strip() for line in str(error).splitlines() if line.strip()]
    return lines[0][:300] if lines else type(error).__name__
