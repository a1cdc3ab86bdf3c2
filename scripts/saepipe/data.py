"""Turn raw image/label arrays into the arrays the model and clustering steps load, and load
them back with one clear error when a file is cut short or foreign."""

from __future__ import annotations

import os
import zipfile
from pathlib import Path
from typing import Sequence

import numpy as np

from .logs import StepError

# The step that writes each intermediate file, by the folder it sits in (or its name).
WRITERS = {"data": "preprocess", "embeddings": "embed", "manifold": "manifold", "clusters": "cluster",
           "autoencoder.keras": "train"}


class DamagedInput(StepError):
    """An intermediate file is cut short or is not what its name says (copied by hand,
    half-synced from another machine): its message names the file and how to rebuild it."""


def damaged(path: str | os.PathLike, kind: str, err: BaseException) -> DamagedInput:
    path = Path(path)
    writer = WRITERS.get(path.name) or WRITERS.get(path.parent.name)
    cure = "delete it and run Snakemake again" + (f", which rebuilds it (rule {writer})" if writer else "")
    return DamagedInput(f"{path}: cut short or not a {kind} file ({type(err).__name__}: {err}); {cure}")


def load_npy(path: str | os.PathLike) -> np.ndarray:
    """An array a step saved with numpy (.npy)."""
    try:
        return np.load(path, allow_pickle=False)
    except (ValueError, EOFError, OSError) as err:
        raise damaged(path, "NumPy .npy", err) from None


def scale_and_flatten(images: np.ndarray) -> np.ndarray:
    """Images (N, rows, cols[, channels]), uint8 or float in [0, 1] -> float32 (N, pixels) in [0, 1]."""
    flat = images.reshape(len(images), -1)
    if images.dtype == np.uint8:
        return (flat.astype(np.float32) / 255.0).astype(np.float32)
    return flat.astype(np.float32)


def image_dims(image_shape: Sequence[int]) -> tuple[int, int, int]:
    """(rows, cols, channels) of a preprocessed split's `image_shape`: (rows, cols) for grayscale
    images, (rows, cols, 3) for colour."""
    dims = tuple(int(v) for v in image_shape)
    return dims if len(dims) == 3 else (*dims, 1)


def validation_mask(n: int, fraction: float, seed: int) -> np.ndarray:
    """A boolean mask choosing round(n * fraction) rows, the same for the same seed."""
    n_val = int(round(n * fraction))
    mask = np.zeros(n, dtype=bool)
    mask[np.random.default_rng(seed).permutation(n)[:n_val]] = True
    return mask


def model_arrays(images: np.ndarray, labels: np.ndarray | None, validation_fraction: float | None = None,
                 seed: int = 0) -> dict[str, np.ndarray]:
    """A split as rule `preprocess` writes it: `x` scaled and flattened, `y` (with labels), the
    images' shape, and for the training split (`validation_fraction` given) `is_validation`. The
    members in a fixed order (x, y, image_shape, is_validation): the archive's bytes depend on it."""
    arrays = {"x": scale_and_flatten(images)}
    if labels is not None:
        arrays["y"] = labels
    arrays["image_shape"] = list(images.shape[1:])
    if validation_fraction is not None:
        arrays["is_validation"] = validation_mask(len(images), validation_fraction, seed)
    return arrays


def load_npz(path: str | os.PathLike) -> dict[str, np.ndarray]:
    """Every array of a .npz archive a step saved."""
    try:
        with np.load(path, allow_pickle=False) as data:
            return {key: data[key] for key in data.files}
    except (ValueError, EOFError, OSError, zipfile.BadZipFile) as err:
        raise damaged(path, "NumPy .npz", err) from None
