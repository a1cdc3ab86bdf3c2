"""Train the sparse autoencoder (rule `train`): the model file and its per-epoch history."""


import pandas as pd

from saepipe import job_threads
from saepipe.atomic import atomic_path, save_json
from saepipe.data import image_dims, load_npz
from saepipe.logs import logged_step

with logged_step(snakemake.log[0], native_stderr_to_log=True) as log:
    # Imported here, where what TensorFlow prints as it starts goes to the log (see logged_step).
    from saepipe import model as sae
    from saepipe import training
    from saepipe.augment import augmenter
    from saepipe.checkpoint import discard, fingerprint

    training.log_devices()

    cfg, seed = snakemake.params.model, snakemake.params.seed
    # A cluster node reports all its CPUs; use no more than the job was given.
    training.seed_everything(seed, threads=job_threads(snakemake.threads))
    data = load_npz(snakemake.input.train)
    x, is_val = data["x"], data["is_validation"]
    log.info("training on %d images, validating on %d", int((~is_val).sum()), int(is_val.sum()))
    precision = sae.resolve_precision(cfg["precision"], sae.cpu_flags(), gpus=len(training.gpu_names()))
    log.info("precision: %s (model.precision: %s)", precision, cfg["precision"])
    autoencoder = sae.autoencoder_from_settings(cfg, x.shape[1], precision)
    settings = {"model": cfg, "seed": seed}
    # Fit on reconstruction MSE (plus the sparsity penalty), early-stopping on the validation loss.
    autoencoder, state = training.fit(
        autoencoder,
        x[~is_val],
        validation=(x[is_val], x[is_val]),
        optimizer=sae.make_optimizer(cfg["optimizer"], cfg["learning_rate"]),
        loss="mse",
        batch_size=cfg["batch_size"],
        epochs=cfg["epochs"],
        patience=cfg["early_stopping_patience"],
        seed=seed,
        checkpoint_dir=snakemake.params.checkpoint_dir,
        fingerprint=fingerprint(settings, snakemake.input.train),
        augment=augmenter(image_dims(data["image_shape"]), **cfg["augment"]),
    )
    with atomic_path(snakemake.output.history) as tmp:
        frame = pd.DataFrame(state.history)
        frame.insert(0, "epoch", range(1, len(frame) + 1))
        frame.to_csv(tmp, index=False)
    with atomic_path(snakemake.output.model) as tmp:
        autoencoder.save(tmp)
    save_json(snakemake.output.settings, settings)  # what the model folder's id stands for
    discard(snakemake.params.checkpoint_dir)  # only now: a kill before this point resumes
    log.info("trained %d epochs; model written to %s", len(frame), snakemake.output.model)
