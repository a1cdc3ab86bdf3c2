"""KMeans on the embeddings: fitted on train, applied to test."""

from __future__ import annotations

import numpy as np


def fit_kmeans(x: np.ndarray, n_clusters: int, n_init: int, max_iter: int, seed: int):
    """A fitted sklearn KMeans; the seed fixes its initialisations."""
    from sklearn.cluster import KMeans

    if n_clusters > len(x):
        raise ValueError(
            f"clustering.n_clusters is {n_clusters} but there are only {len(x)} training samples"
        )
    return KMeans(n_clusters=n_clusters, n_init=n_init, max_iter=max_iter, random_state=seed).fit(x)


def normalize_rows(x: np.ndarray) -> np.ndarray:
    """Scale each code to unit length, so KMeans groups codes by direction (cosine distance)."""
    norms = np.linalg.norm(x, axis=1, keepdims=True)
    return (x / np.maximum(norms, 1e-12)).astype(x.dtype)
