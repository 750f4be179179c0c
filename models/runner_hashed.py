"""The hashed-linear family's graph: hashed n-gram features in, logits and contributions out."""

import numpy as np
import onnxruntime as ort

from data.schema import Listing
from models.bundle import ModelCard
from models.score_types import GraphOutputs, Reason, top_reasons
from models.text_features import FeatureHasher, ListingFeatures, pad_batch

MAX_PADDED_SLOTS = 65_536


class HashedLinearRunner:
    """Runs a hashed-linear graph; reasons are the phrases with the largest contributions."""

    def __init__(self, card: ModelCard, session: ort.InferenceSession) -> None:
        self.card = card
        self.session = session
        self.hasher = FeatureHasher(card.feature_spec)

    def run(self, listings: list[Listing], *, reasons: bool) -> GraphOutputs:
        logits, categories, explained = [], [], []
        for chunk in padded_chunks(self.hasher.transform(listings)):
            chunk_logits, chunk_categories, contributions = self.session.run(
                list(self.card.output_names), pad_batch(chunk)
            )
            logits.append(np.asarray(chunk_logits))
            categories.append(np.asarray(chunk_categories))
            if reasons:
                explained += explain(np.asarray(contributions), chunk, self.card.labels)
        return stacked(self.card, logits, categories, explained if reasons else None)


def explain(
    contributions: np.ndarray, features: list[ListingFeatures], labels: list[str]
) -> list[dict[str, list[Reason]]]:
    """Top phrases per listing and label from contributions (n, k, L) of padded features."""
    return [
        top_reasons(contributions[row, : len(item.ids)], item.phrase_of, item.phrases, labels)
        for row, item in enumerate(features)
    ]


def stacked(
    card: ModelCard,
    logits: list[np.ndarray],
    categories: list[np.ndarray],
    reasons: list[dict[str, list[Reason]]] | None,
) -> GraphOutputs:
    """Chunks' outputs as one batch (an empty batch keeps the card's widths)."""
    if not logits:
        return GraphOutputs(
            np.zeros((0, len(card.labels)), np.float32),
            np.zeros((0, len(card.regulated_categories)), np.float32),
            [] if reasons is not None else None,
        )
    return GraphOutputs(np.vstack(logits), np.vstack(categories), reasons)


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
