#!/usr/bin/env python3
"""Run experiments of the shipped config on real MNIST in a fresh temporary workdir; print what
each experiment and seed scored and took.

Prints, from the workflow's own summary.csv and `benchmark:` files: per experiment and seed the
metrics of both protocols and the wall time of each step (a run's time is the sum of its steps,
training included); mean and std per experiment; peak memory per rule; the whole run, how many
jobs ran at once and how busy the cores were; a rerun with nothing changed; and, when a KMeans
experiment ran, reruns after a changed KMeans setting (to fresh metrics, and to every output) as
a share of the whole run. Then, measured in the same run
once the workflow is done: the machine's fp32 matmul rate through TensorFlow with a train job's
threads, and each training's rate (6 FLOPs per weight per image: forward and backward) against it,
per epoch (the median epoch) and over the whole train job (start-up and saving included), and
per CPU second against the peak per thread (how well the cores the job got were used).

    python bench/benchmark.py                                  # default, seeds 0 1 2
    python bench/benchmark.py --experiments n2d default --seeds 0 1 2 --cores 2
    python bench/benchmark.py --mirror https://ossci-datasets.s3.amazonaws.com/mnist/
    python bench/benchmark.py --experiments default notebook n2d n2d-self --train-threads 2   # as make run, 2 CPUs
    python bench/benchmark.py --configfile config/fashion.yaml --experiments n2d n2d-self   # Fashion-MNIST
"""

from __future__ import annotations

import argparse
import json
import os
import re
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pandas as pd
import yaml

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "scripts"))
from saepipe import job_threads  # noqa: E402
TRAIN_THREADS = 4  # rules/train.smk; a job gets no more than --cores
METRICS = [("test_accuracy_majority", "test acc (majority)"), ("test_accuracy_hungarian", "test acc (Hungarian)"),
           ("train_accuracy_majority", "train acc (majority)"), ("test_nmi", "test NMI"),
           ("all_accuracy_hungarian", "all 70k: Hungarian acc"), ("all_nmi", "all 70k: NMI"),
           ("all_ari", "all 70k: ARI"), ("test_reconstruction_mse", "test MSE")]


def train_job_threads(cores: int, train_threads: int = TRAIN_THREADS) -> int:
    """The threads a train job runs with: its rule's (or --set-threads'), capped by --cores, and
    by the CPUs, as scripts/train.py caps them (--cores 4 on a 2-core machine: 2, not 4)."""
    return job_threads(min(cores, train_threads))


def run_options(cores: int, train_threads: int) -> list[str]:
    """How snakemake runs the workflow: its cores, and train's threads where not the rule's."""
    threads = ["--set-threads", f"train={train_threads}"] if train_threads != TRAIN_THREADS else []
    return ["--cores", str(cores), *threads]


def snakemake(workdir: Path, options: list[str], *args: str) -> float:
    """Run snakemake in `workdir` with `options` (run_options); return its wall time in seconds."""
    command = [sys.executable, "-m", "snakemake", "--snakefile", str(REPO / "Snakefile"),
               "--directory", str(workdir), "--configfile", str(workdir / "config.yaml"), *options, *args]
    started = time.perf_counter()
    result = subprocess.run(command, capture_output=True, text=True)
    elapsed = time.perf_counter() - started
    if result.returncode != 0:
        sys.exit(f"snakemake {' '.join(args)} failed in {workdir}:\n{result.stderr[-5000:]}")
    return elapsed


def kmeans_change(workdir: Path, options: list[str], config: dict, experiment: str) -> dict:
    """Time a new n_init for one KMeans experiment: to fresh metrics, then (another value) to all
    outputs. Rerunning the first value to all outputs would skip the figures: Snakemake does not
    rerun a job whose newer input has unchanged content, and n_init rarely changes it."""
    n_init = config["experiments"][experiment].get("clustering", {}).get("n_init", config["clustering"]["n_init"])

    def override(value):
        return "experiments=" + json.dumps({experiment: {"clustering": {"n_init": value}}})

    return {
        "metrics_s": snakemake(workdir, options, "--until", "evaluate", "--config", override(n_init + 1)),
        "all_s": snakemake(workdir, options, "--config", override(n_init + 2)),
    }


def job_benchmarks(workdir: Path, dataset: str) -> pd.DataFrame:
    """One row per job of the run, from its `benchmark:` file: rule, folder (relative to the
    dataset's), seconds, peak RSS (MB), CPU seconds."""
    folder = workdir / "benchmarks" / dataset
    rows = [{"rule": path.stem, "folder": str(path.parent.relative_to(folder)), "s": float(last["s"]),
             "max_rss_mb": float(last["max_rss"]), "cpu_s": float(last["cpu_time"])}
            for path in folder.rglob("*.tsv")
            for last in [pd.read_csv(path, sep="\t").iloc[-1]]]
    return pd.DataFrame(rows)


def peak_memory(jobs: pd.DataFrame) -> pd.DataFrame:
    """Per rule: the most seconds and the most peak RSS (MB) of any of its jobs."""
    return jobs[["rule", "s", "max_rss_mb"]].groupby("rule").max().sort_values("s", ascending=False)


def core_use(jobs: pd.DataFrame, wall_s: float) -> dict[str, float]:
    """How the whole run used the machine: its jobs' seconds and CPU seconds against its wall
    time. Jobs' seconds over the wall time is how many ran at once on average; CPU seconds over
    wall time times the machine's cores is how busy the cores were. Many jobs at once with busy
    cores means they shared (over-subscribed) the cores."""
    cores = os.cpu_count() or 1
    return {"sum of jobs' s": jobs["s"].sum(), "jobs at once (sum / whole run)": jobs["s"].sum() / wall_s,
            f"cores busy (CPU s / whole run / {cores} cores)": jobs["cpu_s"].sum() / wall_s / cores}


MATMUL = """
import sys, time
import tensorflow as tf
threads, n, repeats = map(int, sys.argv[1:])
tf.config.threading.set_intra_op_parallelism_threads(threads)
tf.config.threading.set_inter_op_parallelism_threads(1)
a, b = tf.random.uniform((n, n)), tf.random.uniform((n, n))
best = float("inf")
for _ in range(repeats):
    started = time.perf_counter()
    tf.linalg.matmul(a, b).numpy()
    best = min(best, time.perf_counter() - started)
print(2 * n**3 / best / 1e9)
"""


def matmul_peak(threads: int, n: int = 2048, repeats: int = 30) -> float:
    """The machine's fp32 matmul rate through TensorFlow, GFLOP/s: the best of `repeats`, in a
    fresh process with `threads` threads, as a train job has."""
    result = subprocess.run([sys.executable, "-c", MATMUL, str(threads), str(n), str(repeats)],
                            capture_output=True, text=True, check=True,
                            env={**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3"})
    return float(result.stdout.split()[-1])


def autoencoder_weights(model: dict, input_dim: int) -> int:
    """The autoencoder's weights (kernels; biases are a rounding error): encoder and mirror."""
    sizes = [input_dim, *model["hidden_units"], model["embedding_dim"]]
    encoder = sum(a * b for a, b in zip(sizes, sizes[1:]))
    return 2 * encoder


LOG_TIME = re.compile(r"^(\d{4}-\d\d-\d\d \d\d:\d\d:\d\d,\d{3}) INFO saepipe\.(?:model|training): epoch \d+/", re.M)


def training_rates(workdir: Path, dataset: str, jobs: pd.DataFrame, input_dim: int = 784) -> pd.DataFrame:
    """Per trained model: its weights, images an epoch, median epoch seconds, and GFLOP/s per
    epoch and over the whole train job; the cores the job kept busy (CPU seconds over wall
    seconds) and its GFLOP per CPU second, which moves much less than the wall-clock rate when a
    virtual machine withholds a core now and then. `jobs`: the run's `job_benchmarks`."""
    train_jobs = jobs[jobs["rule"] == "train"].set_index("folder")
    rows = []
    for settings_path in sorted((workdir / "results" / dataset / "models").glob("*/seed*/settings.json")):
        folder = settings_path.parent
        relative = folder.relative_to(workdir / "results" / dataset)
        log = (workdir / "logs" / dataset / relative / "train.log").read_text()
        stamps = [pd.Timestamp(t.replace(",", ".")) for t in LOG_TIME.findall(log)]
        epoch_s = statistics.median((b - a).total_seconds() for a, b in zip(stamps, stamps[1:]))
        images = int(re.search(r"training on (\d+) images", log)[1])
        job_s, cpu_s = train_jobs.loc[str(relative), ["s", "cpu_s"]]
        weights = autoencoder_weights(json.loads(settings_path.read_text())["model"], input_dim)
        flops = 6 * weights * images  # one epoch's
        job_flops = flops * len(stamps)
        rows.append({"model": str(relative), "weights": weights, "images": images,
                     "epochs": len(stamps), "epoch_s": epoch_s, "epoch_gflops": flops / epoch_s / 1e9,
                     "job_s": job_s, "job_gflops": job_flops / job_s / 1e9,
                     "job_cores": cpu_s / job_s, "cpu_s_gflops": job_flops / cpu_s / 1e9})
    return pd.DataFrame(rows)


def print_rates(rates: pd.DataFrame, peak: float, threads: int) -> None:
    print(f"\nfp32 matmul through TensorFlow (2048 x 2048, {threads} threads): {peak:.0f} GFLOP/s")
    print("Training rate (6 FLOPs per weight per image) and its share of that peak; per_core_share:"
          f" the job's GFLOP per CPU second against the peak's per thread ({peak / threads:.0f}),"
          " how well the cores it was given were used")
    shares = rates.assign(epoch_share=rates["epoch_gflops"] / peak, job_share=rates["job_gflops"] / peak,
                          per_core_share=rates["cpu_s_gflops"] / (peak / threads))
    print(shares.to_string(index=False, float_format=lambda v: f"{v:.3f}" if v < 1 else f"{v:.2f}" if v < 10
                           else f"{v:.1f}"))


def print_report(summary: pd.DataFrame, memory: pd.DataFrame, timings: dict) -> None:
    steps = [c for c in summary.columns if c.startswith("seconds_")]
    print("\nPer experiment and seed (seconds per step from the benchmark: files)")
    print(summary[["experiment", "seed", *[m for m, _ in METRICS if m in summary], *steps]]
          .to_string(index=False, float_format=lambda v: f"{v:.4f}" if v < 1 else f"{v:.1f}"))
    print("\nMean (std) across seeds")
    for name, group in summary.groupby("experiment", sort=False):
        print(f"  {name} ({len(group)} seed{'s' if len(group) != 1 else ''})")
        for column, title in METRICS + [("seconds_total", "run time s (its steps)")]:
            if column in group:
                print(f"    {title:<26} {group[column].mean():10.4f}  ({group[column].std(ddof=0):.4f})"
                      f"   min {group[column].min():.4f}  max {group[column].max():.4f}")
    print("\nPer rule: longest job s, highest peak RSS MB")
    print(memory.to_string(float_format=lambda v: f"{v:.1f}"))
    print()
    for key, value in timings.items():
        print(f"{key:<44} {value:.3f}" if "/" in key else f"{key:<44} {value:.1f}")


def machine() -> dict:
    """The CPU (lscpu's model name), its cores and the instruction sets that change the numbers."""
    info = dict(line.split(":", 1) for line in subprocess.run(["lscpu"], capture_output=True, text=True)
                .stdout.splitlines() if ":" in line)
    flags = info.get("Flags", "").split()
    wide = [name for flag, name in (("avx512f", "AVX-512"), ("avx512_bf16", "AVX512_BF16"), ("amx_bf16", "AMX"))
            if flag in flags]
    return {"cpu": info.get("Model name", "unknown").strip(), "cores": os.cpu_count() or 1,
            "flags": ", ".join(wide or (["AVX2"] if "avx2" in flags else []))}


def versions() -> dict:
    """The project's commit and the versions that fix the numbers."""
    from importlib.metadata import version

    commit = subprocess.run(["git", "-C", str(REPO), "describe", "--always", "--dirty"], capture_output=True,
                            text=True).stdout.strip()
    return {"mnist-sae-pipeline": commit or "unknown", "TensorFlow": version("tensorflow"),
            "scikit-learn": version("scikit-learn"), "umap-learn": version("umap-learn")}


def logged_wall_time(workdir: Path) -> float:
    """The wall time of the first Snakemake run in `workdir`, from its log's "Elapsed time" line."""
    first = sorted((workdir / ".snakemake" / "log").glob("*.snakemake.log"))[0]
    match = re.search(r"^Elapsed time: (?:(\d+) days?, )?(\d+):(\d\d):(\d\d(?:\.\d+)?)$", first.read_text(), re.M)
    if match is None:
        sys.exit(f"{first}: no 'Elapsed time' line: the run did not finish")
    days, hours, minutes, seconds = match.groups()
    return int(days or 0) * 86400 + int(hours) * 3600 + int(minutes) * 60 + float(seconds)


def run_records(summary: pd.DataFrame) -> list[dict]:
    """summary.csv's rows for the JSON record, a step a run did not have as null (not NaN, which
    JSON has no word for)."""
    return summary.astype(object).where(summary.notna(), None).to_dict("records")


def bench_config(configfiles: list[Path], experiments: list[str], seeds: list[int], mirror: str | None) -> dict:
    """The shipped config, with `configfiles` laid over it in order, running `experiments` x `seeds`
    and downloading from `mirror` alone (by default the repo's copy: the dataset's last mirror)."""
    from snakemake.utils import update_config

    from saepipe.plan import dataset_as_given

    config = yaml.safe_load((REPO / "config.yaml").read_text())
    files = [yaml.safe_load(configfile.read_text()) for configfile in configfiles]
    for file in files:
        update_config(config, file)
    config["dataset"] = dataset_as_given(config["dataset"], files, {})  # as the workflow reads them
    config.update(run=experiments, seeds=seeds)
    if config["dataset"]["format"] == "idx":
        config["dataset"]["mirrors"] = [mirror or str(REPO / config["dataset"]["mirrors"][-1])]
    return config


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--experiments", nargs="+", default=["default"], help="names from config.yaml")
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    parser.add_argument("--configfile", type=Path, nargs="+", default=[],
                        help="configs laid over config.yaml in order, as snakemake --configfile does "
                        "(e.g. config/fashion.yaml config/bfloat16.yaml)")
    parser.add_argument("--mirror", help="where to download the dataset from (default: the repo's copy, its last mirror)")
    parser.add_argument("--cores", type=int, default=4)
    parser.add_argument("--train-threads", type=int, default=TRAIN_THREADS,
                        help="a train job's threads (snakemake --set-threads train=N; make run gives the CPUs, 2 to 4)")
    parser.add_argument("--keep", action="store_true", help="keep the temporary workdir")
    parser.add_argument("--workdir", type=Path,
                        help="finish the record of a run this script made there and could not report (kept, not "
                        "run again: its whole-run time is the one Snakemake logged)")
    parser.add_argument("--json", type=Path, help="also write the record (runs, timings, machine, versions) here, "
                        "e.g. bench/records/mnist.json, for bench/results_page.py")
    args = parser.parse_args()

    workdir = args.workdir or Path(tempfile.mkdtemp(prefix="sae-bench-"))
    config = bench_config(args.configfile, args.experiments, args.seeds, args.mirror)
    options = run_options(args.cores, args.train_threads)
    dataset = config["dataset"]["name"]
    if args.workdir:
        if yaml.safe_load((workdir / "config.yaml").read_text()) != config:
            sys.exit(f"{workdir}/config.yaml is not the config these options give")
        timings = {"whole run s": logged_wall_time(workdir)}
    else:
        (workdir / "config.yaml").write_text(yaml.safe_dump(config, sort_keys=False))
        print(f"running {', '.join(args.experiments)} x seeds {args.seeds} in {workdir}: "
              f"snakemake {' '.join(options)} ...", flush=True)
        timings = {"whole run s": snakemake(workdir, options)}
    jobs = job_benchmarks(workdir, dataset)  # the whole run's jobs, before any rerun below
    timings.update(core_use(jobs, timings["whole run s"]))
    # measured now, with the machine to itself, as the train jobs had it
    threads = train_job_threads(args.cores, args.train_threads)
    peak = matmul_peak(threads)
    rates = training_rates(workdir, dataset, jobs)
    timings["report s"] = snakemake(workdir, options, "--report", str(workdir / "report.html"))
    timings["no-change rerun s"] = snakemake(workdir, options)
    summary = pd.read_csv(workdir / "results" / dataset / "summary.csv")
    memory = peak_memory(jobs)
    kmeans = [name for name in args.experiments
              if config["experiments"][name].get("clustering", {}).get("method", config["clustering"]["method"]) == "kmeans"]
    if kmeans:
        change = kmeans_change(workdir, options, config, kmeans[0])
        timings[f"new n_init ({kmeans[0]}): metrics s"] = change["metrics_s"]
        timings["  / whole run"] = change["metrics_s"] / timings["whole run s"]
        timings[f"new n_init ({kmeans[0]}): all s"] = change["all_s"]
        timings["  / whole run "] = change["all_s"] / timings["whole run s"]
    if not args.keep and not args.workdir:
        subprocess.run(["rm", "-rf", str(workdir)], check=True)
    print_report(summary, memory, timings)
    print_rates(rates, peak, threads)
    if args.json:  # bench/results_page.py writes docs/results.md from these
        command = "python bench/benchmark.py " + " ".join(sys.argv[1:])
        args.json.write_text(json.dumps({
            "dataset": dataset, "date": time.strftime("%Y-%m-%d"), "command": command, "machine": machine(),
            "versions": versions(), "runs": run_records(summary), "timings": timings,
            "matmul_gflops": peak, "training": rates.to_dict("records")}, indent=2) + "\n")


if __name__ == "__main__":
    main()
