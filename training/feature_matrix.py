"""Sparse feature matrices for scikit-learn, computed exactly as the exported ONNX graph does.

counts (n, D) -> TF-IDF with ``idf = log((1 + n) / (1 + df)) + 1`` for buckets seen in the fit
data and 0 for unseen ones (so an unseen n-gram neither scores nor dilutes), then L2-normalized
separately within each feature block.
"""

import numpy as np
import scipy.sparse as sp

from models.text_features import FeatureSpec, ListingFeatures

NORM_EPSILON = 1e-12


def count_matrix(features: list[ListingFeatures], spec: FeatureSpec) -> sp.csr_matrix:
    """Counts as CSR (n, spec.n_features); each listing's ids are already unique."""
    lengths = np.fromiter((len(item.ids) for item in features), dtype=np.int64)
    indptr = np.concatenate(([0], np.cumsum(lengths)))
    if len(features):
        indices = np.concatenate([item.ids for item in features])
        values = np.concatenate([item.counts for item in features]).astype(np.float64)
    else:
        indices, values = np.zeros(0, dtype=np.int64), np.zeros(0)
    return sp.csr_matrix((values, indices, indptr), shape=(len(features), spec.n_features))


def fit_idf(counts: sp.csr_matrix) -> np.ndarray:
    """Smoothed IDF per bucket (D,), zero for buckets no fit row contains."""
    n_rows = counts.shape[0]
    document_frequency = np.bincount(counts.indices, minlength=counts.shape[1])
    idf = np.log((1.0 + n_rows) / (1.0 + document_frequency)) + 1.0
    idf[document_frequency == 0] = 0.0
    return np.asarray(idf, dtype=np.float64)


def block_of_column(spec: FeatureSpec) -> np.ndarray:
    """Block index of every column (D,); the padding column 0 belongs to block 0."""
    result = np.zeros(spec.n_features, dtype=np.int64)
    for index, block in enumerate(spec.blocks()):
        result[block.offset : block.offset + block.n_buckets] = index
    return result


def tfidf_matrix(
    counts: sp.csr_matrix,
    idf: np.ndarray,
    spec: FeatureSpec,
    *,
    column_blocks: np.ndarray | None = None,
) -> sp.csr_matrix:
    """Block-wise L2-normalized TF-IDF, (n, D) CSR of float64; ``column_blocks``: the spec's
    :func:`block_of_column`, when the caller keeps it (it is D long)."""
    # Scales the stored values in place of a broadcast multiply (the same numbers, fewer steps).
    weighted = sp.csr_matrix(counts, copy=True)
    weighted.data = weighted.data * idf[weighted.indices]
    weighted.eliminate_zeros()  # buckets no fit row contains have IDF 0, as before
    weighted.sort_indices()
    rows = np.repeat(np.arange(weighted.shape[0]), np.diff(weighted.indptr))
    column_blocks = block_of_column(spec) if column_blocks is None else column_blocks
    blocks = column_blocks[weighted.indices]
    key = rows * spec.n_blocks + blocks
    squared = np.bincount(
        key, weights=weighted.data**2, minlength=weighted.shape[0] * spec.n_blocks
    )
    norms = np.sqrt(np.maximum(squared, NORM_EPSILON))
    weighted.data = weighted.data / norms[key]
    return weighted
