import numpy as np
import pytest

from saepipe.cluster import clustering_points, fit_clusters, normalize_rows


def blobs(seed=0):
    rng = np.random.default_rng(seed)
    centres = np.array([[5, 0], [0, 5], [-5, -5]], dtype=float)
    labels = np.repeat(np.arange(3), 30)
    return centres[labels] + rng.normal(0, 0.3, (90, 2)), labels


def test_kmeans_separates_clear_blobs():
    x, labels = blobs()
    kmeans = fit_clusters(x, "kmeans", n_clusters=3, n_init=3, max_iter=100, seed=0)
    # each true blob falls into exactly one cluster
    for label in range(3):
        assert len(set(kmeans.labels_[labels == label].tolist())) == 1
    assert kmeans.cluster_centers_.shape == (3, 2)


def test_kmeans_is_deterministic_for_a_seed():
    x, _ = blobs()
    a = fit_clusters(x, "kmeans", 3, n_init=2, max_iter=100, seed=7).labels_
    b = fit_clusters(x, "kmeans", 3, n_init=2, max_iter=100, seed=7).labels_
    np.testing.assert_array_equal(a, b)


def test_more_clusters_than_samples_is_a_clear_error():
    with pytest.raises(ValueError, match="n_clusters is 5 but there are only 3 training samples"):
        fit_clusters(np.zeros((3, 2)), "kmeans", 5, n_init=1, max_iter=10, seed=0)


def test_normalize_rows_gives_unit_length_and_keeps_zero_rows_finite():
    x = np.array([[3.0, 4.0], [0.0, 0.0]], dtype=np.float32)
    out = normalize_rows(x)
    np.testing.assert_allclose(out[0], [0.6, 0.8])
    assert np.all(np.isfinite(out))


def test_a_gaussian_mixture_separates_clear_blobs_and_is_deterministic():
    from saepipe.cluster import centres, describe, fit_clusters

    x, labels = blobs()
    gmm = fit_clusters(x, "gmm", 3, n_init=2, max_iter=100, seed=3, covariance_type="full")
    predicted = gmm.predict(x)
    for label in range(3):
        assert len(set(predicted[labels == label].tolist())) == 1
    assert centres(gmm).shape == (3, 2)
    assert "Gaussian mixture" in describe(gmm)
    again = fit_clusters(x, "gmm", 3, n_init=2, max_iter=100, seed=3).predict(x)
    np.testing.assert_array_equal(predicted, again)


def test_an_unknown_clustering_method_is_a_clear_error():
    from saepipe.cluster import fit_clusters

    with pytest.raises(ValueError, match="clustering.method is 'dbscan'; expected one of kmeans, gmm"):
        fit_clusters(blobs()[0], "dbscan", 3, n_init=1, max_iter=10, seed=0)


def test_the_clustered_points_of_all_are_its_own_file_or_else_both_splits(tmp_path):
    train, test, everything = np.ones((3, 2)), 2 * np.ones((2, 2)), 3 * np.ones((5, 2))
    for name, x in (("train", train), ("test", test), ("all", everything)):
        np.save(tmp_path / f"{name}.npy", x)
    paths = {split: str(tmp_path / f"{split}.npy") for split in ("train", "test")}
    points = clustering_points(paths, normalize=False)
    np.testing.assert_array_equal(points["all"], np.concatenate([train, test]))
    points = clustering_points({**paths, "all": str(tmp_path / "all.npy")}, normalize=True)
    np.testing.assert_allclose(points["all"], np.full((5, 2), 2 ** -0.5))


def test_the_clustered_points_are_read_by_their_input_names_and_absent_ones_give_nothing(tmp_path):
    np.save(tmp_path / "codes.npy", np.ones((3, 2)))
    inputs = {"images": "elsewhere.npz", "points_train": str(tmp_path / "codes.npy"),
              "points_test": str(tmp_path / "codes.npy")}
    points = clustering_points(inputs, normalize=False, prefix="points_")
    assert sorted(points) == ["all", "test", "train"] and points["all"].shape == (6, 2)
    assert clustering_points({"images": "elsewhere.npz"}, normalize=False, prefix="points_") == {}
