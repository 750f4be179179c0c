"""The tokenized families' graphs: the transformer alone, and the ensemble with the n-grams.

An int8 graph runs one listing at a time (dynamic quantization scales activations over the
whole input, so a batch would change each listing's score); fp32 graphs run in batches.

Reasons of the transformer are occlusion: the drop of a label's logit when one title word is
left out (at most ``OCCLUDED_WORDS`` distinct words, one extra batched run per listing). The
ensemble reports its n-gram part's contributions instead (scaled by the blend weight): cheap,
and honest about being the linear member's view, not the encoder's.
"""

from pathlib import Path

import numpy as np
import onnxruntime as ort

from data.schema import Listing
from models.bundle import TOKEN_INPUT_NAMES, TOKENIZER_FILE, ModelCard
from models.runner_hashed import explain, padded_chunks, stacked
from models.score_types import TOP_REASONS, GraphOutputs, Reason
from models.text_features import FeatureHasher, pad_batch
from models.token_text import TokenEncoder

TOKEN_BATCH = 64
OCCLUDED_WORDS = 8


def token_encoder(card: ModelCard, bundle_dir: Path) -> TokenEncoder:
    assert card.encoder is not None  # read_card checked it for tokenized families
    return TokenEncoder(
        bundle_dir / TOKENIZER_FILE,
        max_length=card.encoder.max_length,
        feature_spec=card.feature_spec,
    )


def runs_alone(card: ModelCard) -> bool:
    """Whether each listing must run alone (an int8 graph: see the module docstring)."""
    return card.encoder is not None and card.encoder.weights == "int8"


def run_inputs(
    session: ort.InferenceSession,
    names: list[str],
    inputs: dict[str, np.ndarray],
    *,
    alone: bool,
) -> list[np.ndarray]:
    """The graph's outputs for a batch of inputs; row by row when ``alone``, each row's tokens
    cut to its own length (as if it had been sent alone)."""
    if not alone:
        return [np.asarray(output) for output in session.run(names, inputs)]
    lengths = inputs["attention_mask"].sum(axis=1)
    parts = []
    for row, length in enumerate(lengths.tolist()):
        single = {name: value[row : row + 1] for name, value in inputs.items()}
        for name in TOKEN_INPUT_NAMES:
            single[name] = single[name][:, : max(int(length), 1)]
        parts.append(session.run(names, single))
    return [np.concatenate([part[i] for part in parts]) for i in range(len(names))]


class TransformerRunner:
    def __init__(self, card: ModelCard, session: ort.InferenceSession, bundle_dir: Path):
        self.card, self.session = card, session
        self.encoder = token_encoder(card, bundle_dir)
        self.alone = runs_alone(card)

    def _logits(
        self, texts: list[str], *, alone: bool | None = None
    ) -> tuple[np.ndarray, np.ndarray]:
        outputs = run_inputs(
            self.session,
            list(self.card.output_names),
            self.encoder.encode_texts(texts),
            alone=self.alone if alone is None else alone,
        )
        return outputs[0], outputs[1]

    def run(self, listings: list[Listing], *, reasons: bool) -> GraphOutputs:
        logits, categories, explained = [], [], []
        for start in range(0, len(listings), TOKEN_BATCH):
            chunk = listings[start : start + TOKEN_BATCH]
            chunk_logits, chunk_categories = self._logits([self.encoder.text(x) for x in chunk])
            logits.append(chunk_logits)
            categories.append(chunk_categories)
            if reasons:
                explained += self._occlusion(chunk, chunk_logits)
        return stacked(self.card, logits, categories, explained if reasons else None)

    def _occlusion(
        self, listings: list[Listing], full: np.ndarray
    ) -> list[dict[str, list[Reason]]]:
        """Per listing, its title words whose removal lowers a label's logit the most. The
        variants of one listing run together (an approximation under int8: explanations, not
        scores)."""
        result: list[dict[str, list[Reason]]] = []
        for row, listing in enumerate(listings):
            words = list(dict.fromkeys(self.encoder.words(listing.title)))[:OCCLUDED_WORDS]
            if not words:
                result.append({label: [] for label in self.card.labels})
                continue
            variants = [self.encoder.text(listing, without=word) for word in words]
            drops = full[row] - self._logits(variants, alone=False)[0]
            result.append(
                {
                    label: [
                        Reason(words[i], round(float(drops[i, column]), 4))
                        for i in np.argsort(-drops[:, column])[:TOP_REASONS]
                        if drops[i, column] > 0
                    ]
                    for column, label in enumerate(self.card.labels)
                }
            )
        return result


class EnsembleRunner:
    def __init__(self, card: ModelCard, session: ort.InferenceSession, bundle_dir: Path):
        self.card, self.session = card, session
        self.encoder = token_encoder(card, bundle_dir)
        self.hasher = FeatureHasher(card.feature_spec)
        self.alone = runs_alone(card)

    def run(self, listings: list[Listing], *, reasons: bool) -> GraphOutputs:
        logits, categories, explained = [], [], []
        features = self.hasher.transform(listings)
        start = 0
        for chunk in padded_chunks(features, max_slots=TOKEN_BATCH * 1024):
            for offset in range(0, len(chunk), TOKEN_BATCH):
                part = chunk[offset : offset + TOKEN_BATCH]
                batch = listings[start + offset : start + offset + len(part)]
                inputs = {**pad_batch(part), **self.encoder.encode(batch)}
                outputs = run_inputs(
                    self.session, list(self.card.output_names), inputs, alone=self.alone
                )
                logits.append(outputs[0])
                categories.append(outputs[1])
                if reasons:
                    explained += explain(np.asarray(outputs[2]), part, self.card.labels)
            start += len(chunk)
        return stacked(self.card, logits, categories, explained if reasons else None)
