"""Score clusters against true labels: the seed's majority map and the literature's protocol."""

from __future__ import annotations

import numpy as np


def contingency(labels: np.ndarray, clusters: np.ndarray, n_classes: int, n_clusters: int) -> np.ndarray:
    """Counts (n_classes, n_clusters): row = true label, column = cluster."""
    table = np.zeros((n_classes, n_clusters), dtype=np.int64)
    np.add.at(table, (np.asarray(labels, dtype=np.int64), np.asarray(clusters, dtype=np.int64)), 1)
    return table


def majority_mapping(labels: np.ndarray, clusters: np.ndarray, n_classes: int, n_clusters: int) -> np.ndarray:
    """For each cluster, the most frequent true label among its members (ties: smallest label).

    Two clusters may get the same label; an empty cluster gets -1 (never correct).
    """
    table = contingency(labels, clusters, n_classes, n_clusters)
    mapping = table.argmax(axis=0)
    mapping[table.sum(axis=0) == 0] = -1
    return mapping


def hungarian_mapping(labels: np.ndarray, clusters: np.ndarray, n_classes: int, n_clusters: int) -> np.ndarray:
    """The one-to-one cluster -> label map that maximises matches; unmatched clusters get -1."""
    from scipy.optimize import linear_sum_assignment

    table = contingency(labels, clusters, n_classes, n_clusters)
    rows, cols = linear_sum_assignment(table, maximize=True)
    mapping = np.full(n_clusters, -1, dtype=np.int64)
    mapping[cols] = rows
    return mapping


def mapped_accuracy(labels: np.ndarray, clusters: np.ndarray, mapping: np.ndarray) -> float:
    if len(labels) == 0:
        return float("nan")
    return float(np.mean(mapping[np.asarray(clusters, dtype=np.int64)] == labels))


def cluster_scores(
    train_labels: np.ndarray,
    train_clusters: np.ndarray,
    test_labels: np.ndarray,
    test_clusters: np.ndarray,
    n_classes: int,
    n_clusters: int,
) -> dict:
    """All clustering metrics. Both maps are fitted on the training labels only, then applied to test."""
    from sklearn.metrics import adjusted_rand_score, normalized_mutual_info_score

    majority = majority_mapping(train_labels, train_clusters, n_classes, n_clusters)
    hungarian = hungarian_mapping(train_labels, train_clusters, n_classes, n_clusters)
    scores: dict = {
        "majority_mapping": majority.tolist(),
        "majority_distinct_labels": int(len(set(majority[majority >= 0].tolist()))),
        "hungarian_mapping": hungarian.tolist(),
    }
    for split, labels, clusters in (("train", train_labels, train_clusters), ("test", test_labels, test_clusters)):
        scores[split] = {
            "accuracy_majority": mapped_accuracy(labels, clusters, majority),
            "accuracy_hungarian": mapped_accuracy(labels, clusters, hungarian),
            "nmi": float(normalized_mutual_info_score(labels, clusters)),
            "ari": float(adjusted_rand_score(labels, clusters)),
            "n_samples": int(len(labels)),
        }
    return scores


def literature_scores(labels: np.ndarray, clusters: np.ndarray, n_classes: int, n_clusters: int) -> dict:
    """The published protocol (DEC, IDEC, N2D): clusters fitted on all images, scored on the same
    images with the best one-to-one map (Hungarian accuracy), NMI and ARI."""
    from sklearn.metrics import adjusted_rand_score, normalized_mutual_info_score

    hungarian = hungarian_mapping(labels, clusters, n_classes, n_clusters)
    return {
        "accuracy_hungarian": mapped_accuracy(labels, clusters, hungarian),
        "nmi": float(normalized_mutual_info_score(labels, clusters)),
        "ari": float(adjusted_rand_score(labels, clusters)),
        "n_samples": int(len(labels)),
    }
