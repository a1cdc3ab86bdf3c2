"""Each figure of rules `plot_*` from its rule's files: read them, then draw with `figures`.
Each function takes the rule's input, params and output path, and returns the Figure it wrote."""

from __future__ import annotations

import json
from typing import Any

import numpy as np
import pandas as pd

from . import figures
from .counts import cluster_counts
from .data import load_npy, load_npz


def training_curves(inputs: Any, params: Any, output: str) -> Any:
    history = pd.read_csv(inputs.history)
    return figures.plot_training_curves({c: history[c].tolist() for c in history if c != "epoch"}, output)


def reconstructions(inputs: Any, params: Any, output: str) -> Any:
    ex = load_npz(inputs.examples)
    return figures.plot_image_rows([ex["originals"], ex["reconstructions"]], ["original", "reconstructed"],
                            tuple(ex["image_shape"]), output, title="Test images and their reconstructions")


def centroids(inputs: Any, params: Any, output: str) -> Any:
    images = load_npy(inputs.images)
    metrics = json.loads(open(inputs.metrics).read())
    if params.class_names is None:  # no labels: each centre with its cluster's size
        titles = [f"c{c} ({n})" for c, n in enumerate(metrics["train"]["cluster_sizes"])]
    else:
        titles = [f"c{c}\u2192{params.class_names[m] if m >= 0 else '-'}"
                  for c, m in enumerate(metrics["majority_mapping"])]
    return figures.plot_image_rows([images.reshape(len(images), -1)], ["decoded centre"], images.shape[1:], output,
                            column_titles=titles, title="Cluster centres (mean code) through the decoder")


def confusion_matrix(inputs: Any, params: Any, output: str) -> Any:
    table = pd.read_csv(inputs.confusion, sep="\t", index_col=0).to_numpy()
    metrics = json.loads(open(inputs.metrics).read())
    accuracy = metrics["test"]["accuracy_hungarian"]
    return figures.plot_confusion(table, params.class_names, metrics["hungarian_mapping"], output,
                           title=f"Test set: true label vs cluster (Hungarian accuracy {accuracy:.3f})")


def embedding_map(inputs: Any, params: Any, output: str) -> Any:
    codes, clusters = load_npy(inputs.codes), load_npy(inputs.clusters)
    labels = load_npz(inputs.test).get("y")
    rng = np.random.default_rng(params.seed)
    sample = np.sort(rng.permutation(len(codes))[: params.n_points])
    points = figures.embed_2d(codes[sample], params.method, params.seed)
    return figures.plot_embedding_map(points, clusters[sample], None if labels is None else labels[sample],
                               params.class_names, path=output, method=params.method, clustering=params.clustering)


def cluster_members(inputs: Any, params: Any, output: str) -> Any:
    train = load_npz(inputs.train)
    images = train["x"].reshape(-1, *(int(v) for v in train["image_shape"]))
    n_clusters = cluster_counts(params.n_clusters, inputs.get("chosen_k"))["train"]
    return figures.plot_cluster_members(images, load_npy(inputs.clusters), n_clusters, output,
                                 n=params.n_examples, seed=params.seed)


def code_activations(inputs: Any, params: Any, output: str) -> Any:
    return figures.plot_code_activations(load_npy(inputs.codes), output)


def refinement(inputs: Any, params: Any, output: str) -> Any:
    train = load_npz(inputs.train)
    images = train["x"].reshape(-1, *(int(v) for v in train["image_shape"]))
    n_clusters = cluster_counts(params.n_clusters, inputs.get("chosen_k"))["train"]
    return figures.plot_refinement(images, load_npy(inputs.before), load_npy(inputs.after),
                            load_npz(inputs.confident)["train"], n_clusters=n_clusters, path=output, seed=params.seed)


def k_choice(inputs: Any, params: Any, output: str) -> Any:
    return figures.plot_k_choice(pd.read_csv(inputs.table, sep="\t"), output)


FIGURES = {f.__name__: f for f in
         (training_curves, reconstructions, centroids, confusion_matrix, embedding_map, code_activations, refinement,
          cluster_members, k_choice)}


def draw(figure: str, inputs: Any, params: Any, output: str) -> Any:
    """Draw `figure` (one of FIGURES, a rule's params.figure) into `output`."""
    return FIGURES[figure](inputs, params, output)
