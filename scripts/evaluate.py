"""Score the clusters (rule `evaluate`): metrics.json and a tidy table.

With labels, two protocols, kept apart: the train/test protocol ("train", "test": clusters fitted
on train, mapped to labels from the training labels) and the all-images protocol ("all": fitted and
scored on train and test together). Without labels, what needs none: cluster sizes, the
silhouette score among the codes, the clustering's mean confidence, reconstruction MSE.
"""

import json

import numpy as np
import pandas as pd

from saepipe.atomic import atomic_path, save_json
from saepipe.counts import cluster_counts
from saepipe.data import load_npy, load_npz
from saepipe.logs import logged_step
from saepipe.metrics import all_images_scores, cluster_scores, contingency, label_free_scores, purity

SPLITS = ("train", "test", "all")


def protocol_scores(labels: dict, clusters: dict, params, k: dict) -> dict:
    """Both protocols' scores of one set of assignments (train, test and all), with `k` clusters
    per split. A chosen k (n_clusters auto) may differ from the number of classes: its runs name
    it, and the many-to-one accuracy that rises with it, purity, in each split."""
    labels = {**labels, "all": np.concatenate([labels["train"], labels["test"]])}
    scores = cluster_scores(labels["train"], clusters["train"], labels["test"], clusters["test"],
                            params.n_classes, k["train"])
    scores["all"] = all_images_scores(labels["all"], clusters["all"], params.n_classes, k["all"])
    if params.n_clusters == "auto":
        fitted_on = {"train": "train", "test": "train", "all": "all"}  # the labels each map is fitted on
        for split in SPLITS:
            scores[split]["n_clusters"] = k[split]
            scores[split]["purity"] = purity(labels[fitted_on[split]], clusters[fitted_on[split]], labels[split],
                                             clusters[split], params.n_classes, k[split])
    return scores


def label_free(codes: dict, clusters: dict, confidence: dict, params, k: dict) -> dict:
    scores = {split: label_free_scores(codes[split], clusters[split], k[split], params.seed, confidence.get(split))
              for split in SPLITS}
    if params.n_clusters == "auto":
        for split in SPLITS:
            scores[split]["n_clusters"] = k[split]
    return scores


def labelled_scores(inputs, params, clusters: dict, before: dict | None, k: dict) -> tuple[dict, dict]:
    """The scores against the labels, and the train and test contingency tables."""
    labels = {split: load_npz(inputs[split])["y"] for split in ("train", "test")}
    scores = protocol_scores(labels, clusters, params, k)
    if before is not None:
        # A refined run: the clustering's own scores too (no maps), so the refinement's gain shows.
        scores["before"] = {split: score for split, score in protocol_scores(labels, before, params, k).items()
                            if split in SPLITS}
    tables = {split: contingency(labels[split], clusters[split], params.n_classes, k[split])
              for split in ("train", "test")}
    for split in ("train", "test"):
        scores[split]["confusion_matrix"] = tables[split].tolist()  # rows: true label; columns: cluster
    return scores, tables


def label_free_metrics(inputs, params, clusters: dict, before: dict | None, k: dict) -> dict:
    codes = {split: load_npy(inputs[f"{split}_codes"]) for split in ("train", "test")}
    codes["all"] = np.concatenate([codes["train"], codes["test"]])
    # The confidence is the clustering's own: it speaks of the assignments before refinement.
    confidence = {split: load_npy(inputs[f"{split}_confidence"]) for split in SPLITS}
    scores = label_free(codes, clusters, confidence if before is None else {}, params, k)
    if before is not None:
        scores["before"] = label_free(codes, before, confidence, params, k)
    return scores


def tidy_rows(scores: dict) -> list[dict]:
    rows = [{"split": split, "metric": metric, "value": value}
            for split in SPLITS for metric, value in scores[split].items()
            if isinstance(value, (int, float)) and not isinstance(value, bool)]
    if "majority_distinct_labels" in scores:
        rows.append({"split": "train", "metric": "majority_distinct_labels",
                     "value": scores["majority_distinct_labels"]})
    return rows


with logged_step(snakemake.log[0]) as log:
    inputs, params, output = snakemake.input, snakemake.params, snakemake.output
    clusters = {split: load_npy(inputs[f"{split}_clusters"]) for split in SPLITS}
    before = {split: load_npy(inputs[f"before_{split}"]) for split in SPLITS} if params.refined else None
    k = cluster_counts(params.n_clusters, inputs.get("chosen_k"))
    if params.labelled:
        scores, tables = labelled_scores(inputs, params, clusters, before, k)
    else:
        scores = label_free_metrics(inputs, params, clusters, before, k)
    mse = json.loads(open(inputs.mse).read())
    for split in ("train", "test"):
        scores[split]["reconstruction_mse"] = mse[split]
    save_json(output.metrics, scores)
    with atomic_path(output.table) as tmp:
        pd.DataFrame(tidy_rows(scores)).to_csv(tmp, sep="\t", index=False)

    if not params.labelled:
        for split in ("test", "all"):
            s = scores[split]
            log.info("%s: cluster sizes %s, silhouette %s", split, s["cluster_sizes"],
                     "undefined" if s["silhouette"] is None else f"{s['silhouette']:.4f}")
    else:
        with atomic_path(output.confusion) as tmp:
            pd.DataFrame(tables["test"], columns=[f"cluster_{c}" for c in range(k["test"])]).rename_axis(
                "true_label").to_csv(tmp, sep="\t")
        test = scores["test"]
        log.info("test: accuracy %.4f (majority map, %d distinct labels), %.4f (Hungarian), NMI %.4f, ARI %.4f",
                 test["accuracy_majority"], scores["majority_distinct_labels"], test["accuracy_hungarian"],
                 test["nmi"], test["ari"])
        log.info("all (fitted on train and test): Hungarian accuracy %.4f, NMI %.4f, ARI %.4f",
                 scores["all"]["accuracy_hungarian"], scores["all"]["nmi"], scores["all"]["ari"])
        if before is not None:
            log.info("before refinement: test accuracy %.4f (majority map), all: Hungarian accuracy %.4f",
                     scores["before"]["test"]["accuracy_majority"], scores["before"]["all"]["accuracy_hungarian"])
