"""Read a dataset's images from where a user keeps them: IDX files (MNIST's layout), NumPy .npz
archives, or a folder of image files (one subfolder per class, or flat when there are no labels).

Each reader gives the same thing, a `Split` per train/test: the images as uint8 (or float in
[0, 1]) of shape (n, rows, cols) for grayscale or (n, rows, cols, 3) for colour, the labels or
None, and an id per image (its file, or its source and index) for the assignments table.
Bad input raises DatasetError naming the file and what was expected.
"""

from __future__ import annotations

import hashlib
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Sequence

import numpy as np

from .idx import load_image_label_pair, verify_md5
from .logs import StepError

FORMATS = ("idx", "npz", "folder")
# The endings of the files a folder dataset reads (any case); every other file is left alone.
IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".bmp", ".gif", ".tif", ".tiff", ".webp")
# Pillow modes read as grayscale; any other image makes the dataset colour (RGB).
GRAY_MODES = ("1", "L", "LA", "I", "I;16", "F")


class DatasetError(StepError):
    """The dataset's files are not what the `dataset` block of the config says."""


@dataclass
class Split:
    images: np.ndarray
    labels: np.ndarray | None
    ids: list[str]


# --- folders of image files ---------------------------------------------------------------------


@dataclass
class FolderListing:
    """The image files of a folder dataset, sorted: by class folder, then by path."""

    root: Path
    files: list[str]  # relative to root, with "/" separators
    labels: list[int] | None  # per file; None for a flat folder
    classes: list[str] | None  # the class folders' names, sorted; None for a flat folder


def _is_image(path: Path) -> bool:
    return path.is_file() and path.suffix.lower() in IMAGE_SUFFIXES and not path.name.startswith(".")


def _images_under(folder: Path) -> list[Path]:
    return sorted(p for p in folder.rglob("*") if _is_image(p) and not any(
        part.startswith(".") for part in p.relative_to(folder).parts))


def list_folder(root: str | os.PathLike) -> FolderListing:
    """The images of `root`: in one subfolder per class (labelled; classes sorted by name, images
    anywhere below their class folder) or directly in `root` (unlabelled)."""
    root = Path(root)
    if not root.is_dir():
        raise DatasetError(f"{root}: no such folder (dataset.train or dataset.test)")
    top = sorted(p for p in root.iterdir() if _is_image(p))
    folders = sorted(p for p in root.iterdir() if p.is_dir() and not p.name.startswith("."))
    if top and folders:
        raise DatasetError(f"{root}: holds both images ({top[0].name}, ...) and subfolders ({folders[0].name}, "
                           "...); expected one subfolder per class, or only images (no labels)")
    if top:
        return FolderListing(root, [p.name for p in top], None, None)
    if not folders:
        raise DatasetError(f"{root}: no image files in it (looked for {', '.join(IMAGE_SUFFIXES)})")
    files, labels = [], []
    for label, folder in enumerate(folders):
        images = _images_under(folder)
        if not images:
            raise DatasetError(f"{folder}: class folder '{folder.name}' has no image files "
                               f"(looked for {', '.join(IMAGE_SUFFIXES)}); remove it or add its images")
        files += [p.relative_to(root).as_posix() for p in images]
        labels += [label] * len(images)
    return FolderListing(root, files, labels, [p.name for p in folders])


def file_md5(path: Path) -> str:
    return hashlib.md5(path.read_bytes()).hexdigest()


def manifest(listing: FolderListing, cache: dict[str, tuple[int, int, str]] | None = None) -> list[tuple[str, int, str]]:
    """(relative path, size in bytes, MD5) of every file. `cache` maps a path to (size, mtime_ns,
    MD5) from an earlier listing: an unchanged file (same size and modification time) is not
    read again; the cache is updated in place."""
    cache = {} if cache is None else cache
    rows = []
    for name in listing.files:
        path = listing.root / name
        stat = path.stat()
        key = str(path.resolve())
        size, mtime, md5 = cache.get(key, (-1, -1, ""))
        if (size, mtime) != (stat.st_size, stat.st_mtime_ns):
            md5 = file_md5(path)
            cache[key] = (stat.st_size, stat.st_mtime_ns, md5)
        rows.append((name, stat.st_size, md5))
    return rows


def manifest_digest(rows: Sequence[tuple[str, int, str]], classes: Sequence[str] | None) -> str:
    """One hash of a folder's classes and every file's name, size and contents: it changes
    exactly when an image is changed, added, removed or renamed."""
    text = "\n".join([f"classes\t{classes}"] + [f"{name}\t{size}\t{md5}" for name, size, md5 in rows])
    return hashlib.sha256(text.encode()).hexdigest()


def read_cache(path: str | os.PathLike) -> dict[str, tuple[int, int, str]]:
    """The hash cache `manifest` keeps (a TSV: path, size, mtime_ns, MD5); empty when absent or
    unreadable."""
    cache = {}
    try:
        for line in Path(path).read_text().splitlines():
            key, size, mtime, md5 = line.rsplit("\t", 3)
            cache[key] = (int(size), int(mtime), md5)
    except (OSError, ValueError):
        return {}
    return cache


def write_cache(path: str | os.PathLike, cache: dict[str, tuple[int, int, str]]) -> None:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".tmp-{os.getpid()}-{path.name}")
    tmp.write_text("".join(f"{k}\t{s}\t{m}\t{h}\n" for k, (s, m, h) in sorted(cache.items())))
    os.replace(tmp, path)


def _open_image(path: Path) -> Any:
    from PIL import Image, UnidentifiedImageError

    try:
        image = Image.open(path)
        image.load()
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError) as err:
        raise DatasetError(f"{path}: not a readable image, or cut short ({type(err).__name__}: {err})") from None
    return image


def image_format(paths: Sequence[Path], image_size: Sequence[int] | None = None) -> tuple[tuple[int, int], bool]:
    """The (rows, cols) every image of `paths` is read at, and whether any is in colour, from the
    files' headers alone. Without `image_size` all images must have one size."""
    from PIL import Image

    first, colour = None, False
    for path in paths:
        try:
            with Image.open(path) as image:
                size, mode = image.size, image.mode
        except Exception as err:  # noqa: BLE001 - Pillow raises many kinds for a bad file
            raise DatasetError(f"{path}: not a readable image ({type(err).__name__}: {err})") from None
        colour = colour or mode not in GRAY_MODES
        if first is None:
            first = (path, size)
        elif size != first[1] and image_size is None:
            raise DatasetError(
                f"images of different sizes: {first[0]} is {first[1][0]}x{first[1][1]} and {path} is "
                f"{size[0]}x{size[1]} (width x height); set dataset.image_size: [rows, cols] to resize them all")
    if image_size is not None:
        return (int(image_size[0]), int(image_size[1])), colour
    return (first[1][1], first[1][0]), colour


def read_images(paths: Sequence[Path], size: tuple[int, int], colour: bool) -> np.ndarray:
    """The images of `paths` as uint8: (n, rows, cols), or (n, rows, cols, 3) in `colour`;
    resized (bilinear) where their size is not `size` (rows, cols)."""
    from PIL import Image

    rows, cols = size
    out = np.empty((len(paths), rows, cols, 3) if colour else (len(paths), rows, cols), dtype=np.uint8)
    for i, path in enumerate(paths):
        image = _open_image(path).convert("RGB" if colour else "L")
        if image.size != (cols, rows):
            image = image.resize((cols, rows), Image.Resampling.BILINEAR)
        out[i] = np.asarray(image, dtype=np.uint8)
    return out


def read_folder_splits(train: FolderListing, test: FolderListing | None,
                       image_size: Sequence[int] | None) -> tuple[Split, Split | None]:
    """Both splits' images at one size and channel count, their labels (class folder indices,
    the test folder's classes named as the train folder's) and ids (paths from the dataset's
    folder)."""
    listings = [train] + ([test] if test is not None else [])
    for listing in listings[1:]:
        if (listing.classes is None) != (train.classes is None):
            raise DatasetError(f"{listing.root} and {train.root}: one has a subfolder per class and the other "
                               "not; give both the same layout")
        unknown = sorted(set(listing.classes or []) - set(train.classes or []))
        if unknown:
            raise DatasetError(f"{listing.root}: class folder(s) {', '.join(unknown)} not among the training "
                               f"classes ({', '.join(train.classes)})")
    paths = [[listing.root / name for name in listing.files] for listing in listings]
    size, colour = image_format([p for group in paths for p in group], image_size)
    splits = []
    for listing, group in zip(listings, paths):
        labels = None
        if listing.classes is not None:
            labels = np.array([train.classes.index(listing.classes[i]) for i in listing.labels], dtype=np.uint8
                              if len(train.classes) <= 256 else np.int64)
        splits.append(Split(read_images(group, size, colour), labels, [path.as_posix() for path in group]))
    return splits[0], (splits[1] if test is not None else None)


# --- NumPy archives -----------------------------------------------------------------------------


def read_npz_split(path: str | os.PathLike, n_classes: int | None) -> Split:
    """`x` (n, rows, cols) or (n, rows, cols, 1 or 3), uint8 or float in [0, 1], and an optional
    `y` of integer labels 0..n_classes-1."""
    import zipfile

    path = Path(path)
    try:
        with np.load(path, allow_pickle=False) as archive:
            arrays = {key: archive[key] for key in archive.files if key in ("x", "y")}
    except FileNotFoundError:
        raise DatasetError(f"{path}: no such file (dataset.train or dataset.test)") from None
    except (ValueError, EOFError, OSError, zipfile.BadZipFile) as err:
        raise DatasetError(f"{path}: not a NumPy .npz archive ({type(err).__name__}: {err})") from None
    if "x" not in arrays:
        raise DatasetError(f"{path}: holds no array named 'x' (the images); it has {', '.join(archive.files) or 'none'}")
    x = arrays["x"]
    if x.ndim == 4 and x.shape[3] == 1:
        x = x[..., 0]
    if x.ndim not in (3, 4) or (x.ndim == 4 and x.shape[3] != 3) or len(x) == 0:
        raise DatasetError(f"{path}: x has shape {x.shape}; expected (images, rows, cols) or "
                           "(images, rows, cols, 1 or 3), with at least one image")
    if x.dtype != np.uint8:
        if not np.issubdtype(x.dtype, np.floating):
            raise DatasetError(f"{path}: x is {x.dtype}; expected uint8 (0-255) or float in [0, 1]")
        low, high = float(np.min(x)), float(np.max(x))
        if not (0.0 <= low and high <= 1.0):
            raise DatasetError(f"{path}: x holds values from {low:g} to {high:g}; a float x must lie in [0, 1]")
    labels = None
    if "y" in arrays:
        labels = arrays["y"]
        if labels.ndim != 1 or not np.issubdtype(labels.dtype, np.integer):
            raise DatasetError(f"{path}: y is {labels.dtype} of shape {labels.shape}; expected one integer "
                               "label per image")
        if len(labels) != len(x):
            raise DatasetError(f"{path}: x holds {len(x)} images but y holds {len(labels)} labels")
        check_labels(labels, n_classes, f"{path}: y")
        labels = labels.astype(np.uint8 if n_classes <= 256 else np.int64)
    return Split(x, labels, [f"{path.name}[{i}]" for i in range(len(x))])


def npz_labels(path: str | os.PathLike) -> np.ndarray | None:
    """The labels `y` of an .npz archive, or None when it has none (read at start-up to find the
    classes); a file that cannot be read is left for preprocess to report."""
    try:
        with np.load(path, allow_pickle=False) as archive:
            return archive["y"] if "y" in archive.files else None
    except Exception:  # noqa: BLE001 - preprocess names what is wrong with it
        return None


def check_labels(labels: np.ndarray, n_classes: int | None, name: str) -> None:
    if n_classes is None:
        raise DatasetError(f"{name}: labels given but the dataset declares no classes")
    bad = sorted(set(labels[(labels < 0) | (labels >= n_classes)].tolist()))
    if bad:
        raise DatasetError(f"{name}: labels {bad[:5]} lie outside the {n_classes} declared classes "
                           f"(0..{n_classes - 1}, dataset.class_names)")


# --- the train/test split -----------------------------------------------------------------------


def split_off_test(data: Split, fraction: float, seed: int) -> tuple[Split, Split]:
    """A seeded test split of `data`: round(n * fraction) images (at least one), each split
    keeping the source's order."""
    n = len(data.images)
    n_test = min(max(1, int(round(n * fraction))), n - 1)
    if n < 2:
        raise DatasetError(f"{data.ids[0] if data.ids else 'dataset'}: {n} image; a test split needs at least 2")
    is_test = np.zeros(n, dtype=bool)
    is_test[np.random.default_rng(seed).permutation(n)[:n_test]] = True

    def part(mask: np.ndarray) -> Split:
        index = np.flatnonzero(mask)
        labels = None if data.labels is None else data.labels[index]
        return Split(data.images[index], labels, [data.ids[i] for i in index])

    return part(~is_test), part(is_test)


def check_alike(train: Split, test: Split, train_name: str, test_name: str) -> None:
    """The test images must have the train images' shape, and labels both or neither."""
    if train.images.shape[1:] != test.images.shape[1:]:
        raise DatasetError(f"{test_name}: images of shape {test.images.shape[1:]}, but {train_name} has "
                           f"{train.images.shape[1:]}; both splits need one image size and channel count")
    if (train.labels is None) != (test.labels is None):
        raise DatasetError(f"{train_name if train.labels is None else test_name} has no labels but "
                           f"{test_name if train.labels is None else train_name} has: give both or neither")


# --- start-up: what the workflow needs to know before any job ---------------------------------


def folder_digest(root: str | os.PathLike, cache_path: str | os.PathLike) -> str:
    """The manifest digest of a folder dataset, hashing only the files that changed since the
    last call (their sizes and modification times are kept in `cache_path`)."""
    listing = list_folder(root)
    cache = read_cache(cache_path)
    before = dict(cache)
    digest = manifest_digest(manifest(listing, cache), listing.classes)
    if cache != before:
        write_cache(cache_path, cache)
    return digest


def class_names(dataset: dict[str, Any]) -> list[str] | None:
    """The dataset's classes, in label order, or None when it has no labels: the config's
    `class_names` for IDX; for .npz those, or else "0".."K-1" from the largest label; for a
    folder, its class subfolders' names."""
    fmt = dataset["format"]
    if fmt == "idx":
        return list(dataset["class_names"])
    if fmt == "folder":
        if "class_names" in dataset:
            raise DatasetError("dataset.class_names: not used with format 'folder', whose classes are the "
                               "names of its subfolders; remove the key")
        return list_folder(dataset["train"]).classes
    labels = [npz_labels(dataset[key]) for key in ("train", "test") if dataset.get(key)]
    if labels[0] is None:
        if "class_names" in dataset:
            raise DatasetError(f"dataset.class_names: given, but {dataset['train']} holds no labels (y)")
        return None
    if "class_names" in dataset:
        return list(dataset["class_names"])
    largest = max(int(y.max()) for y in labels if y is not None and len(y))
    return [str(c) for c in range(largest + 1)]


def idx_splits(source: dict[str, Any], paths: Any, n_classes: int | None) -> tuple[Split, Split]:
    """The IDX dataset's train and test splits from its four files (`paths`, by the files' keys),
    each checked against its MD5 first: files placed by hand never went through the download's check."""
    for key, md5 in source["md5"].items():
        verify_md5(paths[key], md5)
    splits = {}
    for split in ("train", "test"):
        images, labels = load_image_label_pair(paths[f"{split}_images"], paths[f"{split}_labels"], n_classes)
        name = source["names"][f"{split}_images"]
        splits[split] = Split(images, labels, [f"{name}[{i}]" for i in range(len(images))])
    return splits["train"], splits["test"]


def npz_splits(source: dict[str, Any], n_classes: int | None) -> tuple[Split, Split | None]:
    train = read_npz_split(source["train"], n_classes)
    test = read_npz_split(source["test"], n_classes) if source["test"] else None
    if test is not None:
        check_alike(train, test, source["train"], source["test"])
    return train, test


def folder_splits(source: dict[str, Any]) -> tuple[Split, Split | None]:
    listings = {split: list_folder(source[split]) if source[split] else None for split in ("train", "test")}
    # The workflow planned this run for the folder as it was at start-up; an image changed since
    # then would be read without Snakemake knowing to rerun what follows.
    for split, listing in listings.items():
        if listing is not None:
            if manifest_digest(manifest(listing), listing.classes) != source["digest"][split]:
                raise DatasetError(f"{source[split]}: its images changed after the workflow started; "
                                   "run Snakemake again")
    return read_folder_splits(listings["train"], listings["test"], source["image_size"])


def read_dataset(source: dict[str, Any], paths: Any, n_classes: int | None) -> tuple[Split, Split | None]:
    """Rule `preprocess`'s dataset (`source`: plan's description of the dataset block) as its train
    split and its test split (None where the dataset gives none). `paths`: the IDX files by key."""
    if source["format"] == "idx":
        return idx_splits(source, paths, n_classes)
    if source["format"] == "npz":
        return npz_splits(source, n_classes)
    return folder_splits(source)
