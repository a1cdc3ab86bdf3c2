"""Turn raw image/label arrays into the arrays the model and clustering steps load."""

from __future__ import annotations

import os

import numpy as np


def scale_and_flatten(images: np.ndarray) -> np.ndarray:
    """uint8 images (N, rows, cols) -> float32 (N, rows*cols) in [0, 1]."""
    return (images.reshape(len(images), -1).astype(np.float32) / 255.0).astype(np.float32)


def validation_mask(n: int, fraction: float, seed: int) -> np.ndarray:
    """A boolean mask choosing round(n * fraction) rows, the same for the same seed."""
    n_val = int(round(n * fraction))
    mask = np.zeros(n, dtype=bool)
    mask[np.random.default_rng(seed).permutation(n)[:n_val]] = True
    return mask


def load_split(path: str | os.PathLike) -> dict[str, np.ndarray]:
    """Load a preprocessed split (`x`, `y`, and for train `is_validation`)."""
    with np.load(path) as data:
        return {key: data[key] for key in data.files}
