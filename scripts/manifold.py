"""UMAP of the codes (rule `manifold`): fitted on train and applied to test, and fitted on all."""

import time

import numpy as np
from threadpoolctl import threadpool_limits

from saepipe.atomic import save_npy
from saepipe.data import load_npy
from saepipe.logs import logged_step

with logged_step(snakemake.log[0]) as log, threadpool_limits(snakemake.threads):
    from saepipe.manifold import cache_compiled_code, fit_umap

    log.info("numba's compiled code for UMAP cached in %s (%d functions)", snakemake.params.compile_cache,
             cache_compiled_code(snakemake.params.compile_cache))
    settings, seed = snakemake.params.manifold, snakemake.params.seed
    options = {key: settings[key] for key in ("n_components", "n_neighbors", "min_dist", "metric")}
    train, test = load_npy(snakemake.input.train), load_npy(snakemake.input.test)

    start = time.perf_counter()
    log.info("UMAP 1/3: fitting %d train codes to %d dims (%d neighbours, min_dist %g)",
             len(train), settings["n_components"], settings["n_neighbors"], settings["min_dist"])
    reducer = fit_umap(train, seed=seed, **options)
    save_npy(snakemake.output.train, reducer.embedding_.astype(np.float32))
    log.info("UMAP 2/3: transforming %d test codes (%.0f s so far)", len(test), time.perf_counter() - start)
    save_npy(snakemake.output.test, reducer.transform(test).astype(np.float32))
    everything = np.concatenate([train, test])
    log.info("UMAP 3/3: fitting all %d codes, the literature's protocol (%.0f s so far)",
             len(everything), time.perf_counter() - start)
    save_npy(snakemake.output.all, fit_umap(everything, seed=seed, **options).embedding_.astype(np.float32))
    log.info("UMAP done in %.0f s", time.perf_counter() - start)
