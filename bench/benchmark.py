#!/usr/bin/env python3
"""Run the default workflow on real MNIST in fresh temporary workdirs and print what it took.

For each seed: the whole run (download from the mirror -> report), per-rule wall time and peak
memory from the `benchmark:` files, the metrics, a rerun with nothing changed, and reruns after a
changed KMeans setting (to fresh metrics, and to every output), as a share of the whole run.

    python bench/benchmark.py                      # seeds 0 1 2, the shipped copy as mirror
    python bench/benchmark.py --seeds 0 --cores 2 --mirror https://ossci-datasets.s3.amazonaws.com/mnist/
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pandas as pd
import yaml

REPO = Path(__file__).resolve().parents[1]


def snakemake(workdir: Path, cores: int, *args: str) -> float:
    """Run snakemake in `workdir`; return its wall time in seconds."""
    command = [sys.executable, "-m", "snakemake", "--snakefile", str(REPO / "Snakefile"),
               "--directory", str(workdir), "--configfile", str(workdir / "config.yaml"),
               "--cores", str(cores), *args]
    started = time.perf_counter()
    result = subprocess.run(command, capture_output=True, text=True)
    elapsed = time.perf_counter() - started
    if result.returncode != 0:
        sys.exit(f"snakemake {' '.join(args)} failed in {workdir}:\n{result.stderr[-5000:]}")
    return elapsed


def run_seed(seed: int, mirror: str, cores: int, keep: bool) -> dict:
    workdir = Path(tempfile.mkdtemp(prefix=f"sae-bench-seed{seed}-"))
    config = yaml.safe_load((REPO / "config.yaml").read_text())
    config["seed"] = seed
    config["dataset"]["mirrors"] = [mirror]
    (workdir / "config.yaml").write_text(yaml.safe_dump(config, sort_keys=False))
    dataset = config["dataset"]["name"]

    full = snakemake(workdir, cores)
    full += snakemake(workdir, cores, "--report", str(workdir / "report.html"))
    rerun = snakemake(workdir, cores)
    metrics_file = workdir / "results" / dataset / "metrics" / "metrics.json"
    metrics = json.loads(metrics_file.read_text())
    # A changed KMeans setting: to fresh metrics (target `evaluate`); then another value, to
    # every output. (Rerunning the first value to all outputs would skip the figures: Snakemake
    # does not rerun a job whose newer input has unchanged content, and n_init rarely changes it.)
    n_init = config["clustering"]["n_init"]
    new_metrics = snakemake(workdir, cores, "evaluate", "--config", f'clustering={{"n_init": {n_init + 1}}}')
    new_figures = snakemake(workdir, cores, "--config", f'clustering={{"n_init": {n_init + 2}}}')
    rules = {
        path.stem: pd.read_csv(path, sep="\t").iloc[0]
        for path in sorted((workdir / "benchmarks" / dataset).glob("*.tsv"))
    }
    epochs = len(pd.read_csv(workdir / "results" / dataset / "model" / "history.csv"))
    if not keep:
        subprocess.run(["rm", "-rf", str(workdir)], check=True)
    return {
        "seed": seed,
        "workdir": str(workdir) if keep else None,
        "wall_s": full,
        "rerun_s": rerun,
        "kmeans_change_metrics_s": new_metrics,
        "kmeans_change_all_s": new_figures,
        "epochs": epochs,
        "rules": {name: {"s": float(row["s"]), "max_rss_mb": float(row["max_rss"])} for name, row in rules.items()},
        "test_mse": metrics["test"]["reconstruction_mse"],
        "train_accuracy": metrics["train"]["accuracy_majority"],
        "test_accuracy": metrics["test"]["accuracy_majority"],
        "test_hungarian": metrics["test"]["accuracy_hungarian"],
        "test_nmi": metrics["test"]["nmi"],
        "test_ari": metrics["test"]["ari"],
        "distinct_labels": metrics["majority_distinct_labels"],
    }


def print_report(runs: list[dict]) -> None:
    print("\nPer rule (wall s / peak RSS MB), from the benchmark: files")
    names = sorted({name for run in runs for name in run["rules"]})
    print(f"{'rule':<22}" + "".join(f"{'seed ' + str(r['seed']):>20}" for r in runs))
    for name in names:
        cells = [f"{r['rules'][name]['s']:8.1f} s {r['rules'][name]['max_rss_mb']:6.0f} MB" for r in runs]
        print(f"{name:<22}" + "".join(f"{c:>20}" for c in cells))

    for run in runs:
        run["kmeans_metrics_ratio"] = run["kmeans_change_metrics_s"] / run["wall_s"]
        run["kmeans_all_ratio"] = run["kmeans_change_all_s"] / run["wall_s"]
    columns = [("wall_s", "whole run s", "{:.0f}"), ("rerun_s", "no-change rerun s", "{:.1f}"),
               ("kmeans_change_metrics_s", "new n_init: metrics s", "{:.1f}"),
               ("kmeans_metrics_ratio", "  / whole run", "{:.3f}"),
               ("kmeans_change_all_s", "new n_init: all outputs s", "{:.1f}"),
               ("kmeans_all_ratio", "  / whole run", "{:.3f}"),
               ("epochs", "epochs", "{:d}"), ("test_mse", "test MSE", "{:.5f}"),
               ("train_accuracy", "train acc (majority)", "{:.4f}"),
               ("test_accuracy", "test acc (majority)", "{:.4f}"),
               ("test_hungarian", "test acc (Hungarian)", "{:.4f}"), ("test_nmi", "test NMI", "{:.4f}"),
               ("test_ari", "test ARI", "{:.4f}"), ("distinct_labels", "labels used by majority map", "{:d}")]
    print("\nPer seed")
    for key, title, fmt in columns:
        values = [run[key] for run in runs]
        summary = ""
        if len(runs) > 1 and key not in ("epochs", "distinct_labels"):
            summary = f"   mean {statistics.mean(values):.4f}  sd {statistics.stdev(values):.4f}"
        print(f"{title:<28}" + "  ".join(fmt.format(v) for v in values) + summary)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    parser.add_argument("--mirror", default=str(REPO / "resources" / "mnist"),
                        help="where to download MNIST from (default: the shipped copy)")
    parser.add_argument("--cores", type=int, default=4)
    parser.add_argument("--keep", action="store_true", help="keep the temporary workdirs")
    parser.add_argument("--json", type=Path, help="also write the figures as JSON here")
    args = parser.parse_args()

    runs = []
    for seed in args.seeds:
        print(f"seed {seed}: running ...", flush=True)
        runs.append(run_seed(seed, args.mirror, args.cores, args.keep))
        print(f"seed {seed}: {runs[-1]['wall_s']:.0f} s, test accuracy {runs[-1]['test_accuracy']:.4f}", flush=True)
    print_report(runs)
    if args.json:
        args.json.write_text(json.dumps(runs, indent=2) + "\n")


if __name__ == "__main__":
    main()
