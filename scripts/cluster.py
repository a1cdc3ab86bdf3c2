"""Cluster the codes or their UMAP embedding (rule `cluster`): fitted on train and applied to
test (the train/test protocol), and fitted on train and test together (the all-images protocol).
With clustering.n_clusters auto, each protocol has the number of clusters choose_k chose for it."""

import numpy as np
from threadpoolctl import threadpool_limits

from saepipe.atomic import save_npy
from saepipe.cluster import centres, clustering_points, confidence, describe, fit_clusters
from saepipe.counts import cluster_counts
from saepipe.logs import logged_step

with logged_step(snakemake.log[0]) as log, threadpool_limits(snakemake.threads):
    settings, seed, inputs = snakemake.params.clustering, snakemake.params.seed, snakemake.input
    points = clustering_points(inputs, settings["normalize"])
    k = cluster_counts(settings["n_clusters"], inputs.get("chosen_k"))

    def fit(x, n_clusters):
        return fit_clusters(x, settings["method"], n_clusters, n_init=settings["n_init"],
                            max_iter=settings["max_iter"], seed=seed, covariance_type=settings["covariance_type"])

    log.info("%s: fitting %d clusters on %d train points of %d dims",
             settings["method"], k["train"], *points["train"].shape)
    model = fit(points["train"], k["train"])
    log.info("train fit: %s", describe(model))
    save_npy(snakemake.output.train, model.predict(points["train"]).astype(np.int64))
    save_npy(snakemake.output.train_confidence, confidence(model, points["train"]))
    save_npy(snakemake.output.test, model.predict(points["test"]).astype(np.int64))
    save_npy(snakemake.output.test_confidence, confidence(model, points["test"]))
    save_npy(snakemake.output.centroids, centres(model))
    log.info("%s: fitting %d clusters on all %d points (the all-images protocol)", settings["method"], k["all"],
             len(points["all"]))
    everything = fit(points["all"], k["all"])
    log.info("all fit: %s", describe(everything))
    save_npy(snakemake.output.all, everything.predict(points["all"]).astype(np.int64))
    save_npy(snakemake.output.all_confidence, confidence(everything, points["all"]))
