"""Score clusters: against true labels, the train/test protocol (maps fitted on the training labels)
and the all-images protocol; without labels, what needs none (rule `evaluate`)."""

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


def purity(fit_labels: np.ndarray, fit_clusters: np.ndarray, labels: np.ndarray, clusters: np.ndarray,
           *, n_classes: int, n_clusters: int) -> float:
    """The many-to-one accuracy: each cluster named by its most frequent label among
    (`fit_labels`, `fit_clusters`), then applied to (`labels`, `clusters`). Any number of
    clusters may share a label, so it rises with the number of clusters (one per image scores
    1): with a number of clusters other than the number of classes it is no accuracy, and is
    reported under this name."""
    return mapped_accuracy(labels, clusters, majority_mapping(fit_labels, fit_clusters, n_classes, n_clusters))


def label_agreement(labels: np.ndarray, clusters: np.ndarray) -> dict:
    """The scores that need no map: NMI, ARI, and how many images were scored."""
    from sklearn.metrics import adjusted_rand_score, normalized_mutual_info_score

    return {
        "nmi": float(normalized_mutual_info_score(labels, clusters)),
        "ari": float(adjusted_rand_score(labels, clusters)),
        "n_samples": int(len(labels)),
    }


def cluster_scores(
    train_labels: np.ndarray,
    train_clusters: np.ndarray,
    test_labels: np.ndarray,
    test_clusters: np.ndarray,
    *, n_classes: int,
    n_clusters: int,
) -> dict:
    """All clustering metrics. Both maps are fitted on the training labels only, then applied to test."""
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
            **label_agreement(labels, clusters),
        }
    return scores


def all_images_scores(labels: np.ndarray, clusters: np.ndarray, n_classes: int, n_clusters: int) -> dict:
    """The published protocol (DEC, IDEC, N2D): clusters fitted on all images, scored on the same
    images with the best one-to-one map (Hungarian accuracy), NMI and ARI."""
    hungarian = hungarian_mapping(labels, clusters, n_classes, n_clusters)
    return {"accuracy_hungarian": mapped_accuracy(labels, clusters, hungarian), **label_agreement(labels, clusters)}


def silhouette(points: np.ndarray, clusters: np.ndarray, seed: int, sample: int = 5000) -> float | None:
    """The silhouette score of the clusters, on a seeded sample of `sample` points (the full score
    costs n^2 distances); None when it is undefined (one cluster, or every point its own)."""
    from sklearn.metrics import silhouette_score

    n_used = len(np.unique(clusters))
    if n_used < 2 or n_used >= len(clusters):
        return None
    size = min(sample, len(clusters))
    return float(silhouette_score(points, clusters, sample_size=size, random_state=seed))


def label_free_scores(points: np.ndarray, clusters: np.ndarray, n_clusters: int, *, seed: int,
                      confidence: np.ndarray | None = None) -> dict:
    """What can be said of a clustering without labels: its size, each cluster's size, the
    silhouette score of the clusters among `points` (the codes), and the clustering's own mean
    confidence (KMeans: minus the distance to the nearest centre; a mixture: its log-density)."""
    clusters = np.asarray(clusters, dtype=np.int64)
    scores = {
        "n_samples": int(len(clusters)),
        "cluster_sizes": np.bincount(clusters, minlength=n_clusters).tolist(),
        "silhouette": silhouette(points, clusters, seed),
    }
    if confidence is not None:
        scores["mean_confidence"] = float(np.mean(confidence))
    return scores


SPLITS = ("train", "test", "all")


def protocol_scores(labels: dict[str, np.ndarray], clusters: dict[str, np.ndarray], *, n_classes: int,
                    k: dict[str, int], chosen: bool) -> dict:
    """Both protocols' scores of one set of assignments (`clusters` of train, test and all; `labels`
    of train and test), with `k` clusters per split. A chosen k (`chosen`: n_clusters auto) may
    differ from the number of classes: its scores name it, and the many-to-one accuracy that rises
    with it, purity, in each split."""
    labels = {**labels, "all": np.concatenate([labels["train"], labels["test"]])}
    scores = cluster_scores(labels["train"], clusters["train"], labels["test"], clusters["test"], n_classes=n_classes,
                            n_clusters=k["train"])
    scores["all"] = all_images_scores(labels["all"], clusters["all"], n_classes, k["all"])
    if chosen:
        fitted_on = {"train": "train", "test": "train", "all": "all"}  # the labels each map is fitted on
        for split in SPLITS:
            scores[split]["n_clusters"] = k[split]
            scores[split]["purity"] = purity(labels[fitted_on[split]], clusters[fitted_on[split]], labels[split],
                                             clusters[split], n_classes=n_classes, n_clusters=k[split])
    return scores


def label_free_protocols(codes: dict[str, np.ndarray], clusters: dict[str, np.ndarray],
                         confidence: dict[str, np.ndarray], *, k: dict[str, int], seed: int, chosen: bool) -> dict:
    """label_free_scores of each split (`codes` of train and test; `confidence` where given)."""
    codes = {**codes, "all": np.concatenate([codes["train"], codes["test"]])}
    scores = {split: label_free_scores(codes[split], clusters[split], k[split], seed=seed,
                                       confidence=confidence.get(split)) for split in SPLITS}
    if chosen:
        for split in SPLITS:
            scores[split]["n_clusters"] = k[split]
    return scores


def evaluate(clusters: dict[str, np.ndarray], *, k: dict[str, int], chosen: bool, mse: dict[str, float],
             labels: dict[str, np.ndarray] | None = None, n_classes: int | None = None,
             codes: dict[str, np.ndarray] | None = None, confidence: dict[str, np.ndarray] | None = None,
             before: dict[str, np.ndarray] | None = None, seed: int = 0) -> tuple[dict, np.ndarray | None]:
    """Rule `evaluate`'s scores of a run's `clusters` (train, test, all) and its test contingency
    table (true label x cluster; None without labels).

    With `labels` (train and test): both protocols (protocol_scores), each split's contingency
    table in it. Without: what needs none, among the `codes` (label_free_protocols). `before`, a
    refined run's clustering before refinement, is scored too, under "before", so the
    refinement's gain shows; the clustering's `confidence` speaks of those assignments, so with
    `before` it is scored there only. `mse`: the reconstruction error of train and test."""
    if labels is not None:
        scores = protocol_scores(labels, clusters, n_classes=n_classes, k=k, chosen=chosen)
        if before is not None:
            scores["before"] = {split: score for split, score in
                                protocol_scores(labels, before, n_classes=n_classes, k=k, chosen=chosen).items()
                                if split in SPLITS}
        tables = {split: contingency(labels[split], clusters[split], n_classes, k[split])
                  for split in ("train", "test")}
        for split in ("train", "test"):
            scores[split]["confusion_matrix"] = tables[split].tolist()  # rows: true label; columns: cluster
        table = tables["test"]
    else:
        scores = label_free_protocols(codes, clusters, confidence if before is None else {}, k=k, seed=seed,
                                      chosen=chosen)
        if before is not None:
            scores["before"] = label_free_protocols(codes, before, confidence, k=k, seed=seed, chosen=chosen)
        table = None
    for split in ("train", "test"):
        scores[split]["reconstruction_mse"] = mse[split]
    return scores, table


def tidy_rows(scores: dict) -> list[dict]:
    """metrics.json's numbers as (split, metric, value) rows."""
    rows = [{"split": split, "metric": metric, "value": value}
            for split in SPLITS for metric, value in scores[split].items()
            if isinstance(value, (int, float)) and not isinstance(value, bool)]
    if "majority_distinct_labels" in scores:
        rows.append({"split": "train", "metric": "majority_distinct_labels",
                     "value": scores["majority_distinct_labels"]})
    return rows


def report_lines(scores: dict) -> list[str]:
    """The log lines that sum the scores up."""
    if "majority_mapping" not in scores:  # no labels
        return [f"{split}: cluster sizes {scores[split]['cluster_sizes']}, silhouette "
                + ("undefined" if scores[split]["silhouette"] is None else f"{scores[split]['silhouette']:.4f}")
                for split in ("test", "all")]
    test, everything = scores["test"], scores["all"]
    lines = [f"test: accuracy {test['accuracy_majority']:.4f} (majority map, {scores['majority_distinct_labels']} "
             f"distinct labels), {test['accuracy_hungarian']:.4f} (Hungarian), NMI {test['nmi']:.4f}, "
             f"ARI {test['ari']:.4f}",
             f"all (fitted on train and test): Hungarian accuracy {everything['accuracy_hungarian']:.4f}, "
             f"NMI {everything['nmi']:.4f}, ARI {everything['ari']:.4f}"]
    if "before" in scores:
        lines.append(f"before refinement: test accuracy {scores['before']['test']['accuracy_majority']:.4f} "
                     f"(majority map), all: Hungarian accuracy {scores['before']['all']['accuracy_hungarian']:.4f}")
    return lines
