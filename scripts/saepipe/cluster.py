"""Clustering of the codes (or their UMAP embedding): KMeans or a Gaussian mixture, fitted on
train and applied to test."""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np

from .data import load_npy

METHODS = ("kmeans", "gmm")


def fit_clusters(
    x: np.ndarray,
    method: str,
    n_clusters: int,
    *, n_init: int,
    max_iter: int,
    seed: int,
    covariance_type: str = "full",
):
    """A fitted sklearn KMeans or GaussianMixture (both `predict`); the seed fixes its starts."""
    from sklearn.cluster import KMeans
    from sklearn.mixture import GaussianMixture

    if n_clusters > len(x):
        raise ValueError(
            f"clustering.n_clusters is {n_clusters} but there are only {len(x)} training samples"
        )
    if method == "kmeans":
        return KMeans(n_clusters=n_clusters, n_init=n_init, max_iter=max_iter, random_state=seed).fit(x)
    if method == "gmm":
        return GaussianMixture(
            n_components=n_clusters,
            covariance_type=covariance_type,
            n_init=n_init,
            max_iter=max_iter,
            random_state=seed,
        ).fit(x)
    raise ValueError(f"clustering.method is {method!r}; expected one of {', '.join(METHODS)}")


def centres(model) -> np.ndarray:
    """The cluster centres in the space the model was fitted in (KMeans centroids, GMM means)."""
    return model.cluster_centers_ if hasattr(model, "cluster_centers_") else model.means_


def confidence(model, x: np.ndarray) -> np.ndarray:
    """How surely each point belongs to its cluster, higher is surer: the mixture's log-density
    (its posteriors saturate at 1 on a UMAP embedding, so they cannot rank), or minus the
    distance to the nearest KMeans centre."""
    if hasattr(model, "cluster_centers_"):
        return -model.transform(x).min(axis=1)
    return model.score_samples(x)


def describe(model) -> str:
    """One log line on how the fit ended."""
    if hasattr(model, "inertia_"):
        return f"KMeans: inertia {model.inertia_:.4f} after {model.n_iter_} iterations"
    return (f"Gaussian mixture: lower bound {model.lower_bound_:.4f} after {model.n_iter_} EM steps"
            f"{'' if model.converged_ else ' (not converged: raise clustering.max_iter)'}")


def clustering_points(inputs: Mapping[str, str], normalize: bool, prefix: str = "") -> dict[str, np.ndarray]:
    """The points a clustering is fitted on, by split (train, test, all), from the files named
    `<prefix><split>` in `inputs` (a rule's input, or any mapping); empty when it names none.

    With UMAP, "all" has a file of its own (an embedding fitted on all the codes); without it,
    "all" is the codes of both splits, and `inputs` names only train and test.
    """
    given = {split: inputs[prefix + split] for split in ("train", "test", "all") if prefix + split in inputs.keys()}
    if not given:
        return {}
    points = {split: load_npy(given[split]) for split in ("train", "test")}
    points["all"] = load_npy(given["all"]) if "all" in given else np.concatenate([points["train"], points["test"]])
    if normalize:
        points = {split: normalize_rows(x) for split, x in points.items()}
    return points


def normalize_rows(x: np.ndarray) -> np.ndarray:
    """Scale each code to unit length, so KMeans groups codes by direction (cosine distance)."""
    norms = np.linalg.norm(x, axis=1, keepdims=True)
    return (x / np.maximum(norms, 1e-12)).astype(x.dtype)

