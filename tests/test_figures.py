"""The figures look as they should: each plot_* function returns its Figure, and the tests read
its titles, axis labels, panels and images, and check that the panels fill the figure."""

import numpy as np
import pandas as pd
import pytest

from saepipe import figures

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


def assert_png(path):
    data = path.read_bytes()
    assert data[:8] == PNG_MAGIC
    assert len(data) > 2000


def panels(fig):
    """The figure's axes that hold something (an image, a line, bars), in drawing order."""
    return [ax for ax in fig.axes if ax.images or ax.lines or ax.patches or ax.collections]


def title_gap_inches(fig) -> float:
    """From the top of the highest panel (with its titles) to the bottom of the figure's title:
    the blank band between them, in inches (negative: they overlap)."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg

    renderer = FigureCanvasAgg(fig).get_renderer()  # a closed figure keeps no canvas of its own
    boxes = [ax.get_tightbbox(renderer) for ax in fig.axes]
    top = max(box.y1 for box in boxes if box is not None)
    return (fig._suptitle.get_window_extent(renderer).y0 - top) / fig.dpi


@pytest.fixture
def rng():
    return np.random.default_rng(0)


def test_training_curves_draws_each_loss_against_the_epoch(tmp_path):
    fig = figures.plot_training_curves({"loss": [0.3, 0.2, 0.1], "val_loss": [0.35, 0.25, 0.2]}, tmp_path / "c.png")
    assert_png(tmp_path / "c.png")
    (ax,) = fig.axes
    assert ax.get_title() == "Autoencoder training"
    assert (ax.get_xlabel(), ax.get_ylabel()) == ("epoch", "loss (MSE + sparsity penalty)")
    assert [line.get_label() for line in ax.lines] == ["loss", "val_loss"] and ax.get_yscale() == "log"
    np.testing.assert_array_equal(ax.lines[1].get_xdata(), [1, 2, 3])


def test_image_rows_draw_one_panel_per_image_with_the_titles(tmp_path, rng):
    images = rng.random((4, 36))
    fig = figures.plot_image_rows([images, images[:3]], ["a", "b"], (6, 6), tmp_path / "r.png",
                                  column_titles=["w", "x", "y", "z"], title="Rows")
    assert_png(tmp_path / "r.png")
    assert len(fig.axes) == 8 and len(panels(fig)) == 7  # the eighth cell is empty and hidden
    assert [ax.get_title() for ax in fig.axes[:4]] == ["w", "x", "y", "z"]
    assert (fig.axes[0].get_ylabel(), fig.axes[4].get_ylabel()) == ("a", "b")
    assert fig._suptitle.get_text() == "Rows"
    np.testing.assert_allclose(fig.axes[0].images[0].get_array(), images[0].reshape(6, 6))


@pytest.mark.parametrize("n_clusters", [2, 10, 20])
def test_the_cluster_members_grid_starts_right_under_its_title(tmp_path, rng, n_clusters):
    """No blank band between the title and the grid, however many clusters (rows) there are."""
    images = rng.random((40 * n_clusters, 8, 8))
    clusters = np.arange(len(images)) % n_clusters
    fig = figures.plot_cluster_members(images, clusters, n_clusters, tmp_path / "m.png", n=10)
    assert_png(tmp_path / "m.png")
    assert len(panels(fig)) == 10 * n_clusters
    assert fig._suptitle.get_text().startswith("Members of each cluster")
    assert [ax.get_ylabel() for ax in fig.axes[::10]] == [f"c{c} (40)" for c in range(n_clusters)]
    assert 0 <= title_gap_inches(fig) < 0.4  # 10 rows used to leave 2 inches


def test_colour_images_are_drawn_in_colour_and_gray_ones_in_gray(tmp_path, rng):
    colour = rng.random((20, 8, 8, 3))
    fig = figures.plot_cluster_members(colour, np.arange(20) % 2, 2, tmp_path / "c.png", n=3)
    drawn = fig.axes[0].images[0]
    assert drawn.get_array().shape == (8, 8, 3)
    first = figures.member_sample(np.arange(20) % 2, 2, 3, seed=0)[0][0]
    np.testing.assert_allclose(drawn.get_array(), colour[first])
    gray = figures.plot_cluster_members(colour[..., 0], np.arange(20) % 2, 2, tmp_path / "g.png", n=3)
    assert gray.axes[0].images[0].get_array().shape == (8, 8)
    assert gray.axes[0].images[0].get_cmap().name == "gray"


def test_confusion_orders_clusters_by_their_label_and_names_the_unmapped_one(tmp_path):
    table = np.array([[5, 0, 1], [0, 4, 0]])
    fig = figures.plot_confusion(table, ["zero", "one"], [1, 0, -1], tmp_path / "m.png", title="Test set")
    assert_png(tmp_path / "m.png")
    ax, colorbar = fig.axes
    assert ax.get_title() == "Test set"
    assert (ax.get_xlabel(), ax.get_ylabel()) == ("cluster \u2192 mapped label", "true label")
    assert [t.get_text() for t in ax.get_xticklabels()] == ["c1\u2192zero", "c0\u2192one", "c2\u2192-"]
    assert [t.get_text() for t in ax.get_yticklabels()] == ["zero", "one"]
    np.testing.assert_array_equal(ax.images[0].get_array(), table[:, [1, 0, 2]])


@pytest.mark.parametrize("method", ["pca", "tsne"])
def test_embedding_map_has_a_panel_by_cluster_and_one_by_label(tmp_path, rng, method):
    codes = rng.normal(size=(40, 5))
    points = figures.embed_2d(codes, method, seed=0)
    assert points.shape == (40, 2)
    fig = figures.plot_embedding_map(points, rng.integers(0, 3, 40), rng.integers(0, 3, 40), ["a", "b", "c"],
                                     path=tmp_path / "e.png", method=method, clustering="gmm")
    assert_png(tmp_path / "e.png")
    assert [ax.get_title() for ax in panels(fig)] == [
        f"test embeddings ({method}), coloured by Gaussian-mixture cluster",
        f"test embeddings ({method}), coloured by true label"]
    unlabelled = figures.plot_embedding_map(points, rng.integers(0, 3, 40), None, None, path=tmp_path / "u.png", method=method)
    assert len(panels(unlabelled)) == 1


def test_code_activations_has_the_histogram_and_the_units(tmp_path, rng):
    codes = np.maximum(rng.normal(size=(100, 6)), 0)
    codes[:, 2] = 0  # a dead unit
    fig = figures.plot_code_activations(codes, tmp_path / "a.png")
    assert_png(tmp_path / "a.png")
    histogram, units = panels(fig)
    assert (histogram.get_xlabel(), units.get_xlabel(), units.get_ylabel()) == ("activation", "code unit",
                                                                               "mean |activation|")
    assert "1 of 6 dead" in units.get_title() and len(units.patches) == 6


def test_a_failed_plot_leaves_no_file(tmp_path):
    with pytest.raises(Exception):
        figures.plot_image_rows([np.zeros((2, 5))], ["x"], (3, 3), tmp_path / "bad.png")
    assert list(tmp_path.iterdir()) == []


def test_hoyer_sparsity_is_one_for_one_hot_codes_and_zero_for_flat_codes():
    codes = np.array([[0.0, 3.0, 0.0, 0.0], [1.0, 1.0, 1.0, 1.0]])
    np.testing.assert_allclose(figures.hoyer_sparsity(codes), [1.0, 0.0], atol=1e-12)


def test_comparison_has_a_bar_per_experiment_and_metric(tmp_path):
    series = {"accuracy": (np.array([0.8, 0.95]), np.array([0.02, 0.0])), "NMI": (np.array([0.7, 0.9]), np.zeros(2))}
    fig = figures.plot_comparison(["default", "n2d"], series, [3, 1], tmp_path / "c.png")
    assert_png(tmp_path / "c.png")
    (ax,) = fig.axes
    assert ax.get_title() == "Experiments compared (mean and std across seeds)" and ax.get_ylabel() == "score"
    assert [t.get_text() for t in ax.get_xticklabels()] == ["default\n(3 seeds)", "n2d\n(1 seed)"]
    assert sorted(round(bar.get_height(), 3) for bar in ax.patches) == [0.7, 0.8, 0.9, 0.95]


def test_refinement_shows_the_moved_images_and_the_share_trained_on(tmp_path, rng):
    images = rng.random((30, 8, 8))
    before = np.arange(30) % 3
    after = before.copy()
    after[:5] = (after[:5] + 1) % 3
    fig = figures.plot_refinement(images, before, after, np.arange(30) < 15, n_clusters=3, path=tmp_path / "r.png")
    assert_png(tmp_path / "r.png")
    assert fig._suptitle.get_text().startswith("Self-labelling on the training images: 16.7 % changed")
    moved = [ax for ax in fig.axes if ax.images]
    assert len(moved) == 5 and moved[0].get_title() == f"c{before[0]}\u2192c{after[0]}"
    bars = fig.axes[-1]
    assert bars.get_xlabel() == "cluster (before refinement)" and len(bars.patches) == 3


def test_k_choice_draws_each_criterion_with_the_chosen_k_marked(tmp_path):
    table = pd.DataFrame({"protocol": ["train"] * 3 + ["all"] * 3, "k": [2, 3, 4] * 2,
                          "prediction_strength": [0.9, 0.85, 0.4, 0.9, 0.5, 0.4],
                          "silhouette": [0.5, 0.6, 0.4, 0.5, 0.6, 0.3], "bic": [np.nan] * 6,
                          "chosen": [False, True, False, True, False, False]})
    fig = figures.plot_k_choice(table, tmp_path / "k.png")
    assert_png(tmp_path / "k.png")
    assert [ax.get_title() for ax in fig.axes] == ["prediction strength", "silhouette"]  # bic: all empty
    assert all(ax.get_xlabel() == "number of clusters k" for ax in fig.axes)
    dashed = [line.get_xdata()[0] for line in fig.axes[0].lines if line.get_linestyle() == "--"]
    assert sorted(dashed) == [2, 3]
    assert "k = 3" in fig._suptitle.get_text() and "k = 2" in fig._suptitle.get_text()


def test_the_score_axis_starts_at_zero_unless_a_score_is_negative():
    positive = {"accuracy": (np.array([0.8, 0.95]), np.array([0.02, 0.0]))}
    assert figures.score_axis_floor(positive) == 0.0
    with_silhouette = {**positive, "silhouette": (np.array([-0.05, 0.3]), np.array([0.02, 0.01]))}
    assert figures.score_axis_floor(with_silhouette) == pytest.approx(-0.17)
    assert figures.score_axis_floor({"NMI": (np.array([np.nan]), np.array([np.nan]))}) == 0.0
