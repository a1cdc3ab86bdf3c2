"""Score the clusters against the true labels (rule `evaluate`): metrics.json and a tidy table.

Two protocols, kept apart: the seed's ("train", "test": clusters fitted on train, mapped to labels
from the training labels) and the literature's ("all": fitted and scored on train and test together).
"""

import json

import numpy as np
import pandas as pd

from saepipe.atomic import atomic_path, save_json
from saepipe.data import load_npy, load_split
from saepipe.logs import logged_step
from saepipe.metrics import cluster_scores, contingency, literature_scores


def protocol_scores(labels: dict, clusters: dict, params) -> dict:
    """Both protocols' scores of one set of assignments (train, test and all)."""
    scores = cluster_scores(labels["train"], clusters["train"], labels["test"], clusters["test"],
                            params.n_classes, params.n_clusters)
    scores["all"] = literature_scores(np.concatenate([labels["train"], labels["test"]]), clusters["all"],
                                      params.n_classes, params.n_clusters)
    return scores


with logged_step(snakemake.log[0]) as log:
    inputs, params = snakemake.input, snakemake.params
    labels = {split: load_split(inputs[split])["y"] for split in ("train", "test")}
    clusters = {split: load_npy(inputs[f"{split}_clusters"]) for split in ("train", "test", "all")}
    scores = protocol_scores(labels, clusters, params)
    if "before_train" in inputs.keys():
        # A refined run: the clustering's own scores too (no maps), so the refinement's gain shows.
        before = {split: load_npy(inputs[f"before_{split}"]) for split in ("train", "test", "all")}
        scores["before"] = {split: score for split, score in protocol_scores(labels, before, params).items()
                            if split in ("train", "test", "all")}
    mse = json.loads(open(inputs.mse).read())
    tables = {split: contingency(labels[split], clusters[split], params.n_classes, params.n_clusters)
              for split in ("train", "test")}
    for split in ("train", "test"):
        scores[split]["reconstruction_mse"] = mse[split]
        scores[split]["confusion_matrix"] = tables[split].tolist()  # rows: true label; columns: cluster
    save_json(snakemake.output.metrics, scores)

    rows = [
        {"split": split, "metric": metric, "value": value}
        for split in ("train", "test", "all")
        for metric, value in scores[split].items()
        if metric != "confusion_matrix"
    ]
    rows.append({"split": "train", "metric": "majority_distinct_labels",
                 "value": scores["majority_distinct_labels"]})
    with atomic_path(snakemake.output.table) as tmp:
        pd.DataFrame(rows).to_csv(tmp, sep="\t", index=False)

    with atomic_path(snakemake.output.confusion) as tmp:
        pd.DataFrame(tables["test"], columns=[f"cluster_{c}" for c in range(params.n_clusters)]).rename_axis(
            "true_label").to_csv(tmp, sep="\t")
    test = scores["test"]
    log.info("test: accuracy %.4f (majority map, %d distinct labels), %.4f (Hungarian), NMI %.4f, ARI %.4f",
             test["accuracy_majority"], scores["majority_distinct_labels"], test["accuracy_hungarian"],
             test["nmi"], test["ari"])
    log.info("all (fitted on train and test): Hungarian accuracy %.4f, NMI %.4f, ARI %.4f",
             scores["all"]["accuracy_hungarian"], scores["all"]["nmi"], scores["all"]["ari"])
    if "before" in scores:
        log.info("before refinement: test accuracy %.4f (majority map), all: Hungarian accuracy %.4f",
                 scores["before"]["test"]["accuracy_majority"], scores["before"]["all"]["accuracy_hungarian"])
