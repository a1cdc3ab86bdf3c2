"""Experiments: named variants of the defaults, several seeds each, sharing what they can."""

import json
import re
import shutil

import numpy as np
import pandas as pd
import pytest

from conftest import model_dirs, planned_rules, run_dir, snakemake, tiny_config, with_compiled_umap, write_config
from saepipe.manifold import cache_compiled_code, fit_umap

EXPERIMENTS = {
    "ae": {},
    # N2D's recipe at the tiny data's scale: the same autoencoder, UMAP of its codes, a mixture
    "umap": {
        "manifold": {"method": "umap", "n_components": 3, "n_neighbors": 10},
        "clustering": {"method": "gmm", "normalize": False, "n_init": 2},
    },
}
# umap's clustering refined by self-labelling: it reuses umap's UMAP and clusters; then the
# classifier's features clustered again (the plain self-labelling is the same step without that).
EXPERIMENTS["self"] = {**EXPERIMENTS["umap"],
                       "refine": {"method": "selflabel", "epochs": 3, "batch_size": 32, "recluster": True}}
CLUSTERED = ["ae", "umap"]  # the experiments with a clustering of their own
SEEDS = [0, 1]
# The grid's models train in bfloat16, so that its steps run on models saved that way (the
# other workflow tests use float32, the default).
MODEL = {"precision": "bfloat16"}


@pytest.fixture(scope="module")
def grid(tmp_path_factory, tiny_mirror, http_mirror, compiled_umap):
    workdir = tmp_path_factory.mktemp("experiments")
    with_compiled_umap(workdir, compiled_umap)
    _, files = tiny_mirror
    write_config(workdir, tiny_config(files, [http_mirror], experiments=EXPERIMENTS, seeds=SEEDS, model=MODEL))
    planned = planned_rules(workdir)
    # TensorFlow's own level, not the test harness's quieter one: what it prints must reach the
    # steps' logs, not the console.
    result = snakemake(workdir, "--cores", "2", env={"TF_CPP_MIN_LOG_LEVEL": "0"})
    return workdir, planned, result.stdout + result.stderr


def test_the_console_shows_no_native_log_lines(grid):
    """TensorFlow's C++ lines (I0000, W0000, E0000: oneDNN notes, CUDA probing) go to the
    steps' logs, the UMAP steps' too (umap-learn imports TensorFlow)."""
    workdir, _, console = grid
    native = [line for line in console.splitlines() if re.match(r"^[IWE]\d{4} ", line) or "cudart" in line
              or "oneDNN" in line]
    assert not native, "\n".join(native[:10])
    assert "Finished job" in console or "steps (100%) done" in console


def test_experiments_with_the_same_model_settings_train_one_model_per_seed(grid):
    workdir, planned, _ = grid
    assert planned["train"] == planned["embed"] == len(SEEDS)
    assert planned["evaluate"] == len(EXPERIMENTS) * len(SEEDS)
    assert planned["cluster"] == len(CLUSTERED) * len(SEEDS)
    assert planned["manifold"] == planned["manifold_all"] == len(SEEDS)
    assert all(len(model_dirs(workdir, seed)) == 1 for seed in SEEDS)


def test_the_manifold_steps_embed_train_test_and_all(grid):
    workdir, _, _ = grid
    folder = run_dir(workdir, "umap", 1) / "manifold"
    shapes = {split: np.load(folder / f"{split}.npy").shape for split in ("train", "test", "all")}
    assert shapes == {"train": (320, 3), "test": (80, 3), "all": (400, 3)}
    logs = workdir / "logs" / "tiny" / "umap" / "seed1"
    log = (logs / "manifold.log").read_text()
    for step in ("UMAP 1/2: fitting 320 train codes", "UMAP 2/2: transforming 80 test codes", "UMAP done"):
        assert step in log
    log = (logs / "manifold_all.log").read_text()
    assert "UMAP: fitting all 400 codes" in log and "UMAP done" in log
    cluster_log = (workdir / "logs" / "tiny" / "umap" / "seed1" / "cluster.log").read_text()
    assert "Gaussian mixture" in cluster_log


def test_the_two_manifold_jobs_give_what_one_process_fitting_both_gives(grid):
    """The protocols' UMAPs run as two jobs side by side: each is the same seeded fit as when one
    process ran them one after the other (the train fit, its transform of test, then all)."""
    workdir, _, _ = grid
    cache_compiled_code(workdir / ".snakemake" / "numba-cache")  # compiled by the workflow's jobs
    codes = [np.load(model_dirs(workdir, 1)[0] / "embeddings" / f"{split}.npy") for split in ("train", "test")]
    options = dict(n_components=3, n_neighbors=10, min_dist=0.0, metric="euclidean", seed=1)
    reducer = fit_umap(codes[0], **options)
    expected = {"train": reducer.embedding_, "test": reducer.transform(codes[1]),
                "all": fit_umap(np.concatenate(codes), **options).embedding_}
    folder = run_dir(workdir, "umap", 1) / "manifold"
    for split, embedding in expected.items():
        assert np.load(folder / f"{split}.npy").tobytes() == embedding.astype(np.float32).tobytes(), split


def test_a_refining_experiment_reuses_the_clustering_it_refines(grid):
    workdir, planned, _ = grid
    assert planned["refine"] == len(SEEDS)
    assert not (run_dir(workdir, "self", 0) / "manifold").exists()
    assert not (run_dir(workdir, "self", 0) / "clusters" / "train.npy").exists()
    log = (workdir / "logs" / "tiny" / "self" / "seed0" / "refine.log").read_text()
    assert "classifier epoch 1/3" in log and "train: the refinement changed" in log
    # refine.move_blocks (on by default) looked, on umap's embedding, in each protocol's clustering
    for split in ("train", "all"):
        assert f"{split}: looking for misplaced blocks among 8 mixture components" in log
        assert re.search(rf"{split}: (nothing moved|moved \d+ images from cluster \d to \d)", log)
        # refine.recluster: umap's UMAP and mixture again, on the classifier's features
        assert f"{split}: clustering the classifier's features again (umap, then gmm)" in log
        assert re.search(rf"{split}: found again, \d+\.\d\d % of the classifier's assignments changed", log)
    metrics = json.loads((run_dir(workdir, "self", 0) / "metrics" / "metrics.json").read_text())
    before = json.loads((run_dir(workdir, "umap", 0) / "metrics" / "metrics.json").read_text())
    # the scores before refinement are umap's own; the refined ones are scored on refined/
    for split in ("train", "test", "all"):
        assert metrics["before"][split]["accuracy_hungarian"] == before[split]["accuracy_hungarian"]
    refined = np.load(run_dir(workdir, "self", 0) / "refined" / "all.npy")
    assert refined.shape == (400,) and refined.dtype == np.int64


def test_each_seed_trains_its_own_model(grid):
    workdir, _, _ = grid
    codes = [np.load(model_dirs(workdir, seed)[0] / "embeddings" / "test.npy") for seed in SEEDS]
    assert not np.array_equal(codes[0], codes[1])
    assert codes[0].dtype == np.float32


def test_the_models_train_in_the_precision_the_config_names(grid):
    workdir, _, _ = grid
    for seed in SEEDS:
        log = (model_dirs(workdir, seed, under="logs")[0] / "train.log").read_text()
        assert "precision: bfloat16 (model.precision: bfloat16)" in log
        settings = json.loads((model_dirs(workdir, seed)[0] / "settings.json").read_text())
        assert settings["model"]["precision"] == "bfloat16"


def test_the_summary_has_a_row_per_experiment_and_seed(grid):
    workdir, _, _ = grid
    summary = pd.read_csv(workdir / "results" / "tiny" / "summary.csv")
    assert summary[["experiment", "seed"]].values.tolist() == [
        [name, seed] for name in EXPERIMENTS for seed in SEEDS]
    assert summary.groupby("seed")["model"].nunique().tolist() == [1, 1]  # shared per seed
    assert summary.set_index("experiment").loc["umap", "manifold"].tolist() == ["umap", "umap"]
    assert summary.set_index("experiment").loc["umap", "clustering"].tolist() == ["gmm", "gmm"]
    for step in ("manifold", "manifold_all"):
        assert summary[f"seconds_{step}"].isna().tolist() == [True, True, False, False, False, False]
    assert summary["seconds_refine"].isna().tolist() == [True] * 4 + [False, False]
    assert summary.set_index("experiment").loc["self", "refine"].tolist() == ["selflabel"] * 2
    # a refined run keeps its clustering's scores beside its own
    assert summary["before_all_accuracy_hungarian"].isna().tolist() == [True] * 4 + [False, False]
    for name in EXPERIMENTS:
        for seed in SEEDS:
            metrics = json.loads((run_dir(workdir, name, seed) / "metrics" / "metrics.json").read_text())
            row = summary[(summary["experiment"] == name) & (summary["seed"] == seed)].iloc[0]
            assert row["all_accuracy_hungarian"] == pytest.approx(metrics["all"]["accuracy_hungarian"], rel=1e-5)
            assert row["test_nmi"] == pytest.approx(metrics["test"]["nmi"], rel=1e-5)


def test_figures_are_drawn_for_each_experiments_first_seed_and_the_comparison(grid):
    workdir, _, _ = grid
    for name in EXPERIMENTS:
        assert (run_dir(workdir, name, SEEDS[0]) / "figures" / "embedding_map.png").exists()
        assert not (run_dir(workdir, name, SEEDS[1]) / "figures").exists()
    assert (run_dir(workdir, "self", SEEDS[0]) / "figures" / "refinement.png").exists()
    assert not (run_dir(workdir, "umap", SEEDS[0]) / "figures" / "refinement.png").exists()
    assert (workdir / "results" / "tiny" / "comparison.png").read_bytes()[:4] == b"\x89PNG"


def test_run_selects_the_experiments_the_default_target_makes(grid):
    workdir, _, _ = grid
    planned = planned_rules(workdir, "--config", "run=[umap]", "seeds=[0]")
    # its outputs are all there: only the summary (now of one experiment and seed) is redone
    assert set(planned) == {"summary", "plot_comparison", "all"}


def test_the_refinement_run_again_writes_the_same_bytes(grid, tmp_path):
    # self is the shipped best experiment's recipe (block moving, self-labelling, recluster) on a
    # bfloat16 model: the same seed on the same machine must give the same assignments, through
    # the real step on 2 threads.
    workdir, _, _ = grid
    again = tmp_path / "again"
    shutil.copytree(workdir, again, symlinks=True)
    outputs = sorted((run_dir(again, "self", 0) / "refined").iterdir())
    first = [(path.read_bytes(), path.stat().st_mtime_ns) for path in outputs]
    # targets last: the options before them take lists
    snakemake(again, "--forcerun", "refine", "--cores", "2", *[str(path.relative_to(again)) for path in outputs])
    for path, (content, stamp) in zip(outputs, first):
        assert path.stat().st_mtime_ns > stamp, path  # it ran again
        assert path.read_bytes() == content, path
