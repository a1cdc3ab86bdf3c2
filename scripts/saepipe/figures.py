"""The workflow's figures; each plot_* function takes arrays, writes one PNG and returns its Figure
(closed: its axes, titles and labels can still be read, as the tests do)."""

from __future__ import annotations

import os
from typing import Sequence

import matplotlib

matplotlib.use("Agg")  # no display on cluster nodes and CI
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

from .atomic import atomic_path  # noqa: E402


def _save(fig: plt.Figure, path: str | os.PathLike) -> plt.Figure:
    with atomic_path(path) as tmp:
        fig.savefig(tmp, dpi=110, bbox_inches="tight")
    plt.close(fig)
    return fig


def plot_training_curves(history: dict[str, Sequence[float]], path: str | os.PathLike) -> plt.Figure:
    """Training and validation loss per epoch (log scale)."""
    fig, ax = plt.subplots(figsize=(6, 4))
    for key in sorted(history):
        if key.endswith("loss"):
            values = np.asarray(history[key], dtype=float)
            ax.plot(np.arange(1, len(values) + 1), values, marker="o", ms=3, label=key)
    ax.set_xlabel("epoch")
    ax.set_ylabel("loss (MSE + sparsity penalty)")
    ax.set_yscale("log")
    ax.grid(alpha=0.3)
    ax.legend()
    ax.set_title("Autoencoder training")
    return _save(fig, path)


def draw_image(ax: plt.Axes, image: np.ndarray, image_shape: Sequence[int]) -> None:
    """One image in [0, 1] (any shape holding its pixels): in colour when `image_shape` has 3
    channels, else in gray."""
    image = np.asarray(image).reshape(image_shape)
    if image.ndim == 3 and image.shape[2] == 3:
        ax.imshow(np.clip(image, 0, 1))  # a decoder's output may step a little outside
    else:
        ax.imshow(image.reshape(image.shape[:2]), cmap="gray", vmin=0, vmax=1)


def plot_image_rows(
    rows: Sequence[np.ndarray],
    row_titles: Sequence[str],
    image_shape: Sequence[int],
    path: str | os.PathLike,
    *, column_titles: Sequence[str] | None = None,
    title: str = "",
) -> plt.Figure:
    """A grid of images: one row per array in `rows` (each (n, pixels))."""
    n_cols = max(1, *(len(r) for r in rows))
    # Room for the title (inches) above the grid, and no more: however many rows, the grid
    # starts right under it.
    title_room = (0.3 if title else 0) + (0.2 if column_titles is not None else 0)
    height = 1.25 * len(rows) + title_room
    fig, axes = plt.subplots(len(rows), n_cols, figsize=(1.1 * n_cols, height), squeeze=False)
    fig.subplots_adjust(top=1 - (title_room + 0.05) / height, bottom=0.05 / height)
    for r, (images, row_title) in enumerate(zip(rows, row_titles)):
        for c in range(n_cols):
            ax = axes[r, c]
            ax.set_xticks([])
            ax.set_yticks([])
            if c < len(images):
                draw_image(ax, images[c], image_shape)
            else:
                ax.axis("off")
            if r == 0 and column_titles is not None and c < len(column_titles):
                ax.set_title(column_titles[c], fontsize=8)
        axes[r, 0].set_ylabel(row_title, fontsize=8)
    if title:
        fig.suptitle(title, y=1 - 0.05 / height, va="top")
    return _save(fig, path)


def plot_confusion(
    table: np.ndarray,
    class_names: Sequence[str],
    cluster_to_label: Sequence[int],
    path: str | os.PathLike,
    *, title: str = "",
) -> plt.Figure:
    """True label x cluster counts, clusters ordered by the label they map to."""
    mapping = np.asarray(cluster_to_label)
    order = np.argsort(np.where(mapping < 0, len(class_names), mapping), kind="stable")
    shown = table[:, order]
    fig, ax = plt.subplots(figsize=(0.55 * shown.shape[1] + 2, 0.5 * shown.shape[0] + 1.5))
    im = ax.imshow(shown, cmap="Blues")
    for (i, j), count in np.ndenumerate(shown):
        ax.text(j, i, str(count), ha="center", va="center", fontsize=6,
                color="white" if count > shown.max() / 2 else "black")
    ax.set_xticks(range(shown.shape[1]))
    ax.set_xticklabels(
        [f"c{c}\u2192{class_names[mapping[c]] if mapping[c] >= 0 else '-'}" for c in order],
        rotation=90, fontsize=7,
    )
    ax.set_yticks(range(len(class_names)))
    ax.set_yticklabels(class_names, fontsize=7)
    ax.set_xlabel("cluster \u2192 mapped label")
    ax.set_ylabel("true label")
    ax.set_title(title)
    fig.colorbar(im, ax=ax, shrink=0.8)
    return _save(fig, path)


def embed_2d(codes: np.ndarray, method: str, seed: int) -> np.ndarray:
    """A 2-D map of the codes: `pca` (fast, linear) or `tsne` (slower, shows local structure)."""
    from sklearn.decomposition import PCA
    from sklearn.manifold import TSNE

    if codes.shape[1] <= 2:
        return np.pad(codes, ((0, 0), (0, 2 - codes.shape[1])))
    if method == "pca":
        return PCA(n_components=2, random_state=seed).fit_transform(codes)
    perplexity = float(min(30, max(2, (len(codes) - 1) // 3)))
    return TSNE(n_components=2, perplexity=perplexity, init="pca", random_state=seed).fit_transform(codes)


CLUSTERING_NAMES = {"kmeans": "KMeans", "gmm": "Gaussian-mixture"}


def plot_embedding_map(
    points: np.ndarray,
    clusters: np.ndarray,
    labels: np.ndarray | None,
    class_names: Sequence[str] | None,
    *, path: str | os.PathLike,
    method: str,
    clustering: str = "kmeans",
) -> plt.Figure:
    """The same 2-D map twice: coloured by cluster (of the `clustering` method), and by true
    label; once, by cluster, when there are no labels."""
    panels = [(clusters, f"{CLUSTERING_NAMES.get(clustering, clustering)} cluster")]
    if labels is not None:
        panels.append((labels, "true label"))
    fig, axes = plt.subplots(1, len(panels), figsize=(6 * len(panels), 5.5), squeeze=False)
    for ax, (colours, name) in zip(axes[0], panels):
        # Fixed colour limits: value v always gets the same colour, whichever values occur.
        n_colours = 10 if colours.max() < 10 else 20
        scatter = ax.scatter(points[:, 0], points[:, 1], c=colours, cmap=f"tab{n_colours}",
                             vmin=-0.5, vmax=n_colours - 0.5, s=4, alpha=0.7, linewidths=0)
        ax.set_title(f"test embeddings ({method}), coloured by {name}")
        ax.set_xticks([])
        ax.set_yticks([])
        handles, _ = scatter.legend_elements(num=None)
        values = np.unique(colours)
        names = [class_names[v] if name == "true label" else f"c{v}" for v in values]
        ax.legend(handles, names, fontsize=7, markerscale=1.5, loc="best", ncol=2)
    return _save(fig, path)


def member_sample(clusters: np.ndarray, n_clusters: int, n: int, seed: int) -> list[np.ndarray]:
    """Per cluster, up to `n` of its members' indices: a seeded sample, in order."""
    rng = np.random.default_rng(seed)
    picked = []
    for cluster in range(n_clusters):
        members = np.flatnonzero(clusters == cluster)
        picked.append(np.sort(members[rng.permutation(len(members))[:n]]))
    return picked


def plot_cluster_members(images: np.ndarray, clusters: np.ndarray, n_clusters: int, path: str | os.PathLike,
                         *, n: int = 10, seed: int = 0) -> plt.Figure:
    """A row of sample images per cluster, titled with the cluster's size: what the clusters hold,
    labels or not. `images` are (N, rows, cols[, 3])."""
    picked = member_sample(clusters, n_clusters, n, seed)
    sizes = np.bincount(np.asarray(clusters, dtype=np.int64), minlength=n_clusters)
    pixels = int(np.prod(images.shape[1:]))
    return plot_image_rows([images[index].reshape(len(index), pixels) for index in picked],
                    [f"c{c} ({sizes[c]})" for c in range(n_clusters)], images.shape[1:], path,
                    title=f"Members of each cluster (a sample of {n}; training images)")


def hoyer_sparsity(codes: np.ndarray) -> np.ndarray:
    """Per code, (sqrt(n) - L1/L2) / (sqrt(n) - 1): 0 when all units are equal, 1 when one is active."""
    n = codes.shape[1]
    l1 = np.abs(codes).sum(axis=1)
    l2 = np.sqrt((codes**2).sum(axis=1))
    ratio = np.divide(l1, l2, out=np.full_like(l1, np.sqrt(n), dtype=float), where=l2 > 0)
    return (np.sqrt(n) - ratio) / max(np.sqrt(n) - 1, 1e-12)


def plot_code_activations(codes: np.ndarray, path: str | os.PathLike, zero_tol: float = 1e-3) -> plt.Figure:
    """How sparse the code really is: all activations, and per unit its mean |activation|."""
    near_zero = np.mean(np.abs(codes) <= zero_tol, axis=0)
    dead = int(np.sum(near_zero >= 0.999))
    fig, axes = plt.subplots(1, 2, figsize=(11, 4))
    axes[0].hist(codes.ravel(), bins=100, color="tab:blue")
    axes[0].set_yscale("log")
    axes[0].set_xlabel("activation")
    axes[0].set_ylabel("count")
    axes[0].set_title(f"all code activations: {np.mean(np.abs(codes) <= zero_tol):.1%} within {zero_tol:g} of 0, "
                      f"mean Hoyer sparsity {hoyer_sparsity(codes).mean():.2f}", fontsize=9)
    axes[1].bar(np.arange(codes.shape[1]), np.abs(codes).mean(axis=0), color="tab:orange")
    axes[1].set_xlabel("code unit")
    axes[1].set_ylabel("mean |activation|")
    axes[1].set_title(f"per unit ({dead} of {codes.shape[1]} dead: always within {zero_tol:g} of 0)", fontsize=9)
    return _save(fig, path)


def score_axis_floor(series: dict[str, tuple[np.ndarray, np.ndarray]]) -> float:
    """Where the comparison's score axis starts: 0, or below the lowest bar's error bar when a
    score (a silhouette) is negative."""
    lows = [np.asarray(means) - np.asarray(stds) for means, stds in series.values() if len(means)]
    lowest = min([0.0] + [float(np.nanmin(low)) for low in lows if not np.isnan(low).all()])
    return lowest - 0.1 if lowest < 0 else 0.0


def plot_comparison(
    names: Sequence[str],
    series: dict[str, tuple[np.ndarray, np.ndarray]],
    n_seeds: Sequence[int],
    path: str | os.PathLike,
) -> plt.Figure:
    """Grouped bars: one group per experiment, one bar per metric (label -> (means, stds)), with
    error bars of one standard deviation across seeds."""
    fig, ax = plt.subplots(figsize=(max(5, 1.8 * len(names) + 2), 4))
    width = 0.8 / max(len(series), 1)
    x = np.arange(len(names))
    for i, (label, (means, stds)) in enumerate(series.items()):
        bars = ax.bar(x + (i - (len(series) - 1) / 2) * width, means, width, yerr=stds, capsize=3, label=label)
        ax.bar_label(bars, fmt="%.3f", fontsize=7, padding=2)
    ax.set_xticks(x, [f"{name}\n({n} seed{'s' if n != 1 else ''})" for name, n in zip(names, n_seeds)])
    ax.set_ylim(score_axis_floor(series), 1.08)
    ax.set_ylabel("score")
    ax.grid(axis="y", alpha=0.3)
    # below the axes, where it hides no bar
    ax.legend(fontsize=8, loc="upper center", bbox_to_anchor=(0.5, -0.16), ncol=1, frameon=False)
    ax.set_title("Experiments compared (mean and std across seeds)")
    return _save(fig, path)


def moved_examples(before: np.ndarray, after: np.ndarray, n: int, seed: int) -> np.ndarray:
    """Indices of up to `n` images whose cluster the refinement changed: a seeded sample, in order."""
    moved = np.flatnonzero(before != after)
    picked = np.random.default_rng(seed).permutation(len(moved))[:n]
    return np.sort(moved[picked])


def plot_refinement(
    images: np.ndarray,
    before: np.ndarray,
    after: np.ndarray,
    confident: np.ndarray,
    *, n_clusters: int,
    path: str | os.PathLike,
    n_show: int = 40,
    seed: int = 0,
) -> plt.Figure:
    """What self-labelling did to the training images: a sample of the images it moved from one
    cluster to another (titled before -> after), and the share of each cluster selected as
    confident (the classifier trains on it, less a held-out part for early stopping)."""
    shown = moved_examples(before, after, n_show, seed)
    n_cols = 10
    n_rows = max(1, int(np.ceil(len(shown) / n_cols)))
    fig = plt.figure(figsize=(1.0 * n_cols, 1.15 * n_rows + 2.6))
    grid = fig.add_gridspec(n_rows + 1, n_cols, height_ratios=[1.0] * n_rows + [2.2], hspace=0.6)
    for i in range(n_rows * n_cols):
        ax = fig.add_subplot(grid[i // n_cols, i % n_cols])
        ax.axis("off")
        if i < len(shown):
            k = shown[i]
            draw_image(ax, images[k], images.shape[1:])
            ax.set_title(f"c{before[k]}\u2192c{after[k]}", fontsize=8)
    if len(shown) == 0:
        fig.add_subplot(grid[0, :]).text(0.5, 0.5, "no image changed cluster", ha="center", va="center")
    bars = fig.add_subplot(grid[n_rows, :])
    sizes = np.bincount(before, minlength=n_clusters)
    used = np.bincount(before[confident], minlength=n_clusters)
    bars.bar(np.arange(n_clusters), used / np.maximum(sizes, 1), color="tab:blue")
    bars.set_xticks(np.arange(n_clusters), [f"c{c}" for c in range(n_clusters)], fontsize=8)
    bars.set_ylim(0, 1.05)
    bars.set_ylabel("share selected", fontsize=8)  # as confident; a held-out part of it stops training
    bars.set_xlabel("cluster (before refinement)", fontsize=8)
    changed = float(np.mean(before != after))
    fig.suptitle(f"Self-labelling on the training images: {100 * changed:.1f} % changed cluster "
                 f"({len(shown)} shown)", y=0.99)
    return _save(fig, path)


# How each protocol is named in the figures that show both.
PROTOCOL_NAMES = {"train": "train/test protocol (training points)", "all": "all-images protocol (all points)"}


def plot_k_choice(table, path: str | os.PathLike) -> plt.Figure:
    """Each criterion of choose_k's table (one column each, not k, protocol or chosen) against k,
    one line per protocol, with the chosen k of each marked by a dashed line."""
    criteria = [c for c in table.columns if c not in ("k", "protocol", "chosen") and table[c].notna().any()]
    fig, axes = plt.subplots(1, len(criteria), figsize=(3.6 * len(criteria), 3.4), squeeze=False)
    colours = dict(zip(PROTOCOL_NAMES, ("tab:blue", "tab:orange")))
    for ax, criterion in zip(axes[0], criteria):
        for protocol, rows in table.groupby("protocol", sort=False):
            colour = colours.get(protocol, "tab:gray")
            ax.plot(rows["k"], rows[criterion], marker="o", ms=3, color=colour,
                    label=PROTOCOL_NAMES.get(protocol, protocol))
            for k in rows.loc[rows["chosen"].astype(bool), "k"]:
                ax.axvline(k, color=colour, linestyle="--", alpha=0.8)
        ax.set_xlabel("number of clusters k")
        ax.set_title(criterion.replace("_", " "))
        ax.grid(alpha=0.3)
    picked = table[table["chosen"].astype(bool)]
    chosen = ", ".join(f"{PROTOCOL_NAMES.get(p, p).split(' (')[0]}: k = {int(k)}"
                       for p, k in zip(picked["protocol"], picked["k"]))
    axes[0][0].legend(fontsize=8)
    fig.suptitle(f"Choosing the number of clusters (dashed: chosen; {chosen})")
    fig.tight_layout()
    return _save(fig, path)
