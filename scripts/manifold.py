"""UMAP of the codes: fitted on train and applied to test (rule `manifold`), or fitted on train
and test together, the all-images protocol (rule `manifold_all`)."""

import time

import numpy as np
from threadpoolctl import threadpool_limits

from saepipe.atomic import save_npy
from saepipe.data import load_npy
from saepipe.logs import logged_step

OPTIONS = ("n_components", "n_neighbors", "min_dist", "metric")


def map_train_and_test(train: np.ndarray, test: np.ndarray, options: dict, seed: int, log, output) -> None:
    start = time.perf_counter()
    log.info("UMAP 1/2: fitting %d train codes to %d dims (%d neighbours, min_dist %g)",
             len(train), options["n_components"], options["n_neighbors"], options["min_dist"])
    reducer = fit_umap(train, seed=seed, **options)
    save_npy(output.train, reducer.embedding_.astype(np.float32))
    log.info("UMAP 2/2: transforming %d test codes (%.0f s so far)", len(test), time.perf_counter() - start)
    save_npy(output.test, reducer.transform(test).astype(np.float32))
    log.info("UMAP done in %.0f s", time.perf_counter() - start)


def map_all(train: np.ndarray, test: np.ndarray, options: dict, seed: int, log, output) -> None:
    start = time.perf_counter()
    everything = np.concatenate([train, test])
    log.info("UMAP: fitting all %d codes to %d dims, the all-images protocol (%d neighbours, min_dist %g)",
             len(everything), options["n_components"], options["n_neighbors"], options["min_dist"])
    save_npy(output.all, fit_umap(everything, seed=seed, **options).embedding_.astype(np.float32))
    log.info("UMAP done in %.0f s", time.perf_counter() - start)


# umap-learn imports TensorFlow when it is installed: what that prints goes to the log.
with logged_step(snakemake.log[0], native_stderr_to_log=True) as log, threadpool_limits(snakemake.threads):
    from saepipe.manifold import cache_compiled_code, fit_umap

    log.info("numba's compiled code for UMAP cached in %s (%d functions)", snakemake.params.compile_cache,
             cache_compiled_code(snakemake.params.compile_cache))
    options = {key: snakemake.params.manifold[key] for key in OPTIONS}
    codes = load_npy(snakemake.input.train), load_npy(snakemake.input.test)
    protocol = {"all": map_all, "train_test": map_train_and_test}[snakemake.params.protocol]
    protocol(*codes, options, snakemake.params.seed, log, snakemake.output)
