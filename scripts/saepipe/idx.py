"""Read and check the IDX files of MNIST-like datasets (gzip-compressed or plain)."""

from __future__ import annotations

import gzip
import hashlib
import os
import zlib
from pathlib import Path

import numpy as np

# IDX type codes (third byte of the magic number) -> numpy dtype (big-endian).
_IDX_DTYPES = {
    0x08: np.dtype(">u1"),
    0x09: np.dtype(">i1"),
    0x0B: np.dtype(">i2"),
    0x0C: np.dtype(">i4"),
    0x0D: np.dtype(">f4"),
    0x0E: np.dtype(">f8"),
}


class IdxError(ValueError):
    """An IDX file is malformed or does not match what the dataset declares."""


class ChecksumError(ValueError):
    """A file's decompressed bytes do not have the expected MD5."""


def read_bytes(path: str | os.PathLike) -> bytes:
    """The decompressed bytes of `path` (gzip is detected by its magic, not the name)."""
    raw = Path(path).read_bytes()
    if raw[:2] == b"\x1f\x8b":
        try:
            return gzip.decompress(raw)
        except (OSError, EOFError, zlib.error) as err:
            raise IdxError(f"{path}: corrupt or truncated gzip data ({err})") from err
    return raw


def md5_of_content(path: str | os.PathLike) -> str:
    """MD5 of the decompressed bytes: the published MNIST sums are of the raw IDX files."""
    return hashlib.md5(read_bytes(path)).hexdigest()


def verify_md5(
    path: str | os.PathLike, expected: str, name: str | None = None, source: str | None = None
) -> None:
    """Raise ChecksumError naming the file (and where it came from) with both sums."""
    label = f"{name or Path(path).name}" + (f" from {source}" if source else "")
    try:
        actual = md5_of_content(path)
    except IdxError as err:
        reason = str(err).split(": ", 1)[-1]
        raise ChecksumError(f"{label}: {reason}; expected the decompressed MD5 {expected.lower()}") from err
    if actual != expected.lower():
        raise ChecksumError(
            f"{label}: MD5 of the decompressed bytes is {actual}, expected {expected.lower()}"
        )


def parse_idx(data: bytes, name: str = "<bytes>") -> np.ndarray:
    """Parse IDX bytes into an array, checking the magic number and the byte count."""
    if len(data) < 4:
        raise IdxError(f"{name}: {len(data)} bytes is too short for an IDX header")
    zero, type_code, ndim = data[0] | data[1], data[2], data[3]
    if zero != 0 or type_code not in _IDX_DTYPES or ndim == 0:
        raise IdxError(
            f"{name}: bad IDX magic number 0x{data[:4].hex()} "
            "(expected 0x0000, a type code among 08 09 0B 0C 0D 0E, and at least one dimension)"
        )
    header = 4 + 4 * ndim
    if len(data) < header:
        raise IdxError(f"{name}: truncated header ({len(data)} bytes, expected at least {header})")
    shape = tuple(int.from_bytes(data[4 + 4 * i : 8 + 4 * i], "big") for i in range(ndim))
    dtype = _IDX_DTYPES[type_code]
    expected = header + int(np.prod(shape, dtype=np.int64)) * dtype.itemsize
    if len(data) != expected:
        raise IdxError(
            f"{name}: dimensions {shape} need {expected} bytes, but the file has {len(data)}"
        )
    return np.frombuffer(data, dtype=dtype, offset=header).reshape(shape).astype(dtype.newbyteorder("="))


def read_idx(path: str | os.PathLike) -> np.ndarray:
    return parse_idx(read_bytes(path), name=Path(path).name)


def load_image_label_pair(
    images_path: str | os.PathLike,
    labels_path: str | os.PathLike,
    n_classes: int,
) -> tuple[np.ndarray, np.ndarray]:
    """Images (N, rows, cols) uint8 and labels (N,) checked against each other and the classes."""
    images, labels = read_idx(images_path), read_idx(labels_path)
    images_name, labels_name = Path(images_path).name, Path(labels_path).name
    if images.ndim != 3 or images.dtype != np.uint8:
        raise IdxError(
            f"{images_name}: expected unsigned-byte images of 3 dimensions (count, rows, cols), "
            f"got {images.dtype} with shape {images.shape}"
        )
    if labels.ndim != 1 or labels.dtype != np.uint8:
        raise IdxError(
            f"{labels_name}: expected unsigned-byte labels of 1 dimension, "
            f"got {labels.dtype} with shape {labels.shape}"
        )
    if len(images) != len(labels):
        raise IdxError(
            f"{images_name} holds {len(images)} images but {labels_name} holds {len(labels)} labels"
        )
    if len(labels) and labels.max() >= n_classes:
        bad = sorted(set(labels[labels >= n_classes].tolist()))
        raise IdxError(
            f"{labels_name}: labels {bad[:5]} lie outside the {n_classes} declared classes "
            f"(0..{n_classes - 1})"
        )
    return images, labels


def write_idx(path: str | os.PathLike, array: np.ndarray, compress: bool = True) -> None:
    """Write `array` as IDX (used by tests and to build small datasets)."""
    array = np.asarray(array)
    codes = {v.newbyteorder("="): k for k, v in _IDX_DTYPES.items()}
    code = codes[array.dtype.newbyteorder("=")]
    header = bytes([0, 0, code, array.ndim]) + b"".join(
        int(n).to_bytes(4, "big") for n in array.shape
    )
    payload = header + array.astype(_IDX_DTYPES[code]).tobytes()
    Path(path).write_bytes(gzip.compress(payload, mtime=0) if compress else payload)
