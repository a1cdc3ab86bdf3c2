"""Refine a clustering by self-labelling (rule `refine`): the refined assignments of train, test
and all, in the clustering's own form, and which images the classifier trained on.

With refine.move_blocks on, whole blocks the clustering misplaced are moved first (a finer
mixture on the points it was fitted on, and each block's neighbours in pixel space). With
refine.recluster on, the classifier's features are clustered again, the experiment's own way.
The two protocols stay apart: the train/test protocol trains on the training images (their train clusters)
and places train and test; the all-images protocol refines the clustering of all images on all images.
"""


import numpy as np
from threadpoolctl import threadpool_limits

from saepipe import job_threads
from saepipe.atomic import save_npy, save_npz
from saepipe.cluster import clustering_points
from saepipe.counts import cluster_counts
from saepipe.data import image_dims, load_npy, load_npz
from saepipe.logs import logged_step

with logged_step(snakemake.log[0], native_stderr_to_log=True) as log:
    # Imported here, where what TensorFlow prints as it starts goes to the log (see logged_step).
    from saepipe import refine, training
    from saepipe.manifold import cache_compiled_code

    if snakemake.params.refine["recluster"] and snakemake.params.manifold["method"] == "umap":
        cache_compiled_code(snakemake.params.compile_cache)

    settings, seed = snakemake.params.refine, snakemake.params.seed
    inputs, output = snakemake.input, snakemake.output
    k = cluster_counts(snakemake.params.n_clusters, inputs.get("chosen_k"))  # each protocol's clusters
    training.log_devices()
    training.seed_everything(seed, threads=job_threads(snakemake.threads))
    train, test = load_npz(inputs.train), load_npz(inputs.test)
    refine.conv_blocks(*image_dims(train["image_shape"])[:2])  # too small for the classifier: say so now
    images = {split: refine.as_images(data["x"], data["image_shape"]) for split, data in
              (("train", train), ("test", test))}
    images["all"] = np.concatenate([images["train"], images["test"]])
    before = {split: load_npy(inputs[f"{split}_clusters"]) for split in ("train", "all")}
    blocks = settings["move_blocks"]
    # The clustering's points (points_<split>) are inputs only when move_blocks is on.
    moving = bool(blocks["components_per_cluster"])
    points = clustering_points(inputs, snakemake.params.normalize, prefix="points_") if moving else {}

    def moved_blocks(split: str) -> np.ndarray:
        """The clustering of `split` with its misplaced blocks moved (refine.move_blocks)."""
        if not points:
            return before[split]
        n_clusters = k[split]
        components = refine.block_components(blocks, n_clusters)
        log.info("%s: looking for misplaced blocks among %d mixture components", split, components)
        pixels = images[split].reshape(len(images[split]), -1)
        with threadpool_limits(snakemake.threads):
            moved, moves = refine.move_blocks(before[split], points[split], pixels, n_clusters, components,
                                              blocks["neighbors"], blocks["sample"], seed)
        for move in moves or ["nothing moved"]:
            log.info("%s: %s", split, move)
        return moved

    def refined(split: str, others: tuple = ()) -> tuple:
        log.info("%s: refining the clustering of %d images", split, len(images[split]))
        n_clusters = k[split]
        result = refine.self_label(images[split], moved_blocks(split), load_npy(inputs[f"{split}_confidence"]),
                                   n_clusters, settings, seed, others, with_features=settings["recluster"])
        out, placed, mask = result.clusters, result.placed, result.trained_on
        if settings["recluster"]:
            log.info("%s: clustering the classifier's features again (%s, then %s)", split,
                     snakemake.params.manifold["method"], snakemake.params.clustering["method"])
            with threadpool_limits(snakemake.threads):
                again, placed, moves = refine.recluster(result.features[0], result.features[1:], out,
                                                        snakemake.params.manifold,
                                                        {**snakemake.params.clustering, "n_clusters": n_clusters},
                                                        blocks, seed)
            for move in moves or ["nothing moved"]:
                log.info("%s: %s", split, move)
            log.info("%s: found again, %.2f %% of the classifier's assignments changed", split,
                     100 * refine.changes(out, again, n_clusters)[0])
            out = again
        changed, _ = refine.changes(before[split], out, n_clusters)
        log.info("%s: the refinement changed %.2f %% of the assignments", split, 100 * changed)
        for warning in refine.change_warnings(before[split], out, n_clusters, settings["warn_changed"]):
            log.warning("%s: %s", split, warning)
        return out, placed, mask

    train_out, (test_out,), train_mask = refined("train", (images["test"],))
    all_out, _, all_mask = refined("all")
    save_npy(output.train, train_out)
    save_npy(output.test, test_out)
    save_npy(output.all, all_out)
    save_npz(output.confident, train=train_mask, all=all_mask)
