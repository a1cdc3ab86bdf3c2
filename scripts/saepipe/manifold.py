"""UMAP of the codes (N2D's manifold step): fitted on train, applied to test."""

from __future__ import annotations

import numpy as np


def fit_umap(x: np.ndarray, n_components: int, n_neighbors: int, min_dist: float, metric: str, seed: int):
    """A fitted umap.UMAP. A fixed random_state makes UMAP deterministic (and single-threaded)."""
    import umap

    if n_neighbors >= len(x):
        raise ValueError(
            f"manifold.n_neighbors is {n_neighbors} but there are only {len(x)} points to embed"
        )
    if n_components >= len(x) - 1:
        raise ValueError(
            f"manifold.n_components is {n_components} but there are only {len(x)} points to embed"
        )
    reducer = umap.UMAP(
        n_components=n_components,
        n_neighbors=n_neighbors,
        min_dist=min_dist,
        metric=metric,
        random_state=seed,
        n_jobs=1,  # what a seed implies anyway; said here, UMAP does not warn about it
    )
    return reducer.fit(x)
