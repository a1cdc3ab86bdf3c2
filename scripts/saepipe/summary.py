"""One row per experiment and seed: its metrics and the wall time of each of its steps."""

from __future__ import annotations

import json
import os
from collections.abc import Mapping

import pandas as pd

# The figures a comparison shows, as (summary column, label).
COMPARED = (
    ("test_accuracy_majority", "test accuracy (fit on train, majority map)"),
    ("all_accuracy_hungarian", "Hungarian accuracy (fit and score on all)"),
    ("all_nmi", "NMI (fit and score on all)"),
)


# What the comparison shows of runs without labels.
LABEL_FREE_COMPARED = (
    ("test_silhouette", "silhouette score (test; codes)"),
    ("all_silhouette", "silhouette score (all; codes)"),
)


def compared(summary: pd.DataFrame) -> tuple[tuple[str, str], ...]:
    """The (column, label) pairs a comparison of `summary` shows: the scores against the labels,
    or the label-free ones when the dataset has none."""
    with_labels = tuple(pair for pair in COMPARED if pair[0] in summary.columns)
    return with_labels or tuple(pair for pair in LABEL_FREE_COMPARED if pair[0] in summary.columns)


def benchmark_seconds(path: str | os.PathLike) -> float:
    """Wall-clock seconds of a job, from its Snakemake benchmark file (column `s`)."""
    table = pd.read_csv(path, sep="\t")
    if "s" not in table.columns or table.empty:
        raise ValueError(f"{path}: not a Snakemake benchmark file (no 's' column or no row)")
    return float(table["s"].iloc[-1])


def metric_columns(metrics: dict, prefix: str = "") -> dict[str, float]:
    """Flatten metrics.json's per-split scores into `<split>_<metric>` columns; a refined run's
    scores before refinement into `before_<split>_<metric>` columns."""
    columns = {}
    for split in ("train", "test", "all"):
        for metric, value in metrics.get(split, {}).items():
            if isinstance(value, (int, float)):
                columns[f"{prefix}{split}_{metric}"] = value
    if "before" in metrics:
        columns.update(metric_columns(metrics["before"], "before_"))
    return columns


def cluster_count_columns(n_clusters: int | str) -> dict[str, int]:
    """The number of clusters of each split, `<split>_n_clusters`, as the config gives it; a run
    that chose its own (n_clusters auto) has them in its metrics, which metric_columns reads."""
    return {} if n_clusters == "auto" else {f"{split}_n_clusters": n_clusters for split in ("train", "test", "all")}


def summary_row(run: dict, settings: dict) -> dict:
    """The summary row of one run: `run` names its experiment, seed, model and files."""
    with open(run["metrics"]) as handle:
        metrics = json.load(handle)
    row = {
        "experiment": run["experiment"],
        "seed": run["seed"],
        "model": run["model"],
        "manifold": settings["manifold"]["method"],
        "clustering": settings["clustering"]["method"],
        "refine": settings["refine"]["method"],
        **cluster_count_columns(settings["clustering"]["n_clusters"]),
        **metric_columns(metrics),
    }
    seconds = {f"seconds_{step}": benchmark_seconds(path) for step, path in run["benchmarks"].items()}
    return {**row, **seconds, "seconds_total": sum(seconds.values())}


def runs_with_files(runs: list[dict], files: Mapping[str, str]) -> list[dict]:
    """Give each run (experiment, seed, model, and the input names of its metrics and of each
    step's benchmark) the paths those names have in `files` (the rule's named inputs)."""
    named = {run["metrics"] for run in runs} | {name for run in runs for name in run["benchmarks"].values()}
    missing = sorted(named - set(files.keys()))
    if missing:
        raise ValueError(f"the summary's runs name inputs it was not given: {', '.join(missing)}")
    return [
        {**run, "metrics": files[run["metrics"]],
         "benchmarks": {step: files[name] for step, name in run["benchmarks"].items()}}
        for run in runs
    ]


def aggregate(summary: pd.DataFrame, columns: list[str]) -> pd.DataFrame:
    """Mean and standard deviation (across seeds; 0 for a single seed) per experiment, in the
    order the experiments first appear."""
    grouped = summary.groupby("experiment", sort=False)[columns]
    return grouped.mean().join(grouped.std(ddof=0), lsuffix="_mean", rsuffix="_std")


def assignments_table(ids: pd.DataFrame, clusters: dict, confidence: dict, refined: dict | None = None) -> pd.DataFrame:
    """One row per image: its id and split (from preprocess's images.tsv), its cluster and the
    clustering's confidence in it, and its cluster after refinement when the run refines."""
    parts = []
    for split in ("train", "test"):
        part = ids[ids["split"] == split].reset_index(drop=True)
        if len(part) != len(clusters[split]):
            raise ValueError(f"{len(part)} {split} images in images.tsv but {len(clusters[split])} assignments")
        part = part[["image", "split"]].assign(cluster=clusters[split], confidence=confidence[split])
        if refined is not None:
            part["refined_cluster"] = refined[split]
        parts.append(part)
    return pd.concat(parts, ignore_index=True)
