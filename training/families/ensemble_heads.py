"""The ensemble's heads: one logit per label, linear in the n-gram TF-IDF features and the
fine-tuned encoder's pooled embedding, so one graph serves any mix of the two kinds.

* blend: a logistic regression on the two members' logits, fitted on the tune split (the
  members' own heads, reweighted).
* joint: one logistic regression (the baseline's class weighting) over the label's n-gram
  features and the pooled embedding, fitted on the fit split. The embedding is divided by its
  median norm on fit and multiplied by a scale; the encoder was fine-tuned on those same rows, so
  how far the head may lean on it (the scale) is chosen on the tune split.

``head: auto`` keeps per label the kind (and scale) with the higher tune-split average precision.
The blend's tune figure is in-sample for its three parameters (a small optimism); nothing here
reads validation.
"""

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import scipy.sparse as sp
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import average_precision_score

from data.schema import LabeledListing
from models.bundle import BlendWeights, JointHead
from training.baseline import HashedLinearModel
from training.config import EnsembleParams
from training.errors import TrainingError


@dataclass(frozen=True)
class SplitFeatures:
    """One split's head inputs: TF-IDF rows (n, D), pooled embeddings (n, H), targets."""

    tfidf: sp.csr_matrix
    pooled: np.ndarray
    rows: list[LabeledListing]
    weights: np.ndarray | None = None
    """Each row's design weight for fitting (capped), or None: every row once."""

    def target(self, label: str) -> tuple[np.ndarray, np.ndarray]:
        """(rows where the label is known, their 0/1 values)."""
        values = [row.labels.value(label) for row in self.rows]
        known = np.array([value is not None for value in values], dtype=bool)
        return known, np.array([value or 0 for value in values], dtype=np.int64)[known]

    def weights_of(self, known: np.ndarray) -> np.ndarray | None:
        return None if self.weights is None else self.weights[known]


@dataclass(frozen=True)
class EncoderHead:
    """The fine-tuned encoder's risk head: logits = pooled @ weight.T + bias."""

    weight: np.ndarray
    """(L, H)"""
    bias: np.ndarray
    """(L,)"""


@dataclass
class LinearHeads:
    """Per label: ``tfidf @ ngram_coef[:, l] + pooled @ embedding[:, l] + intercept[l]``."""

    ngram_coef: np.ndarray
    """(D, L)"""
    embedding: np.ndarray
    """(H, L)"""
    intercept: np.ndarray
    """(L,)"""
    blends: dict[str, BlendWeights]
    joints: dict[str, JointHead]
    tune_average_precision: dict[str, dict[str, float]]
    """Per label, each candidate's tune-split average precision (what auto chose from)."""

    def logits(self, tfidf: sp.csr_matrix, pooled: np.ndarray) -> np.ndarray:
        ngrams = np.asarray(tfidf @ self.ngram_coef)
        result: np.ndarray = ngrams + pooled.astype(np.float64) @ self.embedding + self.intercept
        return result


def fit_heads(
    hashed: HashedLinearModel,
    encoder: EncoderHead,
    fit: SplitFeatures,
    tune: SplitFeatures,
    tune_encoder_logits: np.ndarray,
    params: EnsembleParams,
    *,
    class_weight: str | None,
    seed: int,
    progress: Callable[[str], None],
) -> LinearHeads:
    labels = list(hashed.labels_)
    n_features, hidden = hashed.coef_.shape[0], encoder.weight.shape[1]
    heads = LinearHeads(
        ngram_coef=np.zeros((n_features, len(labels))),
        embedding=np.zeros((hidden, len(labels))),
        intercept=np.zeros(len(labels)),
        blends={},
        joints={},
        tune_average_precision={},
    )
    norms = np.linalg.norm(fit.pooled, axis=1)
    unit = 1.0 / float(np.median(norms[norms > 0])) if (norms > 0).any() else 1.0
    tune_hashed = hashed.decision_function(tune.tfidf)
    for column, label in enumerate(labels):
        known, y = tune.target(label)
        if len(set(y.tolist())) < 2:
            raise TrainingError(
                f"the tune split holds a single class of {label}: cannot choose the ensemble's "
                "head (raise transformer.tune_fraction)"
            )
        candidates: dict[str, tuple[np.ndarray, np.ndarray, float]] = {}
        scores: dict[str, float] = {}
        if params.head in ("auto", "blend"):
            blend = _blend(
                tune_hashed[known, column],
                tune_encoder_logits[known, column],
                y,
                tune.weights_of(known),
            )
            candidates["blend"] = (
                blend.hashed * hashed.coef_[:, column],
                blend.transformer * encoder.weight[column],
                blend.hashed * hashed.intercept_[column]
                + blend.transformer * encoder.bias[column]
                + blend.bias,
            )
            heads.blends[label] = blend
        if params.head in ("auto", "joint"):
            visible = hashed.visible_to(label, fit.tfidf)
            for scale in params.embedding_scales:
                candidates[f"joint x{scale:g}"] = _joint(
                    visible, fit, label, scale * unit, params.c, class_weight, seed
                )
        for name, (ngram, embedding, bias) in candidates.items():
            tune_logits = tune.tfidf[known] @ ngram + tune.pooled[known] @ embedding + bias
            scores[name] = float(average_precision_score(y, np.asarray(tune_logits)))
        chosen = max(scores, key=lambda name: (scores[name], name == "blend"))
        ngram, embedding, bias = candidates[chosen]
        heads.ngram_coef[:, column] = ngram
        heads.embedding[:, column] = embedding
        heads.intercept[column] = bias
        heads.tune_average_precision[label] = scores
        if chosen != "blend":
            heads.blends.pop(label, None)
            heads.joints[label] = JointHead(
                embedding_scale=float(chosen.removeprefix("joint x")),
                tune_average_precision=scores[chosen],
                blend_tune_average_precision=scores.get("blend"),
            )
        progress(
            f"{label}: tune average precision "
            + ", ".join(f"{name} {value:.3f}" for name, value in scores.items())
            + f" -> {chosen}"
        )
    return heads


def _blend(
    hashed: np.ndarray, encoder: np.ndarray, y: np.ndarray, weights: np.ndarray | None
) -> BlendWeights:
    fitted = LogisticRegression(C=1.0, max_iter=1000).fit(
        np.column_stack([hashed, encoder]), y, sample_weight=weights
    )
    return BlendWeights(
        hashed=float(fitted.coef_[0, 0]),
        transformer=float(fitted.coef_[0, 1]),
        bias=float(fitted.intercept_[0]),
    )


def _joint(
    visible: sp.csr_matrix,
    fit: SplitFeatures,
    label: str,
    unit: float,
    c: float,
    class_weight: str | None,
    seed: int,
) -> tuple[np.ndarray, np.ndarray, float]:
    """(n-gram coefficients, embedding coefficients in raw pooled units, intercept)."""
    known, y = fit.target(label)
    if len(set(y.tolist())) < 2:
        raise TrainingError(f"label {label!r} has a single class in the fit split")
    features = sp.hstack([visible[known], sp.csr_matrix(fit.pooled[known] * unit)]).tocsr()
    classifier = LogisticRegression(
        C=c, class_weight=class_weight, solver="liblinear", random_state=seed
    ).fit(features, y, sample_weight=fit.weights_of(known))
    coef = classifier.coef_[0].astype(np.float64)
    n_features = visible.shape[1]
    return coef[:n_features], coef[n_features:] * unit, float(classifier.intercept_[0])
