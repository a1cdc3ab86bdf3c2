"""The one image augmentation of the workflow, for the autoencoder (model.augment) and the refine
classifier (refine.augment): each image of a batch shifted, turned and zoomed about its centre by
random amounts, bilinearly, with Keras' `keras.ops.image.affine_transform`.

The amounts are drawn with stateless random ops from a seed given with each batch (training.fit
gives (seed, epoch, batch)), so the same seed gives the same copies whatever ran before: a
resumed training draws what the run never interrupted drew.
"""

from __future__ import annotations

from typing import Any, Callable, Sequence

import keras
import numpy as np


def random_affine(batch: Any, image_shape: Sequence[int], *, shift: float, rotation: float, zoom: float = 0.0,
                  seed: Any) -> Any:
    """Each image of `batch` (flattened, (B, pixels), or (B, rows, cols, channels); the copies
    come back in the same form) scaled by a factor within 1 +- `zoom`, turned by up to `rotation`
    of a turn and shifted by up to `shift` of its size, each way, about its centre; the pixels
    brought in from outside are 0. `seed`: two integers."""
    import tensorflow as tf

    rows, cols, channels = (int(v) for v in image_shape)
    images = tf.reshape(batch, [-1, rows, cols, channels])
    n = tf.shape(images)[0]
    seed = tf.cast(seed, tf.int64)
    seeds = tf.random.experimental.stateless_split(seed, 3)
    angle = tf.random.stateless_uniform([n], seeds[0], -rotation, rotation) * (2 * np.pi)
    dx = tf.random.stateless_uniform([n], seeds[1], -shift, shift) * cols
    dy = tf.random.stateless_uniform([n], seeds[2], -shift, shift) * rows
    scale = tf.ones_like(angle)
    if zoom > 0:  # a draw of its own, so that shifts and turns are the same with zoom or without
        scale = 1 + tf.random.stateless_uniform([n], tf.random.experimental.stateless_fold_in(seed, 3), -zoom, zoom)
    # The transform maps each output pixel p to the input pixel it is read from, the inverse of
    # "scale and turn about the centre c, then shift by d": c + R^T (p - c - d) / scale.
    cos, sin = tf.cos(angle) / scale, tf.sin(angle) / scale
    cx, cy = (cols - 1) / 2, (rows - 1) / 2
    zeros = tf.zeros_like(angle)
    transforms = tf.stack([cos, sin, cx - cos * (cx + dx) - sin * (cy + dy),
                           -sin, cos, cy + sin * (cx + dx) - cos * (cy + dy), zeros, zeros], axis=1)
    moved = keras.ops.image.affine_transform(images, transforms, interpolation="bilinear", fill_mode="constant",
                                             fill_value=0, data_format="channels_last")
    return tf.reshape(moved, tf.shape(batch))


def augmenter(image_shape: Sequence[int], *, shift: float, rotation: float, zoom: float = 0.0
              ) -> Callable[[Any, Any], Any] | None:
    """`augment` for training.fit: random_affine with these amounts, or None when all are 0."""
    if shift == 0 and rotation == 0 and zoom == 0:
        return None
    return lambda batch, seed: random_affine(batch, image_shape, shift=shift, rotation=rotation, zoom=zoom,
                                             seed=seed)
