"""Fixtures: tiny IDX datasets, a loopback HTTP mirror, and a runner for real `snakemake`."""

from __future__ import annotations

import contextlib
import functools
import hashlib
import http.server
import os
import shutil
import subprocess
import sys
import threading
from pathlib import Path
from typing import Iterator

import numpy as np
import pytest
import yaml

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "scripts"))

from saepipe.idx import read_bytes, write_idx  # noqa: E402

TINY_FILES = {
    "train_images": "tiny-train-images-idx3-ubyte.gz",
    "train_labels": "tiny-train-labels-idx1-ubyte.gz",
    "test_images": "tiny-t10k-images-idx3-ubyte.gz",
    "test_labels": "tiny-t10k-labels-idx1-ubyte.gz",
}
N_CLASSES = 4
SHAPE = (12, 12)


def tiny_images(labels: np.ndarray, seed: int) -> np.ndarray:
    """Each class is a bright bar in its own place and direction, plus noise: easy to cluster."""
    rng = np.random.default_rng(seed)
    images = rng.integers(0, 40, size=(len(labels), *SHAPE)).astype(np.int64)
    for i, label in enumerate(labels):
        offset = 2 + 4 * (label // 2) + rng.integers(-1, 2)
        if label % 2 == 0:
            images[i, offset : offset + 3, 1:-1] += 200
        else:
            images[i, 1:-1, offset : offset + 3] += 200
    return np.clip(images, 0, 255).astype(np.uint8)


def class_images(labels: np.ndarray, shape: tuple[int, ...], seed: int) -> np.ndarray:
    """tiny_images for any size (rows, cols) or (rows, cols, 3): each class a bar across the
    image in its own place and direction, its width and place scaled to the image."""
    rng = np.random.default_rng(seed)
    rows, cols = shape[:2]
    images = rng.integers(0, 40, size=(len(labels), *shape)).astype(np.int64)
    for i, label in enumerate(labels):
        size = rows if label % 2 == 0 else cols
        width = max(2, size // 4)
        offset = int(round((0.15 + 0.45 * (label // 2)) * size)) + rng.integers(-1, 2)
        offset = int(np.clip(offset, 0, size - width))
        if label % 2 == 0:
            images[i, offset : offset + width, 1:-1] += 200
        else:
            images[i, 1:-1, offset : offset + width] += 200
    return np.clip(images, 0, 255).astype(np.uint8)


def balanced_labels(n: int, seed: int) -> np.ndarray:
    return np.random.default_rng(seed).permutation(np.arange(n) % N_CLASSES).astype(np.uint8)


def write_image_folder(root: Path, images: np.ndarray, labels: np.ndarray | None,
                       class_names: list[str] | None = None) -> list[Path]:
    """Each image as a PNG file: in a subfolder per class (named by `class_names`), or flat when
    `labels` is None; returns the files in the order of `images`."""
    from PIL import Image

    paths = []
    for i, image in enumerate(images):
        folder = root if labels is None else root / class_names[labels[i]]
        folder.mkdir(parents=True, exist_ok=True)
        path = folder / f"img{i:05d}.png"
        Image.fromarray(image).save(path)
        paths.append(path)
    return paths


def make_tiny_dataset(folder: Path, n_train: int = 320, n_test: int = 80, seed: int = 0) -> dict:
    """Write four tiny IDX files into `folder`; return the config's `files` block for them."""
    folder.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(seed)
    arrays = {}
    for split, n in (("train", n_train), ("test", n_test)):
        labels = rng.permutation(np.arange(n) % N_CLASSES).astype(np.uint8)
        arrays[f"{split}_images"] = tiny_images(labels, seed + n)
        arrays[f"{split}_labels"] = labels
    files = {}
    for key, name in TINY_FILES.items():
        write_idx(folder / name, arrays[key])
        files[key] = {"name": name, "md5": hashlib.md5(read_bytes(folder / name)).hexdigest()}
    return files


@pytest.fixture(scope="session")
def tiny_mirror(tmp_path_factory) -> tuple[Path, dict]:
    """A folder holding the tiny dataset, and its `files` config block."""
    folder = tmp_path_factory.mktemp("tiny-mirror")
    return folder, make_tiny_dataset(folder)


def clusters_in_20_dims(seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """120 float32 points in three well-separated clusters of 20 dims, and their cluster ids."""
    rng = np.random.default_rng(seed)
    centres = rng.normal(0, 10, (3, 20))
    labels = np.repeat(np.arange(3), 40)
    return (centres[labels] + rng.normal(0, 0.5, (120, 20))).astype(np.float32), labels


FIT_UMAP_IN_A_FRESH_PROCESS = """
import sys, time
import numpy as np
from saepipe.manifold import cache_compiled_code, fit_umap
cached = cache_compiled_code(sys.argv[1])
x = np.load(sys.argv[2])
started = time.perf_counter()
reducer = fit_umap(x, n_components=2, n_neighbors=10, min_dist=0.0, metric="euclidean", seed=1)
np.save(sys.argv[3], np.concatenate([reducer.embedding_, reducer.transform(x[:7])]))
print(cached, time.perf_counter() - started)
"""


def fit_umap_in_a_fresh_process(cache: Path, x: Path, out: Path) -> tuple[int, float]:
    """Fit UMAP to the float32 points in `x` and transform a few, in a new Python process that
    keeps numba's compiled code in `cache` (as the workflow's manifold steps do); the embedding
    goes to `out`. Returns how many functions were set to cache, and the fit's seconds."""
    done = subprocess.run([sys.executable, "-c", FIT_UMAP_IN_A_FRESH_PROCESS, str(cache), str(x), str(out)],
                          capture_output=True, text=True, check=True, cwd=out.parent,
                          env={**os.environ, "PYTHONPATH": ":".join(sys.path)})
    cached, seconds = done.stdout.split()
    return int(cached), float(seconds)


@pytest.fixture(scope="session")
def compiled_umap(tmp_path_factory) -> dict:
    """UMAP compiled once for the session, in a fresh process, into a numba cache: `cache`, and
    that first (cold) fit's input `x`, embedding `cold`, cached function count and seconds."""
    folder = tmp_path_factory.mktemp("compiled-umap")
    np.save(folder / "x.npy", clusters_in_20_dims()[0])
    cached, seconds = fit_umap_in_a_fresh_process(folder / "numba-cache", folder / "x.npy", folder / "cold.npy")
    return {"cache": folder / "numba-cache", "x": folder / "x.npy", "cold": folder / "cold.npy",
            "cached": cached, "seconds": seconds}


def with_compiled_umap(workdir: Path, compiled_umap: dict) -> None:
    """Give `workdir` the session's compiled UMAP code where its manifold steps keep theirs
    (.snakemake/numba-cache), as a user's second run has it: the steps load it instead of
    compiling it again. Compiling in a fresh workdir is tests/test_manifold.py's test."""
    shutil.copytree(compiled_umap["cache"], workdir / ".snakemake" / "numba-cache")


class _QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, *args) -> None:
        pass


@contextlib.contextmanager
def serve_folder(folder: Path) -> Iterator[str]:
    """A real HTTP server on 127.0.0.1 serving `folder`; yields its base URL, stops on exit."""
    handler = functools.partial(_QuietHandler, directory=str(folder))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/"
    finally:
        server.shutdown()
        server.server_close()


@pytest.fixture(scope="session")
def http_mirror(tiny_mirror):
    """The tiny dataset over HTTP on 127.0.0.1, for the whole session; yields its base URL."""
    with serve_folder(tiny_mirror[0]) as url:
        yield url


def place_raw_files(workdir: Path, folder: Path, dataset: str = "tiny") -> Path:
    """Copy the tiny dataset into the workdir's raw folder, as a user placing files by hand."""
    raw = workdir / "results" / dataset / "raw"
    raw.mkdir(parents=True, exist_ok=True)
    for name in TINY_FILES.values():
        (raw / name).write_bytes((folder / name).read_bytes())
    return raw


def tiny_config(files: dict, mirrors: list[str], **overrides) -> dict:
    """A config that trains a small model for 2 epochs on the tiny dataset."""
    config = {
        "seeds": [0],
        "dataset": {
            "name": "tiny",
            "files": files,
            "mirrors": mirrors,
            "class_names": [f"class{c}" for c in range(N_CLASSES)],
        },
        "download": {"timeout": 5, "retries": 0},
        "preprocess": {"validation_fraction": 0.1, "split_seed": 0},
        "model": {
            "hidden_units": [32, 16],
            "embedding_dim": 4,
            "epochs": 2,
            "batch_size": 32,
            "early_stopping_patience": 0,
        },
        "clustering": {"n_clusters": N_CLASSES, "n_init": 2},
        "figures": {"n_examples": 5, "map_method": "tsne", "map_points": 60},
    }
    for section, values in overrides.items():
        if isinstance(values, dict):
            config.setdefault(section, {}).update(values)
        else:
            config[section] = values
    return config


def run_dir(workdir: Path, experiment: str = "default", seed: int = 0, dataset: str = "tiny") -> Path:
    """Where one experiment's run writes its own outputs (logs: `kind="logs"`)."""
    return workdir / "results" / dataset / experiment / f"seed{seed}"


def model_dirs(workdir: Path, seed: int = 0, dataset: str = "tiny", under: str = "results") -> list[Path]:
    """The folders of the models trained with `seed` (one per distinct model settings)."""
    return sorted((workdir / under / dataset / "models").glob(f"*/seed{seed}"))


def the_model_dir(workdir: Path, seed: int = 0, dataset: str = "tiny", under: str = "results") -> Path:
    """The folder of the one model trained with `seed` (its logs with `under="logs"`)."""
    folders = model_dirs(workdir, seed, dataset, under)
    assert len(folders) == 1, f"expected one model folder, found {folders}"
    return folders[0]


def write_config(workdir: Path, config: dict) -> Path:
    path = workdir / "config.yaml"
    path.write_text(yaml.safe_dump(config, sort_keys=False))
    return path


def snakemake(
    workdir: Path,
    *args: str,
    check: bool = True,
    timeout: int = 900,
    snakefile: Path = REPO / "Snakefile",
    env: dict[str, str] | None = None,
    kill_signal: str = "TERM",
    configfile: Path | None = None,
) -> subprocess.CompletedProcess:
    """Run the real `snakemake` on the repo's Snakefile (or `snakefile`) in `workdir` with its
    config.yaml (or `configfile`).

    Past `timeout` seconds it is sent `kill_signal` by coreutils' `timeout`."""
    command = [
        "timeout", "-s", kill_signal, str(timeout),
        sys.executable, "-m", "snakemake",
        "--snakefile", str(snakefile),
        "--directory", str(workdir),
        "--configfile", str(configfile or workdir / "config.yaml"),
        *args,
    ]
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "2", **(env or {})}
    result = subprocess.run(command, capture_output=True, text=True, timeout=timeout + 60, env=env)
    if check and result.returncode != 0:
        raise AssertionError(
            f"snakemake {' '.join(args)} exited {result.returncode}\n"
            f"--- stdout ---\n{result.stdout[-5000:]}\n--- stderr ---\n{result.stderr[-10000:]}"
        )
    return result


def planned_rules(workdir: Path, *args: str, **kwargs) -> dict[str, int]:
    """Rule -> job count that a dry run plans (parsed from snakemake's job-count table)."""
    result = snakemake(workdir, "-n", "--quiet", "rules", *args, **kwargs)
    counts: dict[str, int] = {}
    in_table = False
    for line in (result.stdout + result.stderr).splitlines():
        fields = line.split()
        if fields[:2] == ["job", "count"]:
            in_table = True
        elif in_table and len(fields) == 2 and fields[1].isdigit():
            if fields[0] == "total":
                break
            counts[fields[0]] = int(fields[1])
    return counts


def fit_autoencoder(autoencoder, x, x_val, optimizer, *, batch_size, epochs, patience, seed=0, **kwargs):
    """Train an autoencoder as rule `train` does (training.fit on reconstruction MSE, early
    stopping on `x_val`); the trained model and its history."""
    from saepipe import training

    model, state = training.fit(autoencoder, x, validation=None if x_val is None else (x_val, x_val),
                                optimizer=optimizer, loss="mse", batch_size=batch_size, epochs=epochs,
                                patience=patience, seed=seed, **kwargs)
    return model, state.history
