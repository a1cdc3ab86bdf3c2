"""UMAP of the codes (N2D's manifold step): fitted on train, applied to test."""

from __future__ import annotations

import os
import sys

import numpy as np

CACHED_PACKAGES = ("umap", "pynndescent")


def cache_compiled_code(folder: str | os.PathLike) -> int:
    """Keep numba's compiled UMAP code in `folder`, so a fresh process loads it, not compiles it.

    pynndescent marks its functions for numba's cache, UMAP mostly does not: without this each
    manifold job spends most of its first fit compiling. The compiled code is the same, so are
    the results. Call before the first fit; returns how many functions are cached.
    """
    os.environ["NUMBA_CACHE_DIR"] = str(folder)  # read when numba is first imported
    import numba
    import umap  # noqa: F401 - loads the modules whose functions are cached below
    from numba.core.caching import NullCache
    from numba.core.registry import CPUDispatcher

    numba.config.CACHE_DIR = str(folder)  # in case numba was imported before
    cached = 0
    for name, module in list(sys.modules.items()):
        if name.split(".")[0] not in CACHED_PACKAGES:
            continue
        for function in list(vars(module).values()):
            if isinstance(function, CPUDispatcher) and isinstance(function._cache, NullCache):
                function.enable_caching()
                cached += 1
    return cached


def fit_umap(x: np.ndarray, *, n_components: int, n_neighbors: int, min_dist: float, metric: str, seed: int):
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
