import os
import subprocess
import sys

import numpy as np
import pytest

from saepipe.manifold import fit_umap


def clusters_in_20_dims(seed=0):
    rng = np.random.default_rng(seed)
    centres = rng.normal(0, 10, (3, 20))
    labels = np.repeat(np.arange(3), 40)
    return (centres[labels] + rng.normal(0, 0.5, (120, 20))).astype(np.float32), labels


def test_umap_keeps_separate_clusters_apart_and_is_deterministic_for_a_seed():
    x, labels = clusters_in_20_dims()
    reducer = fit_umap(x, n_components=2, n_neighbors=10, min_dist=0.0, metric="euclidean", seed=1)
    embedded = reducer.embedding_
    assert embedded.shape == (120, 2)
    # every point is nearer the centre of its own cluster than to any other cluster's centre
    centres = np.stack([embedded[labels == c].mean(axis=0) for c in range(3)])
    nearest = np.argmin(((embedded[:, None, :] - centres[None]) ** 2).sum(-1), axis=1)
    np.testing.assert_array_equal(nearest, labels)
    # new points land beside their cluster
    fresh, fresh_labels = clusters_in_20_dims(seed=0)
    moved = reducer.transform(fresh[::10])
    assert np.all(np.argmin(((moved[:, None, :] - centres[None]) ** 2).sum(-1), axis=1) == fresh_labels[::10])
    again = fit_umap(x, n_components=2, n_neighbors=10, min_dist=0.0, metric="euclidean", seed=1)
    np.testing.assert_array_equal(embedded, again.embedding_)


def test_too_few_points_for_the_neighbourhood_is_a_clear_error():
    with pytest.raises(ValueError, match="manifold.n_neighbors is 20 but there are only 10 points"):
        fit_umap(np.zeros((10, 3), np.float32), 2, 20, 0.0, "euclidean", 0)


FIT_IN_A_FRESH_PROCESS = """
import sys, time
import numpy as np
from saepipe.manifold import cache_compiled_code, fit_umap
cached = cache_compiled_code(sys.argv[1])
x = np.load(sys.argv[2])
started = time.perf_counter()
reducer = fit_umap(x, n_components=2, n_neighbors=10, min_dist=0.0, metric="euclidean", seed=1)
np.save(sys.argv[3], np.concatenate([reducer.embedding_, reducer.transform(x[:7])]))
print(cached, time.perf_counter() - started)
"""


def test_umap_compiled_once_is_loaded_by_the_next_process_with_the_same_results(tmp_path, capsys):
    x, _ = clusters_in_20_dims()
    np.save(tmp_path / "x.npy", x)
    cache = tmp_path / "numba-cache"

    def fit(run):
        done = subprocess.run([sys.executable, "-c", FIT_IN_A_FRESH_PROCESS, str(cache), str(tmp_path / "x.npy"),
                               str(tmp_path / f"{run}.npy")], capture_output=True, text=True, check=True,
                              cwd=tmp_path, env={**os.environ, "PYTHONPATH": ":".join(sys.path)})
        cached, seconds = done.stdout.split()
        return int(cached), float(seconds)

    (cached, cold), (_, warm) = fit("cold"), fit("warm")
    assert cached > 50  # UMAP's own functions, not only those pynndescent marks for the cache
    umap_entries = [p.name for p in cache.rglob("*.nbi") if "umap" in str(p)]
    assert umap_entries, sorted(p.name for p in cache.rglob("*"))[:20]
    assert (tmp_path / "cold.npy").read_bytes() == (tmp_path / "warm.npy").read_bytes()
    with capsys.disabled():
        print(f"\nUMAP fit + transform, tiny data, fresh process: {cold:.1f} s compiling, {warm:.1f} s from the cache")
