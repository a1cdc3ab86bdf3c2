"""The sparse autoencoder: one builder from config values to a compiled Keras model."""

from __future__ import annotations

import logging
import os
from pathlib import Path
from typing import Any, Sequence

import keras
import numpy as np
from keras import ops

from .data import damaged

log = logging.getLogger(__name__)


@keras.saving.register_keras_serializable(package="saepipe")
class KLSparsity(keras.regularizers.Regularizer):
    """The classic sparse-autoencoder penalty: beta * sum_j KL(rho || mean activation of unit j).

    Needs activations in (0, 1), so the code layer uses a sigmoid with it.
    """

    def __init__(self, rho: float = 0.05, beta: float = 1.0):
        self.rho = float(rho)
        self.beta = float(beta)

    def __call__(self, activations):
        rho_hat = ops.clip(ops.mean(activations, axis=0), 1e-7, 1.0 - 1e-7)
        rho = self.rho
        kl = rho * ops.log(rho / rho_hat) + (1.0 - rho) * ops.log((1.0 - rho) / (1.0 - rho_hat))
        return self.beta * ops.sum(kl)

    def get_config(self) -> dict[str, Any]:
        return {"rho": self.rho, "beta": self.beta}


def sparsity_regularizer(kind: str, weight: float, rho: float) -> keras.regularizers.Regularizer | None:
    """`none`, `l1` (weight * sum |code|, averaged over the batch) or `kl` (weight is beta)."""
    if kind == "none" or weight == 0:
        return None
    if kind == "l1":
        return keras.regularizers.L1(weight)
    if kind == "kl":
        return KLSparsity(rho=rho, beta=weight)
    raise ValueError(f"model.sparsity.kind: unknown penalty {kind!r} (expected none, l1 or kl)")


PRECISIONS = ("float32", "bfloat16", "auto")
# CPU flags of bfloat16 products in hardware: Intel's AMX tiles, and AVX512_BF16's dot products in
# vector registers (AMD EPYC Zen 4, Intel Cooper Lake and later). Measured in docs/pipeline.md.
BFLOAT16_CPU_FLAGS = ("amx_bf16", "avx512_bf16")


def cpu_flags(cpuinfo: str | os.PathLike = "/proc/cpuinfo") -> set[str]:
    """The first CPU's flags from `cpuinfo` (Linux); none where the file is missing."""
    try:
        text = Path(cpuinfo).read_text()
    except OSError:
        return set()
    for line in text.splitlines():
        key, _, value = line.partition(":")
        if key.strip() == "flags":
            return set(value.split())
    return set()


def resolve_precision(precision: str, flags: set[str], gpus: int) -> str:
    """What `model.precision` means here: float32 or bfloat16. `auto` is bfloat16 where the
    autoencoder trains on a CPU (`gpus` 0) that computes bfloat16 products in hardware
    (BFLOAT16_CPU_FLAGS in `flags`), float32 elsewhere."""
    if precision not in PRECISIONS:
        raise ValueError(f"model.precision: unknown precision {precision!r} (expected one of {', '.join(PRECISIONS)})")
    if precision != "auto":
        return precision
    return "bfloat16" if gpus == 0 and any(flag in flags for flag in BFLOAT16_CPU_FLAGS) else "float32"


def build_autoencoder(
    input_dim: int,
    hidden_units: Sequence[int],
    embedding_dim: int,
    activation: str = "relu",
    embedding_activation: str = "linear",
    output_activation: str = "sigmoid",
    sparsity: str = "l1",
    sparsity_weight: float = 1e-5,
    sparsity_target: float = 0.05,
    input_noise: float = 0.0,
    precision: str = "float32",
) -> tuple[keras.Model, keras.Model, keras.Model]:
    """Build (autoencoder, encoder, decoder); the decoder mirrors the encoder's hidden layers.

    `input_noise` drops that fraction of input pixels during training only (a denoising AE),
    which makes the code more robust and its clusters cleaner. `precision` "bfloat16" computes
    the hidden layers and the reconstruction's matrix product in bfloat16 (Keras' mixed_bfloat16:
    the weights stay float32); the code, the output activation and so the loss stay float32.
    """
    if precision not in ("float32", "bfloat16"):
        raise ValueError(f"model.precision: {precision!r} is not float32 or bfloat16 (resolve auto first)")
    # Each layer names its policy: Keras' global policy would reach every model built after it.
    fast = "mixed_bfloat16" if precision == "bfloat16" else "float32"
    inputs = keras.Input(shape=(input_dim,), name="image")
    h = keras.layers.Dropout(input_noise, name="input_noise")(inputs) if input_noise > 0 else inputs
    for i, units in enumerate(hidden_units):
        h = keras.layers.Dense(units, activation=activation, name=f"encoder_{i}", dtype=fast)(h)
    code = keras.layers.Dense(
        embedding_dim,
        activation=embedding_activation,
        activity_regularizer=sparsity_regularizer(sparsity, sparsity_weight, sparsity_target),
        name="code",
        dtype="float32",
    )(h)
    encoder = keras.Model(inputs, code, name="encoder")

    code_in = keras.Input(shape=(embedding_dim,), name="code_in")
    h = code_in
    for i, units in enumerate(reversed(hidden_units)):
        h = keras.layers.Dense(units, activation=activation, name=f"decoder_{i}", dtype=fast)(h)
    if precision == "float32":
        outputs = keras.layers.Dense(input_dim, activation=output_activation, name="reconstruction")(h)
    else:
        # The largest product in bfloat16, its activation (and so the loss) in float32.
        h = keras.layers.Dense(input_dim, name="reconstruction", dtype=fast)(h)
        outputs = keras.layers.Activation(output_activation, name="reconstruction_activation", dtype="float32")(h)
    decoder = keras.Model(code_in, outputs, name="decoder")

    autoencoder = keras.Model(inputs, decoder(encoder(inputs)), name="sparse_autoencoder")
    return autoencoder, encoder, decoder


@keras.saving.register_keras_serializable(package="saepipe")
class FusedAdam(keras.optimizers.Adam):
    """Keras' Adam with each weight's update as one TensorFlow kernel (`ResourceApplyAdam`, what
    tf.keras 2's Adam ran): the same rule and state in one pass over the weights, where Keras 3
    runs a dozen elementwise ops, each a pass of its own (n2d's 3.3 M weights: 3 ms an update
    instead of 7 on a 2-core EPYC). It rounds differently in the last bits (1 - beta in float32),
    so the models it trains are not byte for byte those of Keras' Adam."""

    def update_step(self, gradient, variable, learning_rate):
        if self.amsgrad or keras.backend.backend() != "tensorflow":
            return super().update_step(gradient, variable, learning_rate)
        import tensorflow as tf

        dtype = variable.dtype
        step = ops.cast(self.iterations + 1, dtype)
        index = self._get_variable_index(variable)
        tf.raw_ops.ResourceApplyAdam(
            var=variable.handle,
            m=self._momentums[index].handle,
            v=self._velocities[index].handle,
            beta1_power=ops.power(ops.cast(self.beta_1, dtype), step),
            beta2_power=ops.power(ops.cast(self.beta_2, dtype), step),
            lr=ops.cast(learning_rate, dtype),
            beta1=ops.cast(self.beta_1, dtype),
            beta2=ops.cast(self.beta_2, dtype),
            epsilon=ops.cast(self.epsilon, dtype),
            grad=ops.cast(gradient, dtype),
        )


def make_optimizer(name: str, learning_rate: float) -> keras.optimizers.Optimizer:
    optimizers = {"adam": FusedAdam, "sgd": keras.optimizers.SGD,
                  "rmsprop": keras.optimizers.RMSprop, "adamw": keras.optimizers.AdamW}
    if name not in optimizers:
        raise ValueError(f"model.optimizer: unknown optimizer {name!r} (expected one of {sorted(optimizers)})")
    return optimizers[name](learning_rate=learning_rate)


def load_model(path: str | os.PathLike) -> keras.Model:
    """A trained autoencoder (.keras), with one clear error if the file is cut short or foreign."""
    try:
        return keras.saving.load_model(path)
    except Exception as err:  # noqa: BLE001 - whatever Keras raises, the file is unusable
        raise damaged(path, "Keras .keras", err) from None


def encoder_of(autoencoder: keras.Model) -> keras.Model:
    return autoencoder.get_layer("encoder")


def decoder_of(autoencoder: keras.Model) -> keras.Model:
    return autoencoder.get_layer("decoder")


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


def random_affine(flat: Any, image_shape: Sequence[int], shift: float, rotation: float, seed: Any) -> Any:
    """Each image of a batch of flattened images (B, pixels) shifted by up to `shift` of its size
    and rotated by up to `rotation` of a turn about its centre, each way, bilinearly, the pixels
    shifted in from outside 0. Drawn with stateless random ops from `seed` (two integers), so
    the same seed gives the same copies whatever ran before (a resumed training included)."""
    import tensorflow as tf

    rows, cols, channels = (int(v) for v in image_shape)
    images = tf.reshape(flat, [-1, rows, cols, channels])
    n = tf.shape(images)[0]
    seeds = tf.random.experimental.stateless_split(tf.cast(seed, tf.int64), 3)
    angle = tf.random.stateless_uniform([n], seeds[0], -rotation, rotation) * (2 * np.pi)
    dx = tf.random.stateless_uniform([n], seeds[1], -shift, shift) * cols
    dy = tf.random.stateless_uniform([n], seeds[2], -shift, shift) * rows
    # The transform maps each output pixel to the input pixel it is read from: the inverse of
    # "rotate about the centre, then shift".
    cos, sin = tf.cos(angle), tf.sin(angle)
    cx, cy = (cols - 1) / 2, (rows - 1) / 2
    zeros = tf.zeros_like(angle)
    transforms = tf.stack([cos, sin, cx - cos * (cx + dx) - sin * (cy + dy),
                           -sin, cos, cy + sin * (cx + dx) - cos * (cy + dy), zeros, zeros], axis=1)
    moved = tf.raw_ops.ImageProjectiveTransformV3(
        images=images, transforms=transforms, output_shape=tf.constant([rows, cols]), fill_value=0.0,
        interpolation="BILINEAR", fill_mode="CONSTANT")
    return tf.reshape(moved, tf.shape(flat))


def affine_augmenter(image_shape: Sequence[int], shift: float, rotation: float) -> Any:
    """`augment` for fit_epochs: random_affine with these amounts, or None when both are 0."""
    if shift == 0 and rotation == 0:
        return None
    return lambda flat, seed: random_affine(flat, image_shape, shift, rotation, seed)


def batches(x: Any, order: np.ndarray, batch_size: int, y: Any = None, augment: Any = None) -> Any:
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


def fit_epochs(model: keras.Model, x: Any, y: Any, validation: Any, batch_size: int, epochs: int, seed: int,
               progress: Any, start: int = 0, name: str = "epoch", digits: int = 6,
               after_epoch: Any = None, augment: Any = None) -> None:
    """The training loop of every model here. Epoch by epoch from `start`: the images in
    `epoch_order(seed, epoch)`, one `fit` pass, a check that the loss is finite, then
    `progress.end_epoch` (a checkpoint.Checkpointer: history, best epoch, early stopping,
    checkpoints), `after_epoch(epoch, logs)` if given, and one log line; stops early when
    `progress.stopped`. `y` None: the targets are the inputs (an autoencoder).
    `augment(batch, seed)`, if given, gives each training batch's augmented copy (random_affine),
    drawn from the seed (`seed`, epoch, batch), so a resumed run draws the same copies."""
    epoch = start
    while epoch < epochs and not progress.stopped:
        epoch_augment = None
        if augment is not None:
            epoch_augment = lambda b, i, epoch=epoch: augment(b, [seed * 100_003 + epoch, i])  # noqa: E731
        fitted = model.fit(batches(x, epoch_order(seed, epoch, len(x)), batch_size, y, epoch_augment),
                           validation_data=validation,
                           initial_epoch=epoch, epochs=epoch + 1, shuffle=False, verbose=0)
        logs = {key: values[-1] for key, values in fitted.history.items()}
        check_finite(logs["loss"], epoch)
        # The checkpoint is written before the epoch is logged: a logged epoch is never lost.
        progress.end_epoch(epoch, logs)
        if after_epoch is not None:
            after_epoch(epoch, logs)
        log.info("%s %d/%d %s", name, epoch + 1, epochs, " ".join(f"{k}={v:.{digits}f}" for k, v in sorted(logs.items())))
        epoch += 1


def train_autoencoder(
    autoencoder: keras.Model,
    x_train: np.ndarray,
    x_val: np.ndarray | None,
    optimizer: keras.optimizers.Optimizer,
    batch_size: int,
    epochs: int,
    patience: int,
    checkpoint_dir: str | os.PathLike | None = None,
    fingerprint: str = "",
    seed: int = 0,
    augment: Any = None,
) -> tuple[keras.Model, dict[str, list[float]]]:
    """Fit on reconstruction MSE (plus the sparsity penalty); early-stop on validation loss.

    Each epoch sees the images in `epoch_order(seed, epoch)`. With `checkpoint_dir`, each epoch
    is checkpointed there and a checkpoint with the same `fingerprint` is resumed from: the
    resumed run gives the same weights, byte for byte, as the run never interrupted. The caller
    removes the folder once the final model is saved. `augment` (see fit_epochs), if given,
    moves each training batch; the validation images are scored as they are.
    Returns the trained model (the resumed one, if any) and the history of all epochs.
    """
    import tensorflow as tf

    from . import checkpoint

    folder = Path(checkpoint_dir) if checkpoint_dir is not None else None
    resumed = checkpoint.load(folder, fingerprint) if folder is not None else None
    if resumed is not None:
        autoencoder, state = resumed
    else:
        autoencoder.compile(optimizer=optimizer, loss="mse")
        state = checkpoint.TrainingState(fingerprint=fingerprint)
    has_val = x_val is not None and len(x_val) > 0
    progress = checkpoint.Checkpointer(autoencoder, state, "val_loss" if has_val else "loss", patience, folder)
    x = tf.convert_to_tensor(x_train)  # once: each epoch only gathers its batches from it
    validation = tf.data.Dataset.from_tensor_slices((x_val, x_val)).batch(batch_size) if has_val else None
    # A run that had already stopped early (or finished) fits no more epochs, but still restores
    # the best weights.
    try:
        fit_epochs(autoencoder, x, None, validation, batch_size, epochs, seed, progress, start=state.epochs_done,
                   augment=augment)
    except FloatingPointError:
        if folder is not None:
            checkpoint.discard(folder)  # a diverged run is not worth resuming
        raise
    progress.restore_best()
    return autoencoder, state.history


def encode(autoencoder: keras.Model, x: np.ndarray, batch_size: int = 1024) -> np.ndarray:
    return encoder_of(autoencoder).predict(x, batch_size=batch_size, verbose=0)


def decode(autoencoder: keras.Model, codes: np.ndarray, batch_size: int = 1024) -> np.ndarray:
    return decoder_of(autoencoder).predict(codes, batch_size=batch_size, verbose=0)
