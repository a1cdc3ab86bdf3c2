"""The sparse autoencoder: one builder from config values to a compiled Keras model."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any, Sequence

import keras
import numpy as np
from keras import ops

from .data import damaged

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
    *,
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

    # Named for what it is: N2D's plain autoencoder has no sparsity penalty.
    sparse = sparsity_regularizer(sparsity, sparsity_weight, sparsity_target) is not None
    name = "sparse_autoencoder" if sparse else "autoencoder"
    autoencoder = keras.Model(inputs, decoder(encoder(inputs)), name=name)
    return autoencoder, encoder, decoder


def autoencoder_from_settings(model: dict[str, Any], input_dim: int, precision: str) -> keras.Model:
    """build_autoencoder's autoencoder from a `model` config section, for images of `input_dim`
    pixels, in `precision` (resolved: float32 or bfloat16)."""
    sparsity = model["sparsity"]
    autoencoder, _, _ = build_autoencoder(
        input_dim, model["hidden_units"], model["embedding_dim"], activation=model["activation"],
        embedding_activation=model["embedding_activation"], sparsity=sparsity["kind"],
        sparsity_weight=sparsity["weight"], sparsity_target=sparsity["target"], input_noise=model["input_noise"],
        precision=precision)
    return autoencoder


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


def encode(autoencoder: keras.Model, x: np.ndarray, batch_size: int = 1024) -> np.ndarray:
    return encoder_of(autoencoder).predict(x, batch_size=batch_size, verbose=0)


def decode(autoencoder: keras.Model, codes: np.ndarray, batch_size: int = 1024) -> np.ndarray:
    return decoder_of(autoencoder).predict(codes, batch_size=batch_size, verbose=0)
