"""The baseline: one linear classifier per label over hashed n-grams, plus a category head."""

from typing import Self

import numpy as np
import scipy.sparse as sp
from sklearn.linear_model import LogisticRegression

from data.schema import LabeledListing, Listing
from data.taxonomy import Taxonomy, default_taxonomy
from models.text_features import FeatureHasher, FeatureSpec, ListingFeatures
from training.errors import TrainingError
from training.feature_matrix import block_of_column, count_matrix, fit_idf, tfidf_matrix
from training.progress import Echo, StepProgress

HASH_CHUNK = 2000
"""Rows hashed between two progress reports."""


class NotFittedError(TrainingError):
    """A method that needs a fitted model was called before :meth:`HashedLinearModel.fit`."""


class HashedLinearModel:
    """Per-label logistic regression (class-balanced) and a multinomial head over the categories
    of the taxonomy's category label.

    Labels unknown for every row are not modelled; rows with an unknown label are left out of
    that label's fit only. ``taxonomy`` (default: the built-in one) orders the labels.
    """

    def __init__(
        self,
        spec: FeatureSpec,
        *,
        c: float = 4.0,
        category_c: float = 4.0,
        class_weight: str | None = "balanced",
        seed: int = 0,
        taxonomy: Taxonomy | None = None,
    ) -> None:
        self.spec = spec
        self.taxonomy = taxonomy or default_taxonomy()
        self.c = c
        self.category_c = category_c
        self.class_weight = class_weight
        self.seed = seed
        self._front_end: tuple[FeatureHasher, np.ndarray] | None = None
        """The hasher and the column-to-block map, built once (both depend on the spec only)."""

    def matrix(self, rows: list[LabeledListing]) -> sp.csr_matrix:
        """TF-IDF features (n, D) of labeled rows with the fitted IDF."""
        return self.matrix_of_listings([row.listing for row in rows])

    def matrix_of_listings(self, listings: list[Listing]) -> sp.csr_matrix:
        """TF-IDF features (n, D) of listings with the fitted IDF."""
        self._check_fitted()
        if self._front_end is None:
            self._front_end = (FeatureHasher(self.spec), block_of_column(self.spec))
        hasher, blocks = self._front_end
        counts = count_matrix(hasher.transform(listings), self.spec)
        return tfidf_matrix(counts, self.idf_, self.spec, column_blocks=blocks)

    def fit(
        self,
        rows: list[LabeledListing],
        *,
        progress: Echo | None = None,
        sample_weight: np.ndarray | None = None,
    ) -> Self:
        """Fit on ``rows`` (``sample_weight`` (n,): each row's weight, default 1); ``progress``
        (optional) receives lines with an ETA on long steps."""
        if not rows:
            raise TrainingError("no training rows")
        echo = progress or (lambda message: None)
        counts = count_matrix(self._hash_with_progress(rows, echo), self.spec)
        self.idf_ = fit_idf(counts)
        features = tfidf_matrix(counts, self.idf_, self.spec)
        carried = {label for row in rows for label in row.labels.values}
        outside = self.taxonomy.unknown_labels(carried)
        if outside:
            raise TrainingError(
                f"the rows carry labels {outside}; {self.taxonomy.valid_labels_text()}"
            )
        names = self.taxonomy.label_names
        self.labels_ = [label for label in names if label in carried and _known(rows, label).any()]
        if not self.labels_:
            raise TrainingError("every label is unknown in the training data")
        heads = StepProgress(echo, "fitting heads", len(self.labels_) + 1)
        fitted = []
        weights = np.ones(len(rows)) if sample_weight is None else np.asarray(sample_weight)
        for label in self.labels_:
            visible = self.visible_to(label, features)
            fitted.append(self._fit_label(visible, rows, label, weights))
            heads.advance()
        self.coef_ = np.column_stack([coef for coef, _ in fitted])
        self.intercept_ = np.array([intercept for _, intercept in fitted])
        self._fit_category_head(features, rows, weights)
        heads.finish(f" ({', '.join(self.labels_)} and the category head)")
        return self

    def _hash_with_progress(self, rows: list[LabeledListing], echo: Echo) -> list[ListingFeatures]:
        hasher = FeatureHasher(self.spec)
        hashing = StepProgress(echo, "hashing features", len(rows), unit=" rows")
        features: list[ListingFeatures] = []
        for start in range(0, len(rows), HASH_CHUNK):
            chunk = rows[start : start + HASH_CHUNK]
            features += hasher.transform([row.listing for row in chunk])
            hashing.advance(len(chunk))
        hashing.finish()
        return features

    def visible_to(self, label: str, features: sp.csr_matrix) -> sp.csr_matrix:
        """``features`` with the term groups reserved for other labels zeroed (weight stays 0)."""
        hasher = FeatureHasher(self.spec)
        hidden = [
            hasher.term_group_column(name)
            for name, group in self.spec.term_groups.items()
            if label not in group.labels
        ]
        if not hidden:
            return features
        keep = np.ones(features.shape[1])
        keep[hidden] = 0.0
        return sp.csr_matrix(features @ sp.diags(keep))

    def _fit_label(
        self, features: sp.csr_matrix, rows: list[LabeledListing], label: str, weights: np.ndarray
    ) -> tuple[np.ndarray, float]:
        known = _known(rows, label)
        y = np.array([row.labels.value(label) or 0 for row in rows])[known]
        if len(np.unique(y)) < 2:
            raise TrainingError(f"label {label!r} has a single class in the training data")
        classifier = LogisticRegression(
            C=self.c, class_weight=self.class_weight, solver="liblinear", random_state=self.seed
        )
        classifier.fit(features[known], y, sample_weight=weights[known])
        return classifier.coef_[0].astype(np.float64), float(classifier.intercept_[0])

    def _fit_category_head(
        self, features: sp.csr_matrix, rows: list[LabeledListing], weights: np.ndarray
    ) -> None:
        picked = [i for i, row in enumerate(rows) if row.labels.category is not None]
        targets = [rows[i].labels.category for i in picked]
        seen = [name for name in self.taxonomy.categories if name in set(targets)]
        carrier = self.taxonomy.category_label
        self.categories_: list[str] = seen if carrier in self.labels_ and len(seen) > 1 else []
        if not self.categories_:
            self.category_coef_ = np.zeros((self.spec.n_features, 0))
            self.category_intercept_ = np.zeros(0)
            return
        head = LogisticRegression(
            C=self.category_c,
            class_weight=self.class_weight,
            max_iter=2000,
            random_state=self.seed,
        )
        # Fit on the columns regulated rows use: the same optimum (an unused column's weight
        # stays 0 under L2), several times faster than over every hash bucket.
        rows_matrix = features[picked]
        used = np.unique(rows_matrix.indices)
        head.fit(
            rows_matrix[:, used],
            np.array([seen.index(str(t)) for t in targets]),
            sample_weight=weights[picked],
        )
        compact_coef, self.category_intercept_ = _expand_head(head, len(seen))
        self.category_coef_ = np.zeros((features.shape[1], len(seen)))
        self.category_coef_[used] = compact_coef

    def decision_function(self, features: sp.csr_matrix) -> np.ndarray:
        """Raw logits (n, L) for TF-IDF features (n, D)."""
        self._check_fitted()
        logits: np.ndarray = np.asarray(features @ self.coef_) + self.intercept_
        return logits

    def category_probabilities(self, features: sp.csr_matrix) -> np.ndarray:
        """Softmax of the category head (n, C); (n, 0) when there is no head."""
        self._check_fitted()
        logits = np.asarray(features @ self.category_coef_) + self.category_intercept_
        if logits.shape[1] == 0:
            return logits
        shifted = np.exp(logits - logits.max(axis=1, keepdims=True))
        result: np.ndarray = shifted / shifted.sum(axis=1, keepdims=True)
        return result

    def _check_fitted(self) -> None:
        if not hasattr(self, "coef_"):
            raise NotFittedError("HashedLinearModel is not fitted: call fit(rows) first")


def _known(rows: list[LabeledListing], label: str) -> np.ndarray:
    return np.array([row.labels.value(label) is not None for row in rows], dtype=bool)


def _expand_head(head: LogisticRegression, n_classes: int) -> tuple[np.ndarray, np.ndarray]:
    """Coefficients (D, C) and intercepts (C,) of a fitted multinomial head, in softmax form."""
    if n_classes == 2:
        # scikit-learn stores one row for two classes; softmax([0, z]) equals sigmoid(z).
        coef = np.column_stack([np.zeros(head.coef_.shape[1]), head.coef_[0]])
        return coef, np.array([0.0, float(head.intercept_[0])])
    return head.coef_.T.astype(np.float64), head.intercept_.astype(np.float64)
