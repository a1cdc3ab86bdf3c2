#!/usr/bin/env python3
"""A real dataset as a folder of image files: Fashion-MNIST's 70,000 images written out as PNG
files, one subfolder per class (train/<class>/<index>.png, test/<class>/<index>.png), read by
the workflow's `preprocess` (dataset format `folder`) and by the same step from the IDX files.

Prints the wall time of each: the folder's first start-up (every file hashed for the digest that
tracks changes), a second start-up (the hashes cached), the whole `preprocess` run from the
folder and from the IDX files; then whether both give the same arrays, byte for byte, once the
folder's images are put back in the IDX order (each file's name is its IDX index) and its
labels (the class folders' names, sorted) mapped to the IDX labels.

The IDX files come from Debian's package: apt-get download dataset-fashion-mnist; dpkg-deb -x
dataset-fashion-mnist_*.deb fashion; then

    python bench/folder_input.py --idx fashion/usr/share/datasets/fashion-mnist
    python bench/folder_input.py --idx DIR --cores 2 --workdir /tmp/folder-bench   # keep the files
"""

from __future__ import annotations

import argparse
import csv
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import yaml

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "scripts"))
sys.path.insert(0, str(REPO / "bench"))

import benchmark  # noqa: E402
from saepipe.idx import md5_of_content, read_idx  # noqa: E402

IDX_FILES = {"train_images": "train-images-idx3-ubyte.gz", "train_labels": "train-labels-idx1-ubyte.gz",
             "test_images": "t10k-images-idx3-ubyte.gz", "test_labels": "t10k-labels-idx1-ubyte.gz"}
# Fashion-MNIST's classes in label order, as folder names.
CLASSES = ["T-shirt_top", "Trouser", "Pullover", "Dress", "Coat", "Sandal", "Shirt", "Sneaker", "Bag",
           "Ankle_boot"]


def write_png_folder(root: Path, images: np.ndarray, labels: np.ndarray) -> None:
    """Each image as root/<its class>/<its index>.png (grayscale)."""
    from PIL import Image

    for label in np.unique(labels):
        (root / CLASSES[label]).mkdir(parents=True, exist_ok=True)
    for index, (image, label) in enumerate(zip(images, labels)):
        Image.fromarray(image, mode="L").save(root / CLASSES[label] / f"{index:05d}.png")


def base_config(name: str, dataset: dict) -> dict:
    """The shipped config with this dataset, one experiment and seed (only preprocess runs)."""
    config = yaml.safe_load((REPO / "config.yaml").read_text())
    config["dataset"] = {"name": name, **dataset}
    config["run"], config["seeds"] = ["default"], [0]
    return config


def snakemake(workdir: Path, config: dict, cores: int, *args: str) -> float:
    """Write `config` into `workdir`, run snakemake there; return its wall time in seconds."""
    workdir.mkdir(parents=True, exist_ok=True)
    (workdir / "config.yaml").write_text(yaml.safe_dump(config, sort_keys=False))
    return benchmark.snakemake(workdir, ["--cores", str(cores)], *args)


def preprocess_targets(name: str) -> list[str]:
    return [f"results/{name}/data/{file}" for file in ("train.npz", "test.npz", "images.tsv")]


def folder_order(images_tsv: Path, split: str) -> tuple[np.ndarray, np.ndarray]:
    """Per folder image of `split`, in preprocess' order: its IDX index (the file's name) and
    the IDX label of its class folder."""
    with open(images_tsv, newline="") as handle:
        paths = [Path(row["image"]) for row in csv.DictReader(handle, delimiter="\t") if row["split"] == split]
    index = np.array([int(path.stem) for path in paths])
    labels = np.array([CLASSES.index(path.parent.name) for path in paths])
    return index, labels


def compare(idx_data: Path, folder_data: Path, train_folder: Path) -> dict[str, bool]:
    """Whether each array of the folder run equals the IDX run's, byte for byte, in IDX order."""
    # the folder's label is its class folder's index among the sorted class folders
    folder_classes = sorted(path.name for path in train_folder.iterdir() if path.is_dir())
    same = {}
    for split in ("train", "test"):
        index, labels = folder_order(folder_data / "images.tsv", split)
        with np.load(idx_data / f"{split}.npz") as a, np.load(folder_data / f"{split}.npz") as b:
            order = np.argsort(index)
            same[f"{split} x"] = (a["x"].dtype == b["x"].dtype and a["x"].shape == b["x"].shape
                                  and a["x"].tobytes() == b["x"][order].tobytes())
            mapped = np.array([CLASSES.index(folder_classes[y]) for y in b["y"]])
            same[f"{split} y"] = bool(np.array_equal(a["y"], mapped[order]) and np.array_equal(labels, mapped))
            same[f"{split} image_shape"] = a["image_shape"].tolist() == b["image_shape"].tolist()
    return same


def cpu_model() -> str:
    try:
        lines = subprocess.run(["lscpu"], capture_output=True, text=True).stdout.splitlines()
        return next(line.split(":", 1)[1].strip() for line in lines if line.startswith("Model name"))
    except (OSError, StopIteration):
        return "unknown CPU"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--idx", type=Path, required=True, help="the folder of the four Fashion-MNIST IDX .gz files")
    parser.add_argument("--cores", type=int, default=2)
    parser.add_argument("--workdir", type=Path, help="where to write the images and runs (default: a temporary one)")
    args = parser.parse_args()
    missing = [name for name in IDX_FILES.values() if not (args.idx / name).is_file()]
    if missing:
        sys.exit(f"{args.idx}: missing {', '.join(missing)} (see this script's help for where they come from)")
    with tempfile.TemporaryDirectory(prefix="folder-bench-") as scratch:
        base = args.workdir or Path(scratch)
        images = base / "fashion-png"
        started = time.perf_counter()
        for split, prefix in (("train", "train"), ("test", "test")):
            write_png_folder(images / split, read_idx(args.idx / IDX_FILES[f"{prefix}_images"]),
                             read_idx(args.idx / IDX_FILES[f"{prefix}_labels"]))
        written = time.perf_counter() - started
        n_files = sum(1 for _ in images.rglob("*.png"))
        size_mb = sum(p.stat().st_size for p in images.rglob("*.png")) / 1e6

        folder = base_config("fashion-folder", {"format": "folder", "train": str(images / "train"),
                                                "test": str(images / "test")})
        first_start = snakemake(base / "folder", folder, args.cores, "--dry-run", *preprocess_targets("fashion-folder"))
        second_start = snakemake(base / "folder", folder, args.cores, "--dry-run",
                                 *preprocess_targets("fashion-folder"))
        folder_run = snakemake(base / "folder", folder, args.cores, *preprocess_targets("fashion-folder"))

        files = {key: {"name": name, "md5": md5_of_content(args.idx / name)} for key, name in IDX_FILES.items()}
        idx = base_config("fashion-idx", {"format": "idx", "files": files, "mirrors": [str(args.idx.resolve())],
                                          "class_names": CLASSES})
        idx_run = snakemake(base / "idx", idx, args.cores, *preprocess_targets("fashion-idx"))
        same = compare(base / "idx" / "results" / "fashion-idx" / "data",
                       base / "folder" / "results" / "fashion-folder" / "data", images / "train")

        print(f"Fashion-MNIST as a class folder of PNG files, preprocess with --cores {args.cores} "
              f"on {cpu_model()}")
        print(f"  {n_files} PNG files, {size_mb:.1f} MB, written in {written:.1f} s")
        print(f"  start-up, every file hashed:  {first_start:6.1f} s (snakemake --dry-run)")
        print(f"  start-up, hashes cached:      {second_start:6.1f} s (snakemake --dry-run)")
        print(f"  preprocess from the folder:   {folder_run:6.1f} s (snakemake, start-up included)")
        print(f"  preprocess from the IDX files: {idx_run:5.1f} s (snakemake, download from a folder included)")
        for what, equal in same.items():
            print(f"  {what:18s} {'same bytes as from IDX' if equal else 'DIFFERS from IDX'}")
        if not all(same.values()):
            sys.exit(1)


if __name__ == "__main__":
    main()
