import numpy as np
import pytest

from conftest import clusters_in_20_dims, fit_umap_in_a_fresh_process
from saepipe.manifold import fit_umap


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
        fit_umap(np.zeros((10, 3), np.float32), n_components=2, n_neighbors=20, min_dist=0.0, metric="euclidean", seed=0)


def test_umap_compiled_once_is_loaded_by_the_next_process_with_the_same_results(compiled_umap, tmp_path, capsys):
    """The session's first UMAP fit compiled into its cache (compiled_umap); a fresh process loads it."""
    cache, cached, cold = compiled_umap["cache"], compiled_umap["cached"], compiled_umap["seconds"]
    _, warm = fit_umap_in_a_fresh_process(cache, compiled_umap["x"], tmp_path / "warm.npy")
    assert cached > 50  # UMAP's own functions, not only those pynndescent marks for the cache
    umap_entries = [p.name for p in cache.rglob("*.nbi") if "umap" in str(p)]
    assert umap_entries, sorted(p.name for p in cache.rglob("*"))[:20]
    assert compiled_umap["cold"].read_bytes() == (tmp_path / "warm.npy").read_bytes()
    with capsys.disabled():
        print(f"\nUMAP fit + transform, tiny data, fresh process: {cold:.1f} s compiling, {warm:.1f} s from the cache")
