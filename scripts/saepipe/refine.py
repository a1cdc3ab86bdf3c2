"""Self-labelling (rule `refine`): a small convolutional classifier trained on a clustering's own
confident assignments, with augmented images, then asked to place every image.

The targets are cluster ids, never the true labels: those belong to `evaluate` alone. The
borders between clusters, where a clustering errs, are where a classifier that has seen shifted,
rotated and zoomed copies of each cluster's members generalises better than the clustering.
Its features (the last hidden layer) can then be clustered again (recluster), which drops part
of the clustering's noise that the classifier itself learnt.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any

import keras
import numpy as np

from .data import image_dims, validation_mask
from .logs import StepError
from . import training
from .augment import augmenter

log = logging.getLogger(__name__)


@dataclass
class BlockMoves:
    """Blocks to move (find_block_moves): the finer mixture that splits them off, the cluster
    each moving component goes to, and one line per move."""
    mixture: Any
    targets: dict[int, int]
    lines: list[str]

    def apply(self, clusters: np.ndarray, points: np.ndarray) -> np.ndarray:
        """`clusters` with the images of each moving component (the mixture's prediction from
        `points`, in the space it was fitted in) in the cluster it goes to."""
        components = self.mixture.predict(points)
        moved = np.asarray(clusters, dtype=np.int64).copy()
        for component, target in self.targets.items():
            moved[components == component] = target
        return moved


def find_block_moves(clusters: np.ndarray, embedding: np.ndarray, neighbour_space: np.ndarray, *, n_clusters: int,
                     n_components: int, n_neighbors: int, n_sample: int, seed: int,
                     space: str = "pixel space") -> BlockMoves:
    """Whole blocks that a clustering put in the wrong cluster, and where each goes.

    A Gaussian mixture with more components than clusters (`n_components`) splits the embedding
    finer, so a block of one kind of image inside another's cluster becomes a component of its
    own. A component moves, whole, only when it is a minority of its cluster (never a
    cluster's main body) and the nearest neighbours of its images in `neighbour_space`
    (`n_neighbors` each, for `n_sample` sampled images), outside the component, lie mostly (over
    half) in one other cluster.
    No labels: the neighbour space (the pixels, or a classifier's features) is a second view
    the embedding cannot have bent.
    """
    from sklearn.mixture import GaussianMixture
    from sklearn.neighbors import NearestNeighbors

    if n_components > len(embedding):
        raise ValueError(f"refine.move_blocks asks for {n_components} mixture components but there are only "
                         f"{len(embedding)} images: lower components_per_cluster")
    clusters = np.asarray(clusters, dtype=np.int64)
    mixture = GaussianMixture(n_components, covariance_type="full", n_init=3, random_state=seed).fit(embedding)
    components = mixture.predict(embedding)
    sample = np.random.default_rng(seed).choice(len(neighbour_space), min(n_sample, len(neighbour_space)),
                                                replace=False)
    n_neighbors = min(n_neighbors, len(neighbour_space) - 1)  # a tiny dataset has fewer
    _, neighbours = NearestNeighbors(n_neighbors=n_neighbors + 1).fit(neighbour_space).kneighbors(
        neighbour_space[sample])
    neighbours = neighbours[:, 1:]  # the first is the image itself
    targets, lines = {}, []
    for component in range(n_components):
        members = components == component
        if not members.any():
            continue
        home = np.bincount(clusters[members], minlength=n_clusters).argmax()
        if np.sum(members & (clusters == home)) > 0.5 * np.sum(clusters == home):
            continue
        outside = neighbours[members[sample]].ravel()
        outside = outside[components[outside] != component]
        if len(outside) == 0:
            continue
        votes = np.bincount(clusters[outside], minlength=n_clusters) / len(outside)
        target = int(votes.argmax())
        if target != home and votes[target] > 0.5:  # most of them, not merely more than at home
            targets[component] = target
            lines.append(f"moved {int(members.sum())} images from cluster {home} to {target}: "
                         f"{100 * votes[target]:.0f} % of their neighbours in {space} lie there, "
                         f"{100 * votes[home]:.0f} % in their own")
    return BlockMoves(mixture, targets, lines)


def block_components(blocks: dict[str, Any], n_clusters: int) -> int:
    """The finer mixture's components for refine.move_blocks: components_per_cluster per cluster."""
    return max(1, round(blocks["components_per_cluster"] * n_clusters))


def move_blocks(clusters: np.ndarray, embedding: np.ndarray, pixels: np.ndarray, *, n_clusters: int,
                n_components: int, n_neighbors: int, n_sample: int, seed: int) -> tuple[np.ndarray, list[str]]:
    """The clustering with the blocks find_block_moves finds by pixel-space neighbours moved,
    and one line per move."""
    moves = find_block_moves(clusters, embedding, pixels, n_clusters=n_clusters, n_components=n_components,
                             n_neighbors=n_neighbors, n_sample=n_sample, seed=seed)
    return moves.apply(clusters, embedding), moves.lines


def confident_mask(clusters: np.ndarray, confidence: np.ndarray, n_clusters: int, share: float) -> np.ndarray:
    """The `share` of each cluster's members with the highest confidence (at least one each).

    Per cluster, not overall: a small or diffuse cluster keeps its members, so it is not drowned
    by the large, tight ones. Ties are broken by position, so the choice is reproducible.
    """
    clusters = np.asarray(clusters, dtype=np.int64)
    mask = np.zeros(len(clusters), dtype=bool)
    for cluster in range(n_clusters):
        members = np.flatnonzero(clusters == cluster)
        if len(members) == 0:
            continue
        keep = max(1, int(np.ceil(share * len(members))))
        ranked = members[np.argsort(-confidence[members], kind="stable")]
        mask[ranked[:keep]] = True
    return mask


class ImageTooSmall(StepError):
    """The images are too small for the classifier's convolutions."""


# The smallest image the classifier takes: one 3x3 convolution and a 2x2 pooling must leave a
# map of at least 3x3.
MIN_IMAGE_SIZE = 8


def conv_blocks(rows: int, cols: int) -> int:
    """How many (3x3 convolution, 2x2 pooling) blocks an image of rows x cols takes: as many as
    leave a map of at least 3x3 (28x28: 2, leaving 5x5; 8x8: 1; 64x64: 3)."""
    blocks, size = 0, min(rows, cols)
    while (size - 2) // 2 >= 3:
        blocks, size = blocks + 1, (size - 2) // 2
    if blocks == 0:
        raise ImageTooSmall(f"the images are {rows}x{cols} pixels; the self-labelling classifier "
                         f"(refine.method: selflabel) needs at least {MIN_IMAGE_SIZE}x{MIN_IMAGE_SIZE}")
    return blocks


# The classifier's last hidden layer: the features refine.recluster clusters again.
FEATURES = "features"


def build_classifier(image_shape: tuple[int, int, int], n_clusters: int, seed: int) -> keras.Model:
    """Conv blocks (32, 64, 128... filters) as deep as the image size allows, a dense layer,
    softmax. It trains on augmented copies of its images (augment.random_affine), made as the
    batches are drawn."""
    layers = keras.layers
    convolutions = []
    for block in range(conv_blocks(image_shape[0], image_shape[1])):
        convolutions += [layers.Conv2D(32 * 2**block, 3, activation="relu"), layers.MaxPooling2D()]
    return keras.Sequential([
        keras.Input(tuple(image_shape)),
        *convolutions,
        layers.Flatten(),
        layers.Dense(128, activation="relu", name=FEATURES),
        layers.Dropout(0.3, seed=seed + 3),
        layers.Dense(n_clusters, activation="softmax"),
    ], name="selflabel_classifier")


def best_epochs(losses: list[float], count: int) -> list[int]:
    """The `count` epochs (0-based) with the lowest held-out loss, best first; ties go to the
    earlier epoch."""
    return sorted(range(len(losses)), key=lambda epoch: (losses[epoch], epoch))[:count]


def fit_classifier(images: np.ndarray, targets: np.ndarray, n_clusters: int, *, settings: dict[str, Any],
                   seed: int) -> tuple[keras.Model, list[list[np.ndarray]]]:
    """Train on (images, cluster ids); early-stop on a held-out share of them. The classifier and
    the weights of its `settings["snapshots"]` best epochs by held-out loss, best first (`predict`
    puts them in the classifier in turn). One progress line per epoch."""
    held_out = validation_mask(len(images), settings["validation_fraction"], seed)
    classifier = build_classifier(images.shape[1:], n_clusters, seed)
    # Smoothed one-hot targets: a cluster id near a border is not sure, and a classifier that
    # must not reach probability 1 on its targets follows fewer of the clustering's errors.
    loss = keras.losses.CategoricalCrossentropy(label_smoothing=settings["label_smoothing"])
    one_hot = np.eye(n_clusters, dtype="float32")[np.asarray(targets, dtype=np.int64)]
    weights = []
    _, state = training.fit(
        classifier, images[~held_out], one_hot[~held_out], validation=(images[held_out], one_hot[held_out]),
        optimizer=keras.optimizers.Adam(settings["learning_rate"]), loss=loss, metrics=["accuracy"],
        batch_size=settings["batch_size"], epochs=settings["epochs"], patience=settings["patience"], seed=seed,
        validation_batch_size=1024, name="classifier epoch", digits=4,
        # Shifted, turned and zoomed copies; the amounts are shares of the image's size (and of a
        # turn), so they scale with it.
        augment=augmenter(images.shape[1:], **settings["augment"]),
        after_epoch=lambda epoch, logs: weights.append(classifier.get_weights()))
    kept = best_epochs(state.history["val_loss"], settings["snapshots"])
    log.info("placing images with the average of epoch(s) %s, the lowest held-out loss first",
             ", ".join(str(epoch + 1) for epoch in kept))
    return classifier, [weights[epoch] for epoch in kept]


def predict(classifier: keras.Model, snapshots: list[list[np.ndarray]], images: np.ndarray) -> np.ndarray:
    """Class probabilities, (N, n_clusters): the mean over the classifier's snapshots' weights.

    Epochs near the best err on different border images; their average errs on fewer."""
    total = 0
    for weights in snapshots:
        classifier.set_weights(weights)
        total = total + classifier.predict(images, batch_size=1024, verbose=0)
    return total / len(snapshots)


def features(classifier: keras.Model, weights: list[np.ndarray], images: np.ndarray) -> np.ndarray:
    """What the classifier's last hidden layer gives for each image, (N, 128), with `weights` in it."""
    classifier.set_weights(weights)
    hidden = keras.Model(classifier.inputs, classifier.get_layer(FEATURES).output)
    return hidden.predict(images, batch_size=1024, verbose=0)


@dataclass
class SelfLabelled:
    """What self_label gives: the refined clusters of its images and of each array of `others`,
    the mask of the images the first round trained on, and, when asked for, the last
    classifier's features of the images and of each of `others` (its best epoch's weights)."""
    clusters: np.ndarray
    placed: list[np.ndarray]
    trained_on: np.ndarray
    features: list[np.ndarray]


def self_label(images: np.ndarray, clusters: np.ndarray, confidence: np.ndarray, *, n_clusters: int,
               settings: dict[str, Any], seed: int, others: tuple[np.ndarray, ...] = (),
               with_features: bool = False) -> SelfLabelled:
    """Refine the clusters of `images` and place each array in `others` by the same classifier.

    Round 1 trains on the confident share of each cluster by the clustering's confidence; each
    further round on the confident share of the previous classifier's own predictions.
    """
    targets, scores = np.asarray(clusters, dtype=np.int64), confidence
    for round_ in range(settings["rounds"]):
        mask = confident_mask(targets, scores, n_clusters, settings["confident_share"])
        if round_ == 0:
            first_mask = mask
        log.info("round %d/%d: training on %d of %d images (%.1f %%)", round_ + 1, settings["rounds"],
                 int(mask.sum()), len(mask), 100 * mask.mean())
        classifier, snapshots = fit_classifier(images[mask], targets[mask], n_clusters, settings=settings,
                                               seed=seed + round_)
        probabilities = predict(classifier, snapshots, images)
        targets, scores = probabilities.argmax(axis=1).astype(np.int64), probabilities.max(axis=1)
    placed = [predict(classifier, snapshots, x).argmax(axis=1).astype(np.int64) for x in others]
    hidden = [features(classifier, snapshots[0], x) for x in (images, *others)] if with_features else []
    return SelfLabelled(targets, placed, first_mask, hidden)


def recluster(fit: np.ndarray, others: list[np.ndarray], reference: np.ndarray, *, manifold: dict[str, Any],
              clustering: dict[str, Any], blocks: dict[str, Any], seed: int
              ) -> tuple[np.ndarray, list[np.ndarray], list[str]]:
    """The clusters of the classifier's features `fit` found afresh, the experiment's own way (its
    manifold, then its clustering, fitted on `fit`; `others` are placed by the same fits), with the
    ids of `reference` (the one-to-one map of most overlap, metrics.hungarian_mapping: a
    clustering found afresh names its clusters at random, and the log and figures compare ids);
    then, with `blocks` (refine.move_blocks) on, the blocks found with neighbours in the features
    moved (find_block_moves). Also one line per move.

    The classifier learnt from shifted, turned and zoomed copies, so its features group the
    images better than the codes the first clustering had; a classifier that trains on noisy
    clusters still keeps part of their noise, and clustering its features again drops some.
    """
    from .cluster import fit_clusters, normalize_rows
    from .manifold import fit_umap
    from .metrics import hungarian_mapping

    points = [fit, *others]
    if manifold["method"] == "umap":
        reducer = fit_umap(fit, n_components=manifold["n_components"], n_neighbors=manifold["n_neighbors"],
                           min_dist=manifold["min_dist"], metric=manifold["metric"], seed=seed)
        points = [reducer.embedding_, *[reducer.transform(x) for x in others]]
    if clustering["normalize"]:
        points = [normalize_rows(x) for x in points]
    n_clusters = clustering["n_clusters"]
    model = fit_clusters(points[0], clustering["method"], n_clusters, n_init=clustering["n_init"],
                         max_iter=clustering["max_iter"], seed=seed, covariance_type=clustering["covariance_type"])
    found = [model.predict(x).astype(np.int64) for x in points]
    rename = hungarian_mapping(reference, found[0], n_clusters, n_clusters)
    found = [rename[x] for x in found]
    lines = []
    if blocks["components_per_cluster"]:
        moves = find_block_moves(found[0], points[0], fit, n_clusters=n_clusters,
                                 n_components=block_components(blocks, n_clusters), n_neighbors=blocks["neighbors"],
                                 n_sample=blocks["sample"], seed=seed, space="the classifier's features")
        found, lines = [moves.apply(x, p) for x, p in zip(found, points)], moves.lines
    return found[0], found[1:], lines


def as_images(x: np.ndarray, image_shape: np.ndarray) -> np.ndarray:
    """Flattened images (N, pixels) -> (N, rows, cols, channels), for the convolutions."""
    return x.reshape(len(x), *image_dims(image_shape))


def changes(before: np.ndarray, after: np.ndarray, n_clusters: int) -> tuple[float, list[int]]:
    """The share of assignments the refinement changed, and the clusters it left empty."""
    empty = [c for c in range(n_clusters) if not np.any(after == c)]
    return float(np.mean(before != after)), empty


def change_warnings(before: np.ndarray, after: np.ndarray, n_clusters: int, warn_changed: float) -> list[str]:
    """One line for each thing a user should look at: more assignments changed than
    `warn_changed` (the classifier disagrees with the clustering a lot), or emptied clusters."""
    changed, empty = changes(before, after, n_clusters)
    warnings = []
    if changed > warn_changed:
        warnings.append(f"the refinement changed {100 * changed:.1f} % of the assignments, more than "
                        f"refine.warn_changed ({100 * warn_changed:.1f} %)")
    if empty:
        warnings.append(f"the refinement left cluster(s) {', '.join(map(str, empty))} of {n_clusters} empty")
    return warnings


def moved_blocks(split: str, clusters: np.ndarray, points: np.ndarray | None, pixels: np.ndarray, *,
                 n_clusters: int, blocks: dict[str, Any], seed: int, threads: int) -> np.ndarray:
    """`split`'s clustering with its misplaced blocks moved (refine.move_blocks), one log line per
    move; as it is when `points` (the clustering's own points) is None (move_blocks off)."""
    from threadpoolctl import threadpool_limits

    if points is None:
        return clusters
    components = block_components(blocks, n_clusters)
    log.info("%s: looking for misplaced blocks among %d mixture components", split, components)
    with threadpool_limits(threads):
        moved, moves = move_blocks(clusters, points, pixels, n_clusters=n_clusters, n_components=components,
                                   n_neighbors=blocks["neighbors"], n_sample=blocks["sample"], seed=seed)
    log_moves(split, moves)
    return moved


def log_moves(split: str, moves: list[str]) -> None:
    """One log line per block moved in `split`, or one saying nothing moved."""
    for move in moves or ["nothing moved"]:
        log.info("%s: %s", split, move)


def refine_split(split: str, images: np.ndarray, clusters: np.ndarray, confidence: np.ndarray, *,
                 points: np.ndarray | None, n_clusters: int, settings: dict[str, Any], manifold: dict[str, Any],
                 clustering: dict[str, Any], seed: int, threads: int, others: tuple[np.ndarray, ...] = ()
                 ) -> SelfLabelled:
    """One protocol's refinement of `clusters` (of `images`), logged: blocks moved (with `points`),
    self-labelling, and with refine.recluster the classifier's features clustered again the
    experiment's own way (`manifold`, `clustering`); `others` placed by the same steps. A warning
    when it changed more than refine.warn_changed of the assignments or emptied a cluster."""
    from threadpoolctl import threadpool_limits

    log.info("%s: refining the clustering of %d images", split, len(images))
    pixels = images.reshape(len(images), -1)
    start = moved_blocks(split, clusters, points, pixels, n_clusters=n_clusters, blocks=settings["move_blocks"],
                         seed=seed, threads=threads)
    result = self_label(images, start, confidence, n_clusters=n_clusters, settings=settings, seed=seed, others=others,
                        with_features=settings["recluster"])
    if settings["recluster"]:
        log.info("%s: clustering the classifier's features again (%s, then %s)", split, manifold["method"],
                 clustering["method"])
        with threadpool_limits(threads):
            again, placed, moves = recluster(result.features[0], result.features[1:], result.clusters,
                                             manifold=manifold, clustering={**clustering, "n_clusters": n_clusters},
                                             blocks=settings["move_blocks"], seed=seed)
        log_moves(split, moves)
        log.info("%s: found again, %.2f %% of the classifier's assignments changed", split,
                 100 * changes(result.clusters, again, n_clusters)[0])
        result = SelfLabelled(again, placed, result.trained_on, result.features)
    log.info("%s: the refinement changed %.2f %% of the assignments", split,
             100 * changes(clusters, result.clusters, n_clusters)[0])
    for warning in change_warnings(clusters, result.clusters, n_clusters, settings["warn_changed"]):
        log.warning("%s: %s", split, warning)
    return result


def refine_run(images: dict[str, np.ndarray], clusters: dict[str, np.ndarray], confidence: dict[str, np.ndarray],
               points: dict[str, np.ndarray], *, k: dict[str, int], settings: dict[str, Any],
               manifold: dict[str, Any], clustering: dict[str, Any], seed: int, threads: int) -> dict[str, np.ndarray]:
    """Rule `refine`: both protocols kept apart. The train/test protocol refines the training
    images' clustering (`clusters["train"]`) and places the test images by the same steps; the
    all-images protocol refines the clustering of all images on all images. `images`: train and
    test as (N, rows, cols, channels); `points`: each protocol's clustering points, or empty when
    refine.move_blocks is off. Returns the refined train, test and all, and the masks of the
    images each protocol's classifier trained on (train_mask, all_mask)."""
    common = dict(settings=settings, manifold=manifold, clustering=clustering, seed=seed, threads=threads)
    train = refine_split("train", images["train"], clusters["train"], confidence["train"], points=points.get("train"),
                         n_clusters=k["train"], others=(images["test"],), **common)
    everything = refine_split("all", np.concatenate([images["train"], images["test"]]), clusters["all"],
                              confidence["all"], points=points.get("all"), n_clusters=k["all"], **common)
    return {"train": train.clusters, "test": train.placed[0], "all": everything.clusters,
            "train_mask": train.trained_on, "all_mask": everything.trained_on}
