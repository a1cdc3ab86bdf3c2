"""Refine a clustering by self-labelling (rule `refine`): the refined assignments of train, test
and all, in the clustering's own form, and which images the classifier trained on
(refine.refine_run: blocks moved, self-labelling, reclustering; the two protocols kept apart)."""

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

    inputs, params, output = snakemake.input, snakemake.params, snakemake.output
    if params.refine["recluster"] and params.manifold["method"] == "umap":
        cache_compiled_code(params.compile_cache)
    training.log_devices()
    training.seed_everything(params.seed, threads=job_threads(snakemake.threads))
    train, test = load_npz(inputs.train), load_npz(inputs.test)
    refine.conv_blocks(*image_dims(train["image_shape"])[:2])  # too small for the classifier: say so now
    refined = refine.refine_run(
        {split: refine.as_images(data["x"], data["image_shape"]) for split, data in (("train", train), ("test", test))},
        {split: load_npy(inputs[f"{split}_clusters"]) for split in ("train", "all")},
        {split: load_npy(inputs[f"{split}_confidence"]) for split in ("train", "all")},
        # The clustering's points (points_<split>) are inputs only when refine.move_blocks is on.
        clustering_points(inputs, params.normalize, prefix="points_"),
        k=cluster_counts(params.n_clusters, inputs.get("chosen_k")),  # each protocol's clusters
        settings=params.refine, manifold=params.manifold, clustering=params.clustering, seed=params.seed,
        threads=snakemake.threads)
    for split in ("train", "test", "all"):
        save_npy(output[split], refined[split])
    save_npz(output.confident, train=refined["train_mask"], all=refined["all_mask"])
