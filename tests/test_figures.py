import numpy as np
import pytest

from saepipe import figures

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


def assert_png(path):
    data = path.read_bytes()
    assert data[:8] == PNG_MAGIC
    assert len(data) > 2000


@pytest.fixture
def rng():
    return np.random.default_rng(0)


def test_training_curves_png(tmp_path):
    figures.plot_training_curves({"loss": [0.3, 0.2, 0.1], "val_loss": [0.35, 0.25, 0.2]}, tmp_path / "c.png")
    assert_png(tmp_path / "c.png")


def test_image_rows_png(tmp_path, rng):
    images = rng.random((4, 36))
    figures.plot_image_rows([images, images[:3]], ["a", "b"], (6, 6), tmp_path / "r.png",
                            column_titles=["w", "x", "y", "z"])
    assert_png(tmp_path / "r.png")


def test_confusion_png_with_an_unmapped_cluster(tmp_path):
    table = np.array([[5, 0, 1], [0, 4, 0]])
    figures.plot_confusion(table, ["zero", "one"], [0, 1, -1], tmp_path / "m.png")
    assert_png(tmp_path / "m.png")


@pytest.mark.parametrize("method", ["pca", "tsne"])
def test_embedding_map_png(tmp_path, rng, method):
    codes = rng.normal(size=(40, 5))
    points = figures.embed_2d(codes, method, seed=0)
    assert points.shape == (40, 2)
    figures.plot_embedding_map(points, rng.integers(0, 3, 40), rng.integers(0, 3, 40), ["a", "b", "c"],
                               tmp_path / "e.png", method)
    assert_png(tmp_path / "e.png")


def test_code_activations_png(tmp_path, rng):
    codes = np.maximum(rng.normal(size=(100, 6)), 0)
    codes[:, 2] = 0  # a dead unit
    figures.plot_code_activations(codes, tmp_path / "a.png")
    assert_png(tmp_path / "a.png")


def test_a_failed_plot_leaves_no_file(tmp_path):
    with pytest.raises(Exception):
        figures.plot_image_rows([np.zeros((2, 5))], ["x"], (3, 3), tmp_path / "bad.png")
    assert list(tmp_path.iterdir()) == []


def test_hoyer_sparsity_is_one_for_one_hot_codes_and_zero_for_flat_codes():
    codes = np.array([[0.0, 3.0, 0.0, 0.0], [1.0, 1.0, 1.0, 1.0]])
    np.testing.assert_allclose(figures.hoyer_sparsity(codes), [1.0, 0.0], atol=1e-12)


def test_comparison_png(tmp_path):
    series = {"accuracy": (np.array([0.8, 0.95]), np.array([0.02, 0.0])), "NMI": (np.array([0.7, 0.9]), np.zeros(2))}
    figures.plot_comparison(["default", "n2d"], series, [3, 1], tmp_path / "c.png")
    assert_png(tmp_path / "c.png")


def test_the_score_axis_starts_at_zero_unless_a_score_is_negative():
    positive = {"accuracy": (np.array([0.8, 0.95]), np.array([0.02, 0.0]))}
    assert figures.score_axis_floor(positive) == 0.0
    with_silhouette = {**positive, "silhouette": (np.array([-0.05, 0.3]), np.array([0.02, 0.01]))}
    assert figures.score_axis_floor(with_silhouette) == pytest.approx(-0.17)
    assert figures.score_axis_floor({"NMI": (np.array([np.nan]), np.array([np.nan]))}) == 0.0
