"""Pass each cluster's centre through the decoder, as an image (rule `decode_centroids`).

The centre is the mean of the raw codes of the cluster's training images: KMeans' centroid when
the codes are clustered unscaled, and a point in the decoder's own space when they are normalised.
"""

import numpy as np

from saepipe.atomic import save_npy
from saepipe.counts import cluster_counts
from saepipe.data import load_npy, load_npz
from saepipe.logs import logged_step

with logged_step(snakemake.log[0], native_stderr_to_log=True) as log:
    from saepipe import model as sae
    from saepipe import training

    training.log_devices()

    codes, clusters = load_npy(snakemake.input.codes), load_npy(snakemake.input.clusters)
    k = cluster_counts(snakemake.params.n_clusters, snakemake.input.get("chosen_k"))["train"]
    centres = np.stack([
        codes[clusters == c].mean(axis=0) if np.any(clusters == c) else np.zeros(codes.shape[1])
        for c in range(k)
    ]).astype(np.float32)
    image_shape = tuple(load_npz(snakemake.input.train)["image_shape"])
    autoencoder = sae.load_model(snakemake.input.model)
    images = sae.decode(autoencoder, centres).reshape((k, *image_shape))
    save_npy(snakemake.output.images, images)
    log.info("decoded %d cluster centres", k)
