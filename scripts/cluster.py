"""KMeans fitted on the train embeddings, applied to test (rule `cluster`)."""

import numpy as np
from threadpoolctl import threadpool_limits

from saepipe.atomic import save_npy
from saepipe.cluster import fit_kmeans, normalize_rows
from saepipe.logs import logged_step

with logged_step(snakemake.log[0]) as log, threadpool_limits(snakemake.threads):
    params = snakemake.params
    train, test = np.load(snakemake.input.train), np.load(snakemake.input.test)
    if params.normalize:
        train, test = normalize_rows(train), normalize_rows(test)
    kmeans = fit_kmeans(train, params.n_clusters, params.n_init, params.max_iter, params.seed)
    log.info("KMeans: %d clusters, inertia %.4f after %d iterations",
             params.n_clusters, kmeans.inertia_, kmeans.n_iter_)
    save_npy(snakemake.output.train, kmeans.labels_.astype(np.int64))
    save_npy(snakemake.output.test, kmeans.predict(test).astype(np.int64))
    save_npy(snakemake.output.centroids, kmeans.cluster_centers_)
