#!/usr/bin/env python3
"""How much of each UMAP stage of the manifold step is numba compiling, and how much is work.

Runs the manifold step's three stages (fit the train codes, transform the test codes, fit all
codes) on one model's codes, as the step does, in this fresh process (cold: numba compiles what
it has not cached), then again in the same process (warm: compiled). Cold minus warm is the
stage's compile time. Point it at a model's embeddings folder of a run (e.g. one kept by
`bench/benchmark.py --keep`):

    python bench/umap_stages.py <workdir>/results/mnist/models/<id>/seed0/embeddings
    python bench/umap_stages.py <folder> --n-neighbors 20 --n-components 10 --seed 0
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "scripts"))

from saepipe.manifold import fit_umap  # noqa: E402


def stages(train: np.ndarray, test: np.ndarray, options: dict) -> dict[str, float]:
    """Seconds of each stage, as scripts/manifold.py runs them."""
    times = {}
    started = time.perf_counter()
    reducer = fit_umap(train, **options)
    times["fit train"] = time.perf_counter() - started
    started = time.perf_counter()
    reducer.transform(test)
    times["transform test"] = time.perf_counter() - started
    started = time.perf_counter()
    fit_umap(np.concatenate([train, test]), **options)
    times["fit all"] = time.perf_counter() - started
    return times


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("embeddings", type=Path, help="a folder holding train.npy and test.npy (the codes)")
    parser.add_argument("--n-components", type=int, default=10)
    parser.add_argument("--n-neighbors", type=int, default=20)
    parser.add_argument("--min-dist", type=float, default=0.0)
    parser.add_argument("--metric", default="euclidean")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    train, test = np.load(args.embeddings / "train.npy"), np.load(args.embeddings / "test.npy")
    options = {"n_components": args.n_components, "n_neighbors": args.n_neighbors, "min_dist": args.min_dist,
               "metric": args.metric, "seed": args.seed}
    print(f"{len(train)} train and {len(test)} test codes of {train.shape[1]} dims; {options}", flush=True)
    cold = stages(train, test, options)
    warm = stages(train, test, options)
    print(f"{'stage':<16} {'cold s':>8} {'warm s':>8} {'compile s':>10} {'compile share':>14}")
    for stage in cold:
        compiling = max(cold[stage] - warm[stage], 0.0)
        print(f"{stage:<16} {cold[stage]:8.1f} {warm[stage]:8.1f} {compiling:10.1f} {compiling / cold[stage]:14.0%}")
    total_cold, total_warm = sum(cold.values()), sum(warm.values())
    print(f"{'all three':<16} {total_cold:8.1f} {total_warm:8.1f} {total_cold - total_warm:10.1f} "
          f"{(total_cold - total_warm) / total_cold:14.0%}")


if __name__ == "__main__":
    main()
