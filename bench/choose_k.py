#!/usr/bin/env python3
"""Measure clustering.n_clusters auto: run `n2d` (k given) and `n2d-auto` (k chosen from the data,
clustering n2d's own UMAP embedding) and print, per seed, the k each protocol chose, what each
criterion of the sweep alone would have chosen, the scores of both experiments side by side, and
the time choose_k added.

    python bench/choose_k.py --json bench/records/k-choice-mnist.json                 # MNIST, seeds 0 1 2
    python bench/choose_k.py --configfile config/fashion.yaml --json bench/records/k-choice-fashion-mnist.json
    python bench/choose_k.py --sklearn-digits --json bench/records/k-choice/digits.json  # scikit-learn's 8x8 digits
    python bench/choose_k.py --workdir . --cores 2     # reuse the models and embeddings already in ./results

A fresh temporary workdir trains everything; `--workdir` with a config.yaml in it reuses what its
results/ already hold (the k-given run and its embeddings), so only choose_k and what follows run.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
from pathlib import Path

import pandas as pd
import yaml

sys.path.insert(0, str(Path(__file__).resolve().parent))
from benchmark import REPO, bench_config, machine, run_options, snakemake, versions  # noqa: E402

SCORES = ("nmi", "ari", "accuracy_hungarian", "purity")
PROTOCOLS = {"train": "train/test protocol", "all": "all-images protocol"}


def criteria_choices(table: pd.DataFrame) -> dict[str, dict[str, int]]:
    """Per protocol, the k each criterion alone would choose: the highest silhouette and
    stability, the lowest BIC, and the rule's own (the table's chosen k)."""
    choices = {}
    for protocol, rows in table.groupby("protocol", sort=False):
        rows = rows.set_index("k")
        picks = {"chosen": int(rows.index[rows["chosen"].astype(bool)][0]),
                 "silhouette": int(rows["silhouette"].idxmax()), "stability": int(rows["stability"].idxmax())}
        if rows["bic"].notna().any():
            picks["bic"] = int(rows["bic"].idxmin())
        choices[protocol] = picks
    return choices


def write_sklearn_digits(folder: Path) -> Path:
    """scikit-learn's 8x8 digits (1,797 images, 0-16) as an .npz (x uint8 0-255, y), and a config
    file holding only its dataset block (a fifth of the images drawn as the test split)."""
    import numpy as np
    from sklearn.datasets import load_digits

    digits = load_digits()
    np.savez(folder / "digits.npz", x=np.round(digits.images / 16 * 255).astype(np.uint8),
             y=digits.target.astype(np.int64))
    path = folder / "digits.yaml"
    path.write_text(yaml.safe_dump({"dataset": {"name": "digits", "format": "npz", "train": str(folder / "digits.npz"),
                                                "test_fraction": 0.2}}))
    return path


def seed_record(results: Path, summary: pd.DataFrame, given: str, auto: str, seed: int) -> dict:
    """One seed: the chosen k and criteria picks of `auto`, and both experiments' scores."""
    rows = {name: summary[(summary.experiment == name) & (summary.seed == seed)].iloc[0] for name in (given, auto)}
    table = pd.read_csv(results / auto / f"seed{seed}" / "clusters" / "k_choice.tsv", sep="\t")
    record = {"seed": seed, "criteria": criteria_choices(table),
              "choose_k_s": float(rows[auto]["seconds_choose_k"]),
              "cluster_s": {name: float(row["seconds_cluster"]) for name, row in rows.items()}}
    for name, row in rows.items():
        columns = [f"{split}_{score}" for split in ("test", "all") for score in ("n_clusters", *SCORES)]
        record[name] = {column: None if pd.isna(row.get(column)) else float(row[column]) for column in columns}
    return record


def print_report(records: list[dict], given: str, auto: str) -> None:
    for record in records:
        print(f"seed {record['seed']}: choose_k {record['choose_k_s']:.1f} s")
        for protocol, picks in record["criteria"].items():
            print(f"  {PROTOCOLS.get(protocol, protocol)}: chosen k = {picks['chosen']}; alone, silhouette "
                  f"{picks['silhouette']}, stability {picks['stability']}"
                  + (f", BIC {picks['bic']}" if "bic" in picks else ""))
        for name in (given, auto):
            scores = record[name]
            print(f"  {name:<10} " + "  ".join(
                f"{key} {value:.4f}" if isinstance(value, float) and not key.endswith("n_clusters") else
                f"{key} {value if value is None else int(value)}" for key, value in scores.items()))
    for name in (given, auto):
        for key in ("test_nmi", "all_nmi", "test_ari", "all_ari"):
            values = [r[name][key] for r in records if r[name][key] is not None]
            if values:
                print(f"{name} {key}: mean {statistics.fmean(values):.4f} (std {statistics.pstdev(values):.4f})")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--experiments", nargs=2, default=["n2d", "n2d-auto"], metavar=("GIVEN", "AUTO"),
                        help="the experiment with k given and the one that chooses it (same model and manifold)")
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    parser.add_argument("--configfile", type=Path, nargs="+", default=[], help="laid over config.yaml in order")
    parser.add_argument("--workdir", type=Path, help="reuse this workdir's config.yaml and results (default: a fresh "
                        "one, with config.yaml and --configfile's files laid over it)")
    parser.add_argument("--sklearn-digits", action="store_true",
                        help="write scikit-learn's 8x8 digits into the workdir as an .npz and use it as the dataset")
    parser.add_argument("--cores", type=int, default=2)
    parser.add_argument("--json", type=Path, help="also write the record here")
    parser.add_argument("--note", help="a line for the results page, e.g. what else ran on the machine")
    args = parser.parse_args()

    given, auto = args.experiments
    workdir = args.workdir or Path(tempfile.mkdtemp(prefix="sae-kchoice-"))
    if not (workdir / "config.yaml").exists():
        configfiles = [*args.configfile, *([write_sklearn_digits(workdir)] if args.sklearn_digits else [])]
        config = bench_config(configfiles, [given, auto], args.seeds, None)
        (workdir / "config.yaml").write_text(yaml.safe_dump(config, sort_keys=False))
    overrides = ["--config", f"run=[{given},{auto}]", f"seeds={json.dumps(args.seeds)}"]
    dataset = yaml.safe_load((workdir / "config.yaml").read_text())["dataset"]["name"]
    print(f"running {given} and {auto} x seeds {args.seeds} in {workdir} ...", flush=True)
    wall = snakemake(workdir, run_options(args.cores, 4), *overrides, "--until", "summary")
    results = workdir / "results" / dataset
    summary = pd.read_csv(results / "summary.csv")
    records = [seed_record(results, summary, given, auto, seed) for seed in args.seeds]
    print_report(records, given, auto)
    if args.json:
        record = {"command": " ".join(["python bench/choose_k.py", *sys.argv[1:]]), "dataset": dataset,
                  "experiments": [given, auto], **({"note": args.note} if args.note else {}),
                  "machine": machine(), "versions": versions(), "wall_s": wall, "seeds": records}
        args.json.write_text(json.dumps(record, indent=1) + "\n")
        print(f"wrote {args.json}")


if __name__ == "__main__":
    main()
