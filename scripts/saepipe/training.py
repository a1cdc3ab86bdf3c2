"""Training, for every network here (the autoencoder and the refine classifier): seeding, where it
runs, the order of the images in each epoch, batching, the epoch loop, early stopping, and
resuming from the on-disk checkpoints of `checkpoint`.

Same seed, same machine, same weights: the RNGs are seeded, TensorFlow's ops are deterministic,
each epoch's order is drawn from the seed and the epoch alone, and augmented copies from the seed,
the epoch and the batch, so a run resumed after any epoch goes on as the run never interrupted.
"""

from __future__ import annotations

import logging
import os
from pathlib import Path
from typing import Any, Callable

import keras
import numpy as np

from . import checkpoint

log = logging.getLogger(__name__)


def gpu_names() -> list[str]:
    """The GPUs TensorFlow sees (none: it runs on the CPU)."""
    import tensorflow as tf

    return [device.name for device in tf.config.list_physical_devices("GPU")]


def log_devices() -> None:
    """One log line saying where TensorFlow runs."""
    import tensorflow as tf

    gpus = gpu_names()
    log.info("TensorFlow %s on %s", tf.__version__, ", ".join(gpus) if gpus else "the CPU (no GPU found)")


def seed_everything(seed: int, threads: int) -> None:
    """Same seed, same machine, same numbers: seeded RNGs, deterministic ops, fixed threads."""
    import tensorflow as tf

    keras.utils.set_random_seed(seed)
    tf.config.experimental.enable_op_determinism()
    try:
        tf.config.threading.set_intra_op_parallelism_threads(threads)
        tf.config.threading.set_inter_op_parallelism_threads(1)
    except RuntimeError:
        # TensorFlow fixes its thread pools at first use; a second call in one process keeps them.
        log.debug("TensorFlow thread pools already set; keeping them")


def epoch_order(seed: int, epoch: int, n: int) -> np.ndarray:
    """The order of the training images in one epoch (0-based), drawn from the seed and the epoch
    alone, so a run resumed after any epoch sees the same orders as the run never interrupted."""
    return np.random.default_rng([seed, epoch]).permutation(n)


def batches(x: Any, order: np.ndarray, batch_size: int, *, y: Any = None, augment: Any = None) -> Any:
    """(input, target) batches of `x` (a tensor) in `order`, gathered inside TensorFlow: the
    targets are `y`'s rows, or the inputs themselves when `y` is None (an autoencoder).
    `augment(batch, index)`, if given, replaces each batch of inputs (and, for an autoencoder,
    its targets too) by its copy; `index` is the batch's position in the epoch."""
    import tensorflow as tf

    indices = tf.data.Dataset.from_tensor_slices(order.astype("int64")).batch(batch_size)
    if augment is not None:
        indices = indices.enumerate()
        gather = lambda i, idx: augment(tf.gather(x, idx), i)  # noqa: E731
    else:
        gather = lambda idx: tf.gather(x, idx)  # noqa: E731
    if y is None:
        pairs = indices.map(gather, num_parallel_calls=1).map(lambda b: (b, b))
    else:
        pairs = indices.map(lambda *a: (gather(*a), tf.gather(y, a[-1])), num_parallel_calls=1)
    return pairs.prefetch(2)


def check_finite(loss: float, epoch: int) -> None:
    if not np.isfinite(loss):
        raise FloatingPointError(
            f"training loss became {loss} in epoch {epoch + 1}: the learning rate "
            "(model.learning_rate) may be too high; no model was written"
        )


class EarlyStopping:
    """The best epoch so far by `monitor`, and whether to stop: no better `monitor` for
    `patience` epochs (0 turns early stopping off). Its counts live in `state`, which a
    checkpoint saves, so early stopping survives a restart."""

    def __init__(self, state: checkpoint.TrainingState, monitor: str, patience: int,
                 best_weights: list[np.ndarray] | None = None):
        self.state = state
        self.monitor = monitor
        self.patience = patience
        self.best_weights = best_weights

    @property
    def stopped(self) -> bool:
        return bool(self.patience) and self.state.wait >= self.patience

    def end_epoch(self, model: keras.Model, epoch: int, logs: dict[str, float]) -> bool:
        """Record a finished epoch (0-based); True when it is the best so far."""
        state = self.state
        for key, value in logs.items():
            state.history.setdefault(key, []).append(float(value))
        state.epochs_done = epoch + 1
        current = float(logs[self.monitor])
        if current < state.best:
            state.best, state.best_epoch, state.wait = current, epoch + 1, 0
            self.best_weights = model.get_weights()
            return True
        state.wait += 1
        if self.stopped:
            log.info("early stopping: no better %s for %d epochs (best %.6f at epoch %d)",
                     self.monitor, state.wait, state.best, state.best_epoch)
        return False

    def restore_best(self, model: keras.Model) -> None:
        """With early stopping on, the best epoch's weights back in `model`."""
        state = self.state
        if self.patience and self.best_weights is not None and state.best_epoch != state.epochs_done:
            log.info("restoring the weights of epoch %d (best %s %.6f)", state.best_epoch, self.monitor, state.best)
            model.set_weights(self.best_weights)


def fit_epochs(model: keras.Model, x: Any, y: Any, *, validation: Any, batch_size: int, epochs: int, seed: int,
               stopping: EarlyStopping, checkpoints: checkpoint.Checkpoints | None = None, name: str = "epoch",
               digits: int = 6, after_epoch: Callable | None = None, augment: Callable | None = None) -> None:
    """The epoch loop. From the first epoch `stopping.state` has not done: the images in
    `epoch_order(seed, epoch)`, one `fit` pass, a check that the loss is finite, then
    `stopping.end_epoch`, the checkpoint (when `checkpoints`), `after_epoch(epoch, logs)` if
    given, and one log line; stops early when `stopping.stopped`. `y` None: the targets are the
    inputs (an autoencoder). `augment(batch, seed)`, if given, gives each training batch's
    augmented copy, drawn from the seed (`seed`, epoch, batch), so a resumed run draws the same."""
    epoch = stopping.state.epochs_done
    while epoch < epochs and not stopping.stopped:
        epoch_augment = None
        if augment is not None:
            epoch_augment = lambda b, i, epoch=epoch: augment(b, [seed * 100_003 + epoch, i])  # noqa: E731
        fitted = model.fit(batches(x, epoch_order(seed, epoch, len(x)), batch_size, y=y, augment=epoch_augment),
                           validation_data=validation,
                           initial_epoch=epoch, epochs=epoch + 1, shuffle=False, verbose=0)
        logs = {key: values[-1] for key, values in fitted.history.items()}
        check_finite(logs["loss"], epoch)
        improved = stopping.end_epoch(model, epoch, logs)
        # The checkpoint is written before the epoch is logged: a logged epoch is never lost.
        if checkpoints is not None:
            checkpoints.save(model, stopping.state, improved)
        if after_epoch is not None:
            after_epoch(epoch, logs)
        values = " ".join(f"{key}={value:.{digits}f}" for key, value in sorted(logs.items()))
        log.info("%s %d/%d %s", name, epoch + 1, epochs, values)
        epoch += 1


def fit(model: keras.Model, x: np.ndarray, y: np.ndarray | None = None, *, validation: tuple | None,
        optimizer: keras.optimizers.Optimizer, loss: Any, batch_size: int, epochs: int, patience: int, seed: int,
        metrics: list[str] | None = None, checkpoint_dir: str | os.PathLike | None = None, fingerprint: str = "",
        validation_batch_size: int | None = None, name: str = "epoch", digits: int = 6,
        after_epoch: Callable | None = None, augment: Callable | None = None
        ) -> tuple[keras.Model, checkpoint.TrainingState]:
    """Compile `model` and train it on (`x`, `y`; `y` None: `x` itself), early-stopping on the
    loss of `validation` (inputs, targets; in batches of `validation_batch_size`, by default
    `batch_size`) when given, else on the training loss, and put back
    the best epoch's weights at the end (when early stopping is on).

    With `checkpoint_dir`, each epoch is checkpointed there and a checkpoint with the same
    `fingerprint` is resumed from, its model (compiled, with its optimizer's state) in place of
    `model`: the resumed run gives the same weights, byte for byte, as the run never interrupted.
    The caller removes the folder once the final model is saved. A run whose loss stops being
    finite raises FloatingPointError and leaves no checkpoint. Returns the trained model (the
    resumed one, if any) and its state (`history`: every epoch's logs).
    """
    import tensorflow as tf

    folder = Path(checkpoint_dir) if checkpoint_dir is not None else None
    resumed = checkpoint.load(folder, fingerprint) if folder is not None else None
    best_weights = None
    if resumed is not None:
        model, state = resumed
        best_weights = checkpoint.best_weights(model, folder, state)
    else:
        model.compile(optimizer=optimizer, loss=loss, metrics=metrics)
        state = checkpoint.TrainingState(fingerprint=fingerprint)
    has_validation = validation is not None and len(validation[0]) > 0
    stopping = EarlyStopping(state, "val_loss" if has_validation else "loss", patience, best_weights)
    tensors = tf.convert_to_tensor(x), (None if y is None else tf.convert_to_tensor(y))
    held_out = (tf.data.Dataset.from_tensor_slices(validation).batch(validation_batch_size or batch_size)
                if has_validation else None)
    # A run that had already stopped early (or finished) fits no more epochs, but still restores
    # the best weights.
    try:
        fit_epochs(model, *tensors, validation=held_out, batch_size=batch_size, epochs=epochs, seed=seed,
                   stopping=stopping, checkpoints=checkpoint.Checkpoints(folder) if folder is not None else None,
                   name=name, digits=digits, after_epoch=after_epoch, augment=augment)
    except FloatingPointError:
        if folder is not None:
            checkpoint.discard(folder)  # a diverged run is not worth resuming
        raise
    stopping.restore_best(model)
    return model, state
