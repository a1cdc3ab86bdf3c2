"""Draw the figure that the calling rule names in params.figure (rules `plot_*`)."""

import json

import numpy as np
import pandas as pd

from saepipe import figures
from saepipe.counts import cluster_counts
from saepipe.data import load_npy, load_npz
from saepipe.logs import logged_step


def training_curves(inputs, params, output):
    history = pd.read_csv(inputs.history)
    figures.plot_training_curves({c: history[c].tolist() for c in history if c != "epoch"}, output)


def reconstructions(inputs, params, output):
    ex = load_npz(inputs.examples)
    figures.plot_image_rows([ex["originals"], ex["reconstructions"]], ["original", "reconstructed"],
                            tuple(ex["image_shape"]), output, title="Test images and their reconstructions")


def centroids(inputs, params, output):
    images = load_npy(inputs.images)
    metrics = json.loads(open(inputs.metrics).read())
    if params.class_names is None:  # no labels: each centre with its cluster's size
        titles = [f"c{c} ({n})" for c, n in enumerate(metrics["train"]["cluster_sizes"])]
    else:
        titles = [f"c{c}\u2192{params.class_names[m] if m >= 0 else '-'}"
                  for c, m in enumerate(metrics["majority_mapping"])]
    figures.plot_image_rows([images.reshape(len(images), -1)], ["decoded centre"], images.shape[1:], output,
                            column_titles=titles, title="Cluster centres (mean code) through the decoder")


def confusion_matrix(inputs, params, output):
    table = pd.read_csv(inputs.confusion, sep="\t", index_col=0).to_numpy()
    metrics = json.loads(open(inputs.metrics).read())
    accuracy = metrics["test"]["accuracy_hungarian"]
    figures.plot_confusion(table, params.class_names, metrics["hungarian_mapping"], output,
                           title=f"Test set: true label vs cluster (Hungarian accuracy {accuracy:.3f})")


def embedding_map(inputs, params, output):
    codes, clusters = load_npy(inputs.codes), load_npy(inputs.clusters)
    labels = load_npz(inputs.test).get("y")
    rng = np.random.default_rng(params.seed)
    sample = np.sort(rng.permutation(len(codes))[: params.n_points])
    points = figures.embed_2d(codes[sample], params.method, params.seed)
    figures.plot_embedding_map(points, clusters[sample], None if labels is None else labels[sample],
                               params.class_names, output, params.method, params.clustering)


def cluster_members(inputs, params, output):
    train = load_npz(inputs.train)
    images = train["x"].reshape(-1, *(int(v) for v in train["image_shape"]))
    n_clusters = cluster_counts(params.n_clusters, inputs.get("chosen_k"))["train"]
    figures.plot_cluster_members(images, load_npy(inputs.clusters), n_clusters, output,
                                 params.n_examples, params.seed)


def code_activations(inputs, params, output):
    figures.plot_code_activations(load_npy(inputs.codes), output)


def refinement(inputs, params, output):
    train = load_npz(inputs.train)
    images = train["x"].reshape(-1, *(int(v) for v in train["image_shape"]))
    n_clusters = cluster_counts(params.n_clusters, inputs.get("chosen_k"))["train"]
    figures.plot_refinement(images, load_npy(inputs.before), load_npy(inputs.after),
                            load_npz(inputs.confident)["train"], n_clusters, output, seed=params.seed)


def k_choice(inputs, params, output):
    figures.plot_k_choice(pd.read_csv(inputs.table, sep="\t"), output)


PLOTS = {f.__name__: f for f in
         (training_curves, reconstructions, centroids, confusion_matrix, embedding_map, code_activations, refinement,
          cluster_members, k_choice)}

with logged_step(snakemake.log[0]) as log:
    PLOTS[snakemake.params.figure](snakemake.input, snakemake.params, snakemake.output[0])
    log.info("wrote %s", snakemake.output[0])
