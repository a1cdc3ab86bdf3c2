"""Write outputs under a temporary name in the same folder and rename at the end.

A job that fails or is killed half-way then never leaves a truncated file under the final name.
"""

from __future__ import annotations

import contextlib
import errno
import json
import os
import uuid
from pathlib import Path
from typing import Any, Iterator

import numpy as np

from .logs import StepError


class DiskFull(StepError):
    """The file system holding an output is full (or the user's quota there is used up)."""


def is_disk_full(err: BaseException) -> bool:
    # h5py (Keras' weights files) reports it in its message, not in errno
    return getattr(err, "errno", None) in (errno.ENOSPC, errno.EDQUOT) or "No space left on device" in str(err)


@contextlib.contextmanager
def atomic_path(path: str | os.PathLike) -> Iterator[Path]:
    """Yield a temporary sibling of `path`; rename it onto `path` only if the block succeeds.

    The temporary name ends like the final one, as numpy and Keras choose the format by the
    ending (`.npy`, `.keras`, `.weights.h5`).
    """
    final = Path(path)
    final.parent.mkdir(parents=True, exist_ok=True)
    # A job killed outright (SIGKILL) cannot clean up: sweep what it left for this file.
    for stale in final.parent.glob(f".tmp-*-{final.name}"):
        stale.unlink(missing_ok=True)
    tmp = final.with_name(f".tmp-{uuid.uuid4().hex[:8]}-{final.name}")
    try:
        yield tmp
        os.replace(tmp, final)
    except (OSError, RuntimeError) as err:
        if is_disk_full(err):
            raise DiskFull(
                f"{final}: no space left on the device holding {final.parent} (the disk is full, or "
                "your quota there is used up); nothing half-written was kept: free space there and "
                "run again, and the step starts over (training resumes after its last checkpoint)"
            ) from None
        raise
    finally:
        tmp.unlink(missing_ok=True)


def save_npy(path: str | os.PathLike, array: np.ndarray) -> None:
    with atomic_path(path) as tmp:
        np.save(tmp, array)


def save_npz(path: str | os.PathLike, **arrays: np.ndarray) -> None:
    with atomic_path(path) as tmp:
        np.savez(tmp, **arrays)


def save_json(path: str | os.PathLike, data: Any) -> None:
    with atomic_path(path) as tmp:
        tmp.write_text(json.dumps(data, indent=2, sort_keys=True) + "\n")
