"""Score the clusters (rule `evaluate`): metrics.json, a tidy table, and with labels the test
confusion matrix (metrics.evaluate: two protocols with labels, what needs none without)."""

import json

import pandas as pd

from saepipe import metrics
from saepipe.atomic import atomic_path, save_json
from saepipe.counts import cluster_counts
from saepipe.data import load_npy, load_npz
from saepipe.logs import logged_step

with logged_step(snakemake.log[0]) as log:
    inputs, params, output = snakemake.input, snakemake.params, snakemake.output
    clusters = {split: load_npy(inputs[f"{split}_clusters"]) for split in metrics.SPLITS}
    before = {split: load_npy(inputs[f"before_{split}"]) for split in metrics.SPLITS} if params.refined else None
    k = cluster_counts(params.n_clusters, inputs.get("chosen_k"))
    if params.labelled:  # the labels reach this step alone
        seen = {"labels": {split: load_npz(inputs[split])["y"] for split in ("train", "test")}}
    else:
        seen = {"codes": {split: load_npy(inputs[f"{split}_codes"]) for split in ("train", "test")},
                "confidence": {split: load_npy(inputs[f"{split}_confidence"]) for split in metrics.SPLITS}}
    scores, table = metrics.evaluate(clusters, k=k, chosen=params.n_clusters == "auto", before=before,
                                     mse=json.loads(open(inputs.mse).read()), n_classes=params.n_classes,
                                     seed=params.seed, **seen)
    save_json(output.metrics, scores)
    with atomic_path(output.table) as tmp:
        pd.DataFrame(metrics.tidy_rows(scores)).to_csv(tmp, sep="\t", index=False)
    if table is not None:
        with atomic_path(output.confusion) as tmp:
            columns = [f"cluster_{c}" for c in range(k["test"])]
            pd.DataFrame(table, columns=columns).rename_axis("true_label").to_csv(tmp, sep="\t")
    for line in metrics.report_lines(scores):
        log.info(line)
