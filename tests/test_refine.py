"""Self-labelling (saepipe.refine): the confident selection and the classifier, on tiny data."""

import numpy as np
import pytest

from conftest import N_CLASSES, tiny_images
from saepipe.metrics import hungarian_mapping, mapped_accuracy
from saepipe.refine import best_epochs, change_warnings, changes, confident_mask

SETTINGS = {"confident_share": 1.0, "rounds": 1, "epochs": 8, "patience": 2, "snapshots": 3, "validation_fraction": 0.1,
            "batch_size": 32, "learning_rate": 0.002, "label_smoothing": 0.1,
            "augment": {"shift": 0.1, "rotation": 0.05, "zoom": 0.1}, "warn_changed": 0.2, "recluster": False}


KMEANS = {"method": "kmeans", "n_clusters": N_CLASSES, "n_init": 5, "max_iter": 300, "covariance_type": "full",
          "normalize": False}


NO_BLOCKS = {"components_per_cluster": 0, "neighbors": 10, "sample": 100}


def accuracy(labels, clusters):
    return mapped_accuracy(labels, clusters, hungarian_mapping(labels, clusters, N_CLASSES, N_CLASSES))


def test_the_confident_share_is_taken_from_each_cluster_most_confident_first():
    clusters = np.array([0, 0, 0, 0, 1, 1, 2])
    confidence = np.array([0.1, 0.9, 0.5, 0.7, 0.2, 0.3, 0.0])
    mask = confident_mask(clusters, confidence, 4, 0.5)
    # two of cluster 0's four (0.9, 0.7), one of cluster 1's two, and cluster 2 keeps its only one
    assert mask.tolist() == [False, True, False, True, False, True, True]
    assert confident_mask(clusters, confidence, 4, 1.0).all()


def test_ties_in_confidence_are_broken_by_position():
    mask = confident_mask(np.zeros(4, dtype=int), np.ones(4), 1, 0.5)
    assert mask.tolist() == [True, True, False, False]


def test_the_snapshots_are_the_epochs_with_the_lowest_held_out_loss_best_first():
    assert best_epochs([0.5, 0.3, 0.4, 0.3, 0.6], 3) == [1, 3, 2]  # a tie: the earlier epoch first
    assert best_epochs([0.5, 0.3], 3) == [1, 0]  # fewer epochs than snapshots: all of them


def test_changes_reports_the_changed_share_and_emptied_clusters():
    changed, empty = changes(np.array([0, 1, 2, 2]), np.array([0, 1, 1, 1]), 3)
    assert changed == 0.5 and empty == [2]


def test_a_large_change_or_an_emptied_cluster_gets_one_warning_line_each():
    before, after = np.array([0, 1, 2, 2]), np.array([0, 1, 1, 1])
    assert change_warnings(before, after, 3, warn_changed=0.2) == [
        "the refinement changed 50.0 % of the assignments, more than refine.warn_changed (20.0 %)",
        "the refinement left cluster(s) 2 of 3 empty"]
    assert change_warnings(before, before, 3, warn_changed=0.2) == []


@pytest.fixture(scope="module")
def separable():
    """Tiny images of four well-separated classes, and a clustering of them with a quarter of the
    assignments deliberately corrupted (and marked least confident)."""
    rng = np.random.default_rng(0)
    labels = rng.permutation(np.arange(600) % N_CLASSES)
    images = (tiny_images(labels, seed=1).astype(np.float32) / 255.0)[..., None]
    corrupt = rng.random(len(labels)) < 0.25
    clusters = labels.copy()
    clusters[corrupt] = (labels[corrupt] + rng.integers(1, N_CLASSES, corrupt.sum())) % N_CLASSES
    confidence = np.where(corrupt, rng.random(len(labels)), 1 + rng.random(len(labels)))
    return images, labels, clusters, confidence


def refined(separable, with_features=False, **settings):
    from saepipe.training import seed_everything
    from saepipe.refine import self_label

    images, _, clusters, confidence = separable
    seed_everything(0, threads=2)
    result = self_label(images[:500], clusters[:500], confidence[:500], n_clusters=N_CLASSES, settings={**SETTINGS, **settings},
                        seed=0, others=(images[500:],), with_features=with_features)
    return result.clusters, result.placed, result.trained_on, result.features


def test_self_labelling_repairs_a_corrupted_clustering(separable):
    _, labels, clusters, _ = separable
    out, (placed,), mask, features = refined(separable)
    assert mask.all() and features == []  # not asked for  # confident_share 1.0: every image
    assert accuracy(labels[:500], clusters[:500]) < 0.8
    # trained on cluster ids only, three quarters of them right: it places nearly every image well,
    # the training images and ones it never saw
    assert accuracy(labels[:500], out) > 0.95
    assert accuracy(labels[500:], placed) > 0.95


def test_training_on_the_confident_share_leaves_out_the_least_confident(separable):
    _, labels, clusters, _ = separable
    out, _, mask, _ = refined(separable, confident_share=0.7)
    # the corrupted assignments were made least confident: the selection drops most of them
    assert np.mean(clusters[:500][mask] == labels[:500][mask]) > 0.95
    assert accuracy(labels[:500], out) > 0.95


def test_self_labelling_is_deterministic_for_a_seed(separable):
    first = refined(separable, rounds=2, epochs=3)
    second = refined(separable, rounds=2, epochs=3)
    assert first[0].tobytes() == second[0].tobytes()
    assert first[1][0].tobytes() == second[1][0].tobytes()


def test_the_classifier_trains_to_the_same_weights_for_a_seed(separable):
    from saepipe.training import seed_everything
    from saepipe.refine import fit_classifier

    images, _, clusters, _ = separable
    weights = []
    for _ in range(2):
        seed_everything(3, threads=2)
        _, snapshots = fit_classifier(images[:200], clusters[:200], N_CLASSES, settings={**SETTINGS, "epochs": 2}, seed=3)
        weights.append(b"".join(w.tobytes() for snapshot in snapshots for w in snapshot))
    assert weights[0] == weights[1]


def test_images_are_placed_by_the_mean_of_the_snapshots_probabilities(separable):
    from saepipe.training import seed_everything
    from saepipe.refine import fit_classifier, predict

    images, _, clusters, _ = separable
    seed_everything(3, threads=2)
    classifier, snapshots = fit_classifier(images[:200], clusters[:200], N_CLASSES,
                                           settings={**SETTINGS, "epochs": 3, "patience": 3, "snapshots": 2}, seed=3)
    assert len(snapshots) == 2
    alone = [predict(classifier, [weights], images[200:]) for weights in snapshots]
    assert not np.allclose(alone[0], alone[1])  # two epochs' classifiers, not one twice
    np.testing.assert_allclose(predict(classifier, snapshots, images[200:]), (alone[0] + alone[1]) / 2, rtol=1e-5)


def test_label_smoothing_keeps_the_classifier_from_certainty_on_its_targets(separable):
    """Smoothing 0.5 over 4 clusters makes 0.625 the best probability for a target, so the
    classifier stays well below the near-certainty it reaches on the same images without."""
    from saepipe.training import seed_everything
    from saepipe.refine import fit_classifier, predict

    images, labels, _, _ = separable
    confidence = {}
    for smoothing in (0.0, 0.5):
        seed_everything(3, threads=2)
        classifier, snapshots = fit_classifier(images[:200], labels[:200], N_CLASSES,
                                               settings={**SETTINGS, "label_smoothing": smoothing}, seed=3)
        confidence[smoothing] = predict(classifier, snapshots, images[:200]).max(axis=1).mean()
    assert confidence[0.0] > 0.9
    assert confidence[0.5] < 0.75


def misplaced_block():
    """Three classes, well apart in pixels; the embedding puts 60 images of class 2 beside class
    1's cluster, and the clustering counts them in it: (labels, pixels, embedding, clusters, rng)."""
    rng = np.random.default_rng(0)
    labels = np.repeat([0, 1, 2], 200)
    pixels = tiny_images(labels, seed=1).reshape(len(labels), -1).astype(np.float32) / 255.0
    centres = np.array([[0.0, 0.0], [10.0, 0.0], [0.0, 10.0]])
    embedding = centres[labels] + rng.normal(0, 0.5, (len(labels), 2))
    block = np.flatnonzero(labels == 2)[:60]
    embedding[block] = [10.0, 4.0] + rng.normal(0, 0.3, (len(block), 2))
    clusters = labels.copy()
    clusters[block] = 1
    return labels, pixels, embedding, clusters, rng


def test_a_block_of_one_class_inside_another_cluster_is_moved_whole_to_its_own():
    """Three classes, well apart in pixels; the embedding puts 60 images of class 2 beside class
    1's cluster, and the clustering counts them in it. Only that block moves, to class 2."""
    from saepipe.refine import move_blocks

    labels, pixels, embedding, clusters, rng = misplaced_block()
    moved, moves = move_blocks(clusters, embedding, pixels, n_clusters=3, n_components=5, n_neighbors=5, n_sample=300, seed=0)
    assert (moved == labels).all()
    assert moves == [moves[0]] and moves[0].startswith("moved 60 images from cluster 1 to 2:")
    # the same seed, the same moves
    again, _ = move_blocks(clusters, embedding, pixels, n_clusters=3, n_components=5, n_neighbors=5, n_sample=300, seed=0)
    assert again.tobytes() == moved.tobytes()
    # a clustering with nothing misplaced is left as it is
    centres = np.array([[0.0, 0.0], [10.0, 0.0], [0.0, 10.0]])
    untouched, moves = move_blocks(labels, centres[labels] + rng.normal(0, 0.5, (len(labels), 2)), pixels, n_clusters=3, n_components=5, n_neighbors=5,
                                   n_sample=300, seed=0)
    assert (untouched == labels).all() and moves == []


def test_more_mixture_components_than_images_is_a_clear_error():
    from saepipe.refine import move_blocks

    with pytest.raises(ValueError, match="refine.move_blocks asks for 8 mixture components but there are only 6"):
        move_blocks(np.zeros(6, dtype=int), np.zeros((6, 2)), np.zeros((6, 4)), n_clusters=4, n_components=8, n_neighbors=2, n_sample=6, seed=0)


def test_a_block_whose_neighbours_are_split_between_clusters_stays_where_it_is():
    """A block of mixed images (20 each of classes 0, 2 and 3) that the embedding puts inside
    class 1's cluster: its pixel neighbours vote about a third for each, a plurality but no
    majority, so it is not moved."""
    from saepipe.refine import move_blocks

    rng = np.random.default_rng(0)
    labels = np.repeat([0, 1, 2, 3], 150)
    block = np.concatenate([np.flatnonzero(labels == c)[:20] for c in (0, 2, 3)])
    pixels = tiny_images(labels, seed=1).reshape(len(labels), -1).astype(np.float32) / 255.0
    centres = np.array([[0.0, 0.0], [10.0, 0.0], [0.0, 10.0], [10.0, 10.0]])
    embedding = centres[labels] + rng.normal(0, 0.5, (len(labels), 2))
    embedding[block] = [10.0, 4.0] + rng.normal(0, 0.3, (len(block), 2))
    clusters = labels.copy()
    clusters[block] = 1
    moved, moves = move_blocks(clusters, embedding, pixels, n_clusters=4, n_components=6, n_neighbors=5, n_sample=600, seed=0)
    assert moves == [] and (moved == clusters).all()


def test_clusters_found_again_are_renamed_to_the_reference_ids_they_overlap_most():
    # recluster renames with this map
    reference = np.array([0, 0, 0, 1, 1, 2, 2, 2])
    found = np.array([2, 2, 1, 0, 0, 1, 1, 1])  # the same clusters, named otherwise, one image apart
    rename = hungarian_mapping(reference, found, 3, 3)
    assert rename.tolist() == [1, 2, 0]
    assert rename[found].tolist() == [0, 0, 2, 1, 1, 2, 2, 2]


def test_the_classifier_features_cluster_again_into_its_classes_with_the_clusterings_ids(separable):
    """Features of the classifier trained on the corrupted clustering, clustered again with
    KMeans: the classes come back, named as the classifier named them, and the test images are
    placed by the same fit."""
    from saepipe.refine import recluster

    _, labels, _, _ = separable
    out, (placed,), _, (train_features, test_features) = refined(separable, with_features=True)
    assert train_features.shape == (500, 128) and test_features.shape == (100, 128)
    again, (again_test,), moves = recluster(train_features, [test_features], out, manifold={"method": "none"}, clustering=KMEANS,
                                            blocks=NO_BLOCKS, seed=0)
    assert moves == []
    assert accuracy(labels[:500], again) > 0.95 and accuracy(labels[500:], again_test) > 0.95
    assert np.mean(again == out) > 0.95 and np.mean(again_test == placed) > 0.95  # the classifier's ids


def test_reclustering_through_umap_is_seeded_and_places_the_test_images_with_the_same_fit(separable):
    from saepipe.refine import recluster

    out, _, _, (train_features, test_features) = refined(separable, with_features=True)
    manifold = {"method": "umap", "n_components": 3, "n_neighbors": 30, "min_dist": 0.0, "metric": "euclidean"}
    blocks = {"components_per_cluster": 2, "neighbors": 5, "sample": 500}
    runs = [recluster(train_features, [test_features], out, manifold=manifold, clustering={**KMEANS, "method": "gmm"}, blocks=blocks, seed=0)
            for _ in range(2)]
    (again, (again_test,), moves), (repeat, (repeat_test,), moves_again) = runs
    assert moves == moves_again
    assert again.tobytes() == repeat.tobytes() and again_test.tobytes() == repeat_test.tobytes()
    assert again.shape == (500,) and again_test.shape == (100,)
    assert set(again_test) <= set(again) <= set(range(N_CLASSES))


def test_a_found_block_move_moves_new_images_of_that_block_too():
    """The block of class 2 inside class 1's cluster, found on the first images (neighbours in any
    second view: here the pixels); images that arrive later in the block's place move with it,
    the others stay."""
    from saepipe.refine import find_block_moves

    labels, pixels, embedding, clusters, _ = misplaced_block()
    moves = find_block_moves(clusters, embedding, pixels, n_clusters=3, n_components=5, n_neighbors=5, n_sample=300, seed=0,
                             space="the test's pixels")
    assert moves.lines[0].startswith("moved 60 images from cluster 1 to 2: ") and "the test's pixels" in moves.lines[0]
    assert (moves.apply(clusters, embedding) == labels).all()
    arriving = np.array([[10.0, 4.0], [10.1, 3.9], [10.0, 0.0], [0.0, 0.0]])
    assert moves.apply(np.array([1, 1, 1, 0]), arriving).tolist() == [2, 2, 1, 0]


def test_refine_run_keeps_the_protocols_apart_and_places_the_test_images(separable, caplog):
    import logging

    caplog.set_level(logging.INFO, logger="saepipe.refine")
    """The train/test protocol refines the training images' clustering and places the test images;
    the all-images protocol refines its own clustering of every image."""
    from saepipe.refine import refine_run
    from saepipe.training import seed_everything

    images, labels, clusters, confidence = separable
    seed_everything(0, threads=2)
    # all-images clustering: the train/test one with its errors left in, so each protocol is seen
    refined = refine_run({"train": images[:500], "test": images[500:]}, {"train": clusters[:500], "all": clusters},
                         {"train": confidence[:500], "all": confidence}, {}, k={"train": N_CLASSES, "all": N_CLASSES},
                         settings={**SETTINGS, "epochs": 4, "move_blocks": NO_BLOCKS}, manifold={"method": "none"},
                         clustering=KMEANS, seed=0, threads=2)
    assert [len(refined[split]) for split in ("train", "test", "all", "train_mask", "all_mask")] == [500, 100, 600,
                                                                                                    500, 600]
    assert accuracy(labels[:500], refined["train"]) > 0.95 and accuracy(labels[500:], refined["test"]) > 0.95
    assert accuracy(labels, refined["all"]) > 0.95
    logged = caplog.text
    assert "train: refining the clustering of 500 images" in logged and "all: refining the clustering of 600" in logged
    assert "train: the refinement changed" in logged  # a quarter was corrupted: more than warn_changed
    assert "all: the refinement changed 2" in logged and "more than refine.warn_changed" in logged
