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
