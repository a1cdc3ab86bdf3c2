"""Encode train and test, and measure reconstruction MSE per split (rule `embed`)."""


import numpy as np

from saepipe import job_threads
from saepipe.atomic import save_json, save_npy, save_npz
from saepipe.data import load_npz
from saepipe.logs import logged_step

with logged_step(snakemake.log[0], native_stderr_to_log=True) as log:
    from saepipe import model as sae
    from saepipe import training

    training.log_devices()

    training.seed_everything(0, threads=job_threads(snakemake.threads))
    autoencoder = sae.load_model(snakemake.input.model)
    mse = {}
    for split in ("train", "test"):
        data = load_npz(snakemake.input[split])
        codes = sae.encode(autoencoder, data["x"])
        reconstructions = sae.decode(autoencoder, codes)
        mse[split] = float(np.mean((reconstructions - data["x"]) ** 2))
        save_npy(snakemake.output[split], codes)
        log.info("%s: %d codes of %d dims, reconstruction MSE %.6f", split, *codes.shape, mse[split])
        if split == "test":  # the examples of the figure are the first test images
            n = snakemake.params.n_examples
            save_npz(
                snakemake.output.examples,
                originals=data["x"][:n],
                reconstructions=reconstructions[:n],
                image_shape=data["image_shape"],
            )
    save_json(snakemake.output.mse, mse)
