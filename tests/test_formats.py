"""A user's own images through the whole workflow: IDX at 8x8, a labelled RGB .npz at 16x16, a
class-folder of 20x24 PNGs and a flat folder without labels, each through `default` and an
n2d-self-like experiment (UMAP, a Gaussian mixture, self-labelling). Then each bad input of
the `dataset` block: its message, and nothing written downstream."""

import hashlib
import json
import os

import numpy as np
import pandas as pd
import pytest
import yaml
from PIL import Image

from conftest import (
    N_CLASSES,
    REPO,
    balanced_labels,
    class_images,
    planned_rules,
    run_dir,
    snakemake,
    with_compiled_umap,
    write_config,
    write_image_folder,
)
from saepipe.idx import read_bytes, write_idx

# config.yaml's MNIST block, which a user's own dataset file must replace whole.
SHIPPED_DATASET = yaml.safe_load((REPO / "config.yaml").read_text())["dataset"]

CLASSES = [f"kind{c}" for c in range(N_CLASSES)]
EXPERIMENTS = {
    "default": {},
    "n2d-self": {
        "manifold": {"method": "umap", "n_components": 3, "n_neighbors": 10},
        "clustering": {"method": "gmm", "normalize": False, "n_init": 2},
        "refine": {"method": "selflabel", "epochs": 2, "batch_size": 32},
    },
}
N_TRAIN, N_TEST = 240, 60


def config_for(dataset: dict, **overrides) -> dict:
    config = {
        "seeds": [0],
        "dataset": {"name": "own", **dataset},
        "model": {"hidden_units": [32, 16], "embedding_dim": 4, "epochs": 2, "batch_size": 32,
                  "early_stopping_patience": 0},
        "clustering": {"n_clusters": N_CLASSES, "n_init": 2},
        "figures": {"n_examples": 4, "map_method": "pca", "map_points": 40},
        "experiments": EXPERIMENTS,
    }
    config.update(overrides)
    return config


def idx_dataset(folder):
    """IDX files of 8x8 images, served from a folder mirror."""
    files = {}
    for split, n in (("train", N_TRAIN), ("test", N_TEST)):
        labels = balanced_labels(n, n)
        for kind, array in (("images", class_images(labels, (8, 8), n)), ("labels", labels)):
            name = f"{split}-{kind}-idx.gz"
            write_idx(folder / name, array)
            files[f"{split}_{kind}"] = {"name": name, "md5": hashlib.md5(read_bytes(folder / name)).hexdigest()}
    return {"format": "idx", "files": files, "mirrors": [str(folder)], "class_names": CLASSES}


def npz_dataset(folder):
    """Two labelled .npz archives of 16x16 RGB images."""
    for split, n in (("train", N_TRAIN), ("test", N_TEST)):
        labels = balanced_labels(n, n)
        np.savez(folder / f"{split}.npz", x=class_images(labels, (16, 16, 3), n), y=labels)
    return {"format": "npz", "train": str(folder / "train.npz"), "test": str(folder / "test.npz"),
            "class_names": CLASSES}


def class_folder_dataset(folder):
    """One folder of 20x24 PNGs, a subfolder per class; the test split is drawn from it."""
    labels = balanced_labels(N_TRAIN + N_TEST, 1)
    write_image_folder(folder / "images", class_images(labels, (20, 24), 1), labels, CLASSES)
    return {"format": "folder", "train": str(folder / "images")}


def flat_folder_dataset(folder):
    """A flat folder of 12x12 PNGs: no labels."""
    labels = balanced_labels(N_TRAIN + N_TEST, 2)
    write_image_folder(folder / "images", class_images(labels, (12, 12), 2), None)
    return {"format": "folder", "train": str(folder / "images")}


DATASETS = {"idx-8x8": (idx_dataset, (8, 8)), "npz-16x16-rgb": (npz_dataset, (16, 16, 3)),
            "folder-20x24": (class_folder_dataset, (20, 24)), "flat-unlabelled": (flat_folder_dataset, (12, 12))}


def own_dataset_file(workdir):
    """The user's file holding only a `dataset` block, given with --configfile."""
    return workdir / "own-dataset.yaml"


@pytest.fixture(scope="module", params=list(DATASETS))
def own_run(request, tmp_path_factory, compiled_umap):
    """Each format as the README says to bring one's own data: the workflow's config.yaml keeps
    the shipped MNIST block, and a file of the user's own, given with --configfile, holds only
    theirs, which replaces MNIST's whole (no class names, files or mirrors inherited)."""
    make, shape = DATASETS[request.param]
    workdir = tmp_path_factory.mktemp(request.param)
    with_compiled_umap(workdir, compiled_umap)
    (workdir / "source").mkdir()
    dataset = make(workdir / "source")
    write_config(workdir, config_for(SHIPPED_DATASET))
    own_dataset_file(workdir).write_text(yaml.safe_dump({"dataset": {"name": "own", **dataset}}))
    snakemake(workdir, "--cores", "2", configfile=own_dataset_file(workdir))
    return request.param, workdir, shape, dataset


def test_every_run_writes_its_assignments_and_its_cluster_members_figure(own_run):
    name, workdir, _, _ = own_run
    images = pd.read_csv(workdir / "results" / "own" / "data" / "images.tsv", sep="\t")
    assert list(images.columns) == ["split", "image"]
    assert images["image"].is_unique and len(images) == N_TRAIN + N_TEST
    for experiment in EXPERIMENTS:
        run = run_dir(workdir, experiment, dataset="own")
        table = pd.read_csv(run / "assignments.csv")
        refined = ["refined_cluster"] if experiment == "n2d-self" else []
        assert list(table.columns) == ["image", "split", "cluster", "confidence", *refined]
        assert table[["image", "split"]].values.tolist() == images[["image", "split"]].values.tolist()
        assert set(table["cluster"]) <= set(range(N_CLASSES))
        # n2d-self refines its own clustering: no other experiment here has its settings
        assert np.array_equal(table.loc[table.split == "test", "cluster"], np.load(run / "clusters" / "test.npy"))
        if refined:
            assert np.array_equal(table.loc[table.split == "train", "refined_cluster"],
                                  np.load(run / "refined" / "train.npy"))
        png = (run / "figures" / "cluster_members.png").read_bytes()
        assert png[:8] == b"\x89PNG\r\n\x1a\n" and len(png) > 2000
    if name.startswith("folder") or name.startswith("flat"):
        assert all(os.path.isfile(path) for path in images["image"])  # the file's own path
    else:
        assert images["image"].iloc[0].endswith("[0]")


def test_the_images_keep_their_size_and_channels_through_every_step(own_run):
    _, workdir, shape, _ = own_run
    out = workdir / "results" / "own"
    with np.load(out / "data" / "train.npz") as train, np.load(out / "data" / "test.npz") as test:
        assert tuple(train["image_shape"]) == shape and train["x"].shape[1] == np.prod(shape)
        assert len(train["x"]) + len(test["x"]) == N_TRAIN + N_TEST
    run = run_dir(workdir, "n2d-self", dataset="own")
    assert np.load(run / "clusters" / "centroid_images.npy").shape == (N_CLASSES, *shape)
    assert "classifier epoch 2/2" in (workdir / "logs" / "own" / "n2d-self" / "seed0" / "refine.log").read_text()
    for figure in ("reconstructions", "centroids", "embedding_map", "refinement"):
        assert (run / "figures" / f"{figure}.png").stat().st_size > 2000


def test_with_labels_every_score_and_without_none_that_needs_them(own_run):
    name, workdir, _, _ = own_run
    summary = pd.read_csv(workdir / "results" / "own" / "summary.csv")
    assert summary["experiment"].tolist() == list(EXPERIMENTS)
    for experiment in EXPERIMENTS:
        run = run_dir(workdir, experiment, dataset="own")
        metrics = json.loads((run / "metrics" / "metrics.json").read_text())
        if name == "flat-unlabelled":
            text = json.dumps(metrics)
            for word in ("accuracy", "nmi", "ari", "mapping", "confusion"):
                assert word not in text
            assert not (run / "metrics" / "confusion_matrix.tsv").exists()
            assert not (run / "figures" / "confusion_matrix.png").exists()
            assert metrics["test"]["n_samples"] == (N_TRAIN + N_TEST) * 0.2  # dataset.test_fraction
            for split in ("train", "test", "all"):
                scores = metrics[split]
                assert sum(scores["cluster_sizes"]) == scores["n_samples"]
                assert -1 <= scores["silhouette"] <= 1
                assert "mean_confidence" in scores or experiment == "n2d-self"
            assert metrics["test"]["reconstruction_mse"] > 0
            if experiment == "n2d-self":
                assert set(metrics["before"]["all"]) >= {"silhouette", "mean_confidence", "cluster_sizes"}
            assert not any(column.startswith(("test_accuracy", "all_nmi")) for column in summary.columns)
            assert summary["all_silhouette"].notna().all()
        else:
            assert 0 <= metrics["all"]["accuracy_hungarian"] <= 1
            assert len(metrics["test"]["confusion_matrix"]) == N_CLASSES  # not MNIST's ten class names
            assert (run / "figures" / "confusion_matrix.png").exists()
            assert summary["test_accuracy_majority"].notna().all()
    assert (workdir / "results" / "own" / "comparison.png").stat().st_size > 2000


def test_a_rerun_has_nothing_to_do(own_run):
    _, workdir, _, _ = own_run
    assert planned_rules(workdir, configfile=own_dataset_file(workdir)) == {}


# IDX and .npz files are preprocess' inputs themselves (tests/test_reruns.py); a folder is not.
@pytest.mark.parametrize("own_run", ["folder-20x24", "flat-unlabelled"], indirect=True)
def test_a_changed_added_or_removed_image_reruns_preprocess_and_a_touched_one_nothing(own_run):
    _, workdir, _, _ = own_run
    own = own_dataset_file(workdir)
    images = sorted(p for p in (workdir / "source" / "images").rglob("*.png"))
    path, added = images[5], images[5].with_name("added-" + images[5].name)
    os.utime(path, ns=(1, 1))
    assert planned_rules(workdir, configfile=own) == {}
    original = path.read_bytes()
    try:
        Image.fromarray(255 - np.asarray(Image.open(path))).save(path)
        changed = planned_rules(workdir, configfile=own)
        path.write_bytes(original)
        added.write_bytes(original)
        with_added = planned_rules(workdir, configfile=own)
        added.unlink()
        path.unlink()
        with_removed = planned_rules(workdir, configfile=own)
    finally:
        path.write_bytes(original)
        added.unlink(missing_ok=True)
    for planned in (changed, with_added, with_removed):
        assert planned["preprocess"] == 1 and planned["train"] == 1, planned
    assert planned_rules(workdir, configfile=own) == {}  # back as it was: the digest is the one of the run


# --- bad input -----------------------------------------------------------------------------------


def labelled_png_folder(root, n=40, shape=(10, 10)):
    labels = balanced_labels(n, 0)
    return write_image_folder(root, class_images(labels, shape, 0), labels, CLASSES)


def truncated_image(source):
    paths = labelled_png_folder(source / "images")
    paths[7].write_bytes(paths[7].read_bytes()[:50])
    return {"format": "folder", "train": str(source / "images")}, str(paths[7]), "not a readable image"


def empty_folder(source):
    (source / "images").mkdir()
    return {"format": "folder", "train": str(source / "images")}, str(source / "images"), "no image files in it"


def empty_class_folder(source):
    paths = labelled_png_folder(source / "images")
    for path in paths:
        if path.parent.name == "kind2":
            path.unlink()
    return ({"format": "folder", "train": str(source / "images")}, str(source / "images" / "kind2"),
            "class folder 'kind2' has no image files")


def npz_without_x(source):
    np.savez(source / "d.npz", images=np.zeros((40, 8, 8), np.uint8))
    return {"format": "npz", "train": str(source / "d.npz")}, "d.npz", "holds no array named 'x'"


def npz_lengths_differ(source):
    np.savez(source / "d.npz", x=np.zeros((40, 8, 8), np.uint8), y=balanced_labels(39, 0))
    return {"format": "npz", "train": str(source / "d.npz")}, "d.npz", "x holds 40 images but y holds 39 labels"


def labels_outside_the_classes(source):
    np.savez(source / "d.npz", x=np.zeros((40, 8, 8), np.uint8), y=balanced_labels(40, 0))
    return ({"format": "npz", "train": str(source / "d.npz"), "class_names": ["a", "b"]}, "d.npz",
            "labels [2, 3] lie outside the 2 declared classes")


def mixed_sizes(source):
    paths = labelled_png_folder(source / "images")
    Image.fromarray(np.zeros((12, 9), np.uint8)).save(paths[3])
    return {"format": "folder", "train": str(source / "images")}, str(paths[3]), "set dataset.image_size"


BAD_INPUTS = [truncated_image, empty_folder, empty_class_folder, npz_without_x, npz_lengths_differ,
              labels_outside_the_classes, mixed_sizes]


@pytest.mark.parametrize("bad_input", BAD_INPUTS, ids=[f.__name__ for f in BAD_INPUTS])
def test_a_bad_dataset_is_named_in_one_line_and_nothing_is_written(tmp_path, bad_input):
    (tmp_path / "source").mkdir()
    dataset, name, message = bad_input(tmp_path / "source")
    write_config(tmp_path, config_for(dataset, experiments={"default": {}}))
    result = snakemake(tmp_path, "--cores", "2", check=False)
    console = result.stdout + result.stderr
    assert result.returncode != 0
    lines = [line for line in console.splitlines() if message in line]
    assert lines and name in lines[0], console[-3000:]
    assert not (tmp_path / "results" / "own" / "data" / "train.npz").exists()
    assert not (tmp_path / "results" / "own" / "models").exists()


def test_images_too_small_for_the_classifier_stop_refine_and_say_the_minimum(tmp_path):
    (tmp_path / "source").mkdir()
    labels = balanced_labels(80, 0)
    np.savez(tmp_path / "source" / "d.npz", x=class_images(labels, (6, 7), 0), y=labels)
    write_config(tmp_path, config_for({"format": "npz", "train": str(tmp_path / "source" / "d.npz")},
                                      experiments={"self": {"refine": {"method": "selflabel", "epochs": 1}}}))
    result = snakemake(tmp_path, "--cores", "2", check=False)
    assert result.returncode != 0
    assert "the images are 6x7 pixels; the self-labelling classifier (refine.method: selflabel) needs at " \
           "least 8x8" in result.stdout + result.stderr
    run = run_dir(tmp_path, "self", dataset="own")
    assert not (run / "refined").exists() and not (run / "metrics").exists()
