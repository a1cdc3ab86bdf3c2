import numpy as np
import pytest

from saepipe.metrics import (
    cluster_scores,
    contingency,
    hungarian_mapping,
    majority_mapping,
    mapped_accuracy,
)


def test_contingency_counts_label_cluster_pairs():
    table = contingency(np.array([0, 0, 1, 1, 1]), np.array([1, 1, 0, 0, 1]), 2, 2)
    np.testing.assert_array_equal(table, [[0, 2], [2, 1]])


def test_majority_map_may_give_two_clusters_the_same_label():
    labels = np.array([0, 0, 0, 0, 1, 1])
    clusters = np.array([0, 0, 1, 1, 1, 2])
    # cluster 1 holds labels {0, 0, 1}: majority 0, like cluster 0; cluster 2 holds {1}.
    np.testing.assert_array_equal(majority_mapping(labels, clusters, 2, 3), [0, 0, 1])
    assert mapped_accuracy(labels, clusters, majority_mapping(labels, clusters, 2, 3)) == pytest.approx(5 / 6)


def test_empty_cluster_maps_to_no_label():
    mapping = majority_mapping(np.array([0, 1]), np.array([0, 2]), 2, 3)
    assert mapping[1] == -1


def test_hungarian_map_is_one_to_one():
    labels = np.array([0, 0, 0, 0, 1, 1])
    clusters = np.array([0, 0, 1, 1, 1, 2])
    mapping = hungarian_mapping(labels, clusters, 2, 3)
    assigned = mapping[mapping >= 0]
    assert len(set(assigned.tolist())) == len(assigned) == 2
    # Best one-to-one: cluster 0 -> 0 (2 hits) and cluster 1 -> 1 (1 hit) or cluster 2 -> 1 (1 hit).
    assert mapped_accuracy(labels, clusters, mapping) == pytest.approx(3 / 6)


def test_hungarian_recovers_a_permutation_exactly():
    labels = np.array([0, 1, 2, 0, 1, 2])
    clusters = (labels + 1) % 3
    mapping = hungarian_mapping(labels, clusters, 3, 3)
    assert mapped_accuracy(labels, clusters, mapping) == 1.0
    np.testing.assert_array_equal(mapping, [2, 0, 1])


def test_maps_are_fitted_on_train_and_applied_to_test():
    train_labels = np.array([0, 0, 1, 1])
    train_clusters = np.array([1, 1, 0, 0])
    test_labels = np.array([0, 1])
    test_clusters = np.array([0, 1])  # the opposite of what train says: every test point is wrong
    scores = cluster_scores(train_labels, train_clusters, test_labels, test_clusters, n_classes=2, n_clusters=2)
    assert scores["train"]["accuracy_majority"] == 1.0
    assert scores["test"]["accuracy_majority"] == 0.0
    assert scores["test"]["accuracy_hungarian"] == 0.0
    # NMI and ARI need no map: a relabelled perfect split scores 1.
    assert scores["test"]["nmi"] == pytest.approx(1.0)
    assert scores["majority_distinct_labels"] == 2


def test_the_all_images_protocol_scores_with_the_best_one_to_one_map():
    from saepipe.metrics import all_images_scores

    labels = np.array([0, 0, 1, 1, 2, 2])
    clusters = np.array([2, 2, 0, 0, 1, 0])  # one image of label 2 in label 1's cluster
    scores = all_images_scores(labels, clusters, 3, 3)
    assert scores["accuracy_hungarian"] == pytest.approx(5 / 6)
    assert scores["n_samples"] == 6 and 0 < scores["nmi"] < 1
    perfect = all_images_scores(labels, np.array([1, 1, 2, 2, 0, 0]), 3, 3)
    assert perfect["accuracy_hungarian"] == perfect["nmi"] == perfect["ari"] == pytest.approx(1.0)


def test_with_more_clusters_than_classes_the_unmatched_clusters_images_are_errors():
    from saepipe.metrics import all_images_scores, purity

    # Two classes cut into four pure clusters: one-to-one matches two of them, so half the images
    # (those in the two unmatched clusters) are errors, while purity counts every image right.
    labels = np.array([0, 0, 0, 0, 1, 1, 1, 1])
    clusters = np.array([0, 0, 1, 1, 2, 2, 3, 3])
    assert all_images_scores(labels, clusters, 2, 4)["accuracy_hungarian"] == pytest.approx(0.5)
    assert purity(labels, clusters, labels, clusters, n_classes=2, n_clusters=4) == 1.0


def test_with_fewer_clusters_than_classes_purity_and_hungarian_agree_on_the_merged_class():
    from saepipe.metrics import purity

    # Three classes, two clusters: the class merged into another's cluster is wrong under both maps.
    labels = np.array([0, 0, 1, 1, 2, 2])
    clusters = np.array([0, 0, 1, 1, 1, 1])
    hungarian = hungarian_mapping(labels, clusters, 3, 2)
    assert mapped_accuracy(labels, clusters, hungarian) == pytest.approx(4 / 6)
    assert purity(labels, clusters, labels, clusters, n_classes=3, n_clusters=2) == pytest.approx(4 / 6)


def test_purity_rises_with_k_to_one_cluster_per_image():
    from saepipe.metrics import purity

    rng = np.random.default_rng(0)
    labels = rng.integers(0, 3, 30)
    one_cluster = np.zeros(30, dtype=np.int64)
    singletons = np.arange(30)
    assert purity(labels, one_cluster, labels, one_cluster, n_classes=3, n_clusters=1) < 1.0
    assert purity(labels, singletons, labels, singletons, n_classes=3, n_clusters=30) == 1.0


def tiny_run():
    """Labels and a clustering of 6 train and 4 test images (3 classes), one test image astray."""
    labels = {"train": np.array([0, 0, 1, 1, 2, 2]), "test": np.array([0, 1, 2, 2])}
    clusters = {"train": np.array([1, 1, 2, 2, 0, 0]), "test": np.array([1, 2, 0, 2])}
    clusters["all"] = np.concatenate([clusters["train"], clusters["test"]])
    return labels, clusters


def test_evaluate_with_labels_scores_both_protocols_and_the_clustering_before_refinement():
    from saepipe.metrics import evaluate, report_lines, tidy_rows

    labels, clusters = tiny_run()
    before = {split: np.zeros_like(c) for split, c in clusters.items()}
    scores, table = evaluate(clusters, k={"train": 3, "test": 3, "all": 3}, chosen=False, labels=labels, n_classes=3,
                             before=before, mse={"train": 0.1, "test": 0.2})
    assert scores["train"]["accuracy_majority"] == 1.0 and scores["test"]["accuracy_majority"] == 0.75
    assert scores["all"]["accuracy_hungarian"] == pytest.approx(0.9)
    assert scores["before"]["test"]["accuracy_hungarian"] == pytest.approx(0.25)  # one cluster: one label right
    np.testing.assert_array_equal(table, [[0, 1, 0], [0, 0, 1], [1, 0, 1]])
    assert scores["test"]["confusion_matrix"] == table.tolist() and scores["test"]["reconstruction_mse"] == 0.2
    assert "purity" not in scores["test"] and "n_clusters" not in scores["test"]
    rows = {(row["split"], row["metric"]): row["value"] for row in tidy_rows(scores)}
    assert rows[("test", "accuracy_majority")] == 0.75 and rows[("train", "majority_distinct_labels")] == 3
    assert not any(metric == "confusion_matrix" for _, metric in rows)
    assert [line.split(":")[0] for line in report_lines(scores)] == ["test", "all (fitted on train and test)",
                                                                      "before refinement"]


def test_evaluate_with_a_chosen_k_names_it_and_the_purity_in_each_split():
    from saepipe.metrics import evaluate

    labels, clusters = tiny_run()
    k = {"train": 4, "test": 4, "all": 5}
    scores, _ = evaluate(clusters, k=k, chosen=True, labels=labels, n_classes=3, mse={"train": 0, "test": 0})
    assert [scores[split]["n_clusters"] for split in ("train", "test", "all")] == [4, 4, 5]
    assert scores["test"]["purity"] == 0.75 and len(scores["test"]["confusion_matrix"][0]) == 4


def test_evaluate_without_labels_scores_what_needs_none():
    from saepipe.metrics import evaluate, report_lines

    _, clusters = tiny_run()
    rng = np.random.default_rng(0)
    codes = {"train": rng.normal(size=(6, 2)), "test": rng.normal(size=(4, 2))}
    confidence = {split: np.full(len(c), 0.5) for split, c in clusters.items()}
    scores, table = evaluate(clusters, k={"train": 3, "test": 3, "all": 3}, chosen=False, codes=codes,
                             confidence=confidence, mse={"train": 0.1, "test": 0.2})
    assert table is None
    assert scores["all"]["cluster_sizes"] == [3, 3, 4] and scores["all"]["mean_confidence"] == 0.5
    assert scores["test"]["n_samples"] == 4 and "accuracy_hungarian" not in scores["test"]
    assert report_lines(scores)[0].startswith("test: cluster sizes [1, 1, 2], silhouette ")
    refined, _ = evaluate(clusters, k={"train": 3, "test": 3, "all": 3}, chosen=False, codes=codes,
                          confidence=confidence, before=clusters, mse={"train": 0.1, "test": 0.2})
    # the clustering's confidence speaks of the assignments before refinement
    assert "mean_confidence" not in refined["all"] and refined["before"]["all"]["mean_confidence"] == 0.5
