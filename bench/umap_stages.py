#!/usr/bin/env python3
"""How much of each UMAP stage of the manifold steps is numba compiling, and how much is work.

Runs the three UMAP stages of a run (fit the train codes and transform the test codes, as rule
`manifold` does; fit all codes, as rule `manifold_all` does) on one model's codes, one after
another in this fresh process (cold: numba compiles what it has not cached), then again in the
same process (warm: compiled). Cold minus warm is the stage's compile time. With `--cache DIR`,
numba's compiled UMAP code is kept in DIR first, as the manifold steps keep it: run it twice, and
the second run's cold pass is a fresh job's time once the cache is filled. Without it, pynndescent
still caches its own few marked functions (in its package folder, or in $NUMBA_CACHE_DIR): point
NUMBA_CACHE_DIR at an empty folder for a process that compiles everything, as a manifold job did
before the workflow kept a cache. `--cold-only` skips the warm pass. Point it at a model's
embeddings folder of a run (e.g. one kept by `bench/benchmark.py --keep`):

    python bench/umap_stages.py <workdir>/results/mnist/models/<id>/seed0/embeddings
    python bench/umap_stages.py <folder> --n-neighbors 20 --n-components 10 --seed 0
    NUMBA_CACHE_DIR=$(mktemp -d) python bench/umap_stages.py <folder> --cold-only  # compiles all
    python bench/umap_stages.py <folder> --cache /tmp/numba-cache --cold-only        # twice
"""

from __future__ import annotations

import argparse
import hashlib
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "scripts"))

from saepipe.manifold import cache_compiled_code, fit_umap  # noqa: E402


def stages(train: np.ndarray, test: np.ndarray, options: dict) -> tuple[dict[str, float], str]:
    """Seconds of each stage, as scripts/manifold.py runs them (in two jobs), and a digest of the
    three outputs (the same seed must give the same bytes, cache or not)."""
    times, digest = {}, hashlib.sha256()
    started = time.perf_counter()
    reducer = fit_umap(train, **options)
    times["fit train"] = time.perf_counter() - started
    digest.update(reducer.embedding_.astype(np.float32).tobytes())
    started = time.perf_counter()
    digest.update(reducer.transform(test).astype(np.float32).tobytes())
    times["transform test"] = time.perf_counter() - started
    started = time.perf_counter()
    digest.update(fit_umap(np.concatenate([train, test]), **options).embedding_.astype(np.float32).tobytes())
    times["fit all"] = time.perf_counter() - started
    return times, digest.hexdigest()[:16]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("embeddings", type=Path, help="a folder holding train.npy and test.npy (the codes)")
    parser.add_argument("--n-components", type=int, default=10)
    parser.add_argument("--n-neighbors", type=int, default=20)
    parser.add_argument("--min-dist", type=float, default=0.0)
    parser.add_argument("--metric", default="euclidean")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--cache", type=Path, help="keep numba's compiled UMAP code here, as the manifold step does")
    parser.add_argument("--cold-only", action="store_true", help="time the fresh process's pass only")
    args = parser.parse_args()
    if args.cache:
        print(f"numba cache {args.cache}: {cache_compiled_code(args.cache)} functions", flush=True)
    train, test = np.load(args.embeddings / "train.npy"), np.load(args.embeddings / "test.npy")
    options = {"n_components": args.n_components, "n_neighbors": args.n_neighbors, "min_dist": args.min_dist,
               "metric": args.metric, "seed": args.seed}
    print(f"{len(train)} train and {len(test)} test codes of {train.shape[1]} dims; {options}", flush=True)
    cold, digest = stages(train, test, options)
    print(f"cold pass: {sum(cold.values()):.1f} s ({', '.join(f'{k} {v:.1f}' for k, v in cold.items())}); "
          f"outputs sha256 {digest}", flush=True)
    if args.cold_only:
        return
    warm, _ = stages(train, test, options)
    print(f"{'stage':<16} {'cold s':>8} {'warm s':>8} {'compile s':>10} {'compile share':>14}")
    for stage in cold:
        compiling = max(cold[stage] - warm[stage], 0.0)
        print(f"{stage:<16} {cold[stage]:8.1f} {warm[stage]:8.1f} {compiling:10.1f} {compiling / cold[stage]:14.0%}")
    total_cold, total_warm = sum(cold.values()), sum(warm.values())
    print(f"{'all three':<16} {total_cold:8.1f} {total_warm:8.1f} {total_cold - total_warm:10.1f} "
          f"{(total_cold - total_warm) / total_cold:14.0%}")


if __name__ == "__main__":
    main()
