"""End to end: real `snakemake` on the tiny dataset, served over HTTP on 127.0.0.1."""

import json
import subprocess
import sys

import numpy as np
import pandas as pd
import pytest

from conftest import (
    REPO,
    N_CLASSES,
    SHAPE,
    TINY_FILES,
    place_raw_files,
    planned_rules,
    run_dir,
    snakemake,
    the_model_dir,
    tiny_config,
    write_config,
)

from saepipe.plan import FIGURES  # noqa: E402


@pytest.fixture(scope="module")
def finished_run(tmp_path_factory, tiny_mirror, http_mirror):
    """One complete run of the workflow; the tests below inspect what it left."""
    workdir = tmp_path_factory.mktemp("workflow")
    _, files = tiny_mirror
    write_config(workdir, tiny_config(files, [http_mirror]))
    result = snakemake(workdir, "--cores", "2")
    return workdir, workdir / "results" / "tiny", result


def outputs(workdir):
    """The run's own folder and the folder of its model."""
    return run_dir(workdir), the_model_dir(workdir)


def test_raw_files_are_downloaded_from_the_http_mirror(finished_run, tiny_mirror, http_mirror):
    workdir, out, _ = finished_run
    folder, _ = tiny_mirror
    for name in TINY_FILES.values():
        assert (out / "raw" / name).read_bytes() == (folder / name).read_bytes()
    assert f"served by {http_mirror}" in (workdir / "logs" / "tiny" / "download.log").read_text()


def test_preprocessed_arrays_are_scaled_flat_and_split(finished_run):
    _, out, _ = finished_run
    with np.load(out / "data" / "train.npz") as train, np.load(out / "data" / "test.npz") as test:
        assert train["x"].shape == (320, SHAPE[0] * SHAPE[1]) and train["x"].dtype == np.float32
        assert test["x"].shape == (80, SHAPE[0] * SHAPE[1])
        assert 0.0 <= train["x"].min() and train["x"].max() <= 1.0
        assert train["is_validation"].sum() == 32
        assert tuple(train["image_shape"]) == SHAPE
        assert set(np.unique(train["y"])) == set(range(N_CLASSES))


def test_the_model_and_its_history_are_written(finished_run):
    workdir, _, _ = finished_run
    _, model = outputs(workdir)
    history = pd.read_csv(model / "history.csv")
    assert list(history["epoch"]) == [1, 2]
    assert {"loss", "val_loss"} <= set(history.columns)
    assert (model / "autoencoder.keras").stat().st_size > 1000
    settings = json.loads((model / "settings.json").read_text())
    assert settings["seed"] == 0 and settings["model"]["hidden_units"] == [32, 16]
    log = (the_model_dir(workdir, under="logs") / "train.log").read_text()
    assert "epoch 1/2" in log and "epoch 2/2" in log


def test_embeddings_and_clusters_have_one_row_per_image(finished_run):
    workdir, _, _ = finished_run
    out, model = outputs(workdir)
    assert np.load(model / "embeddings" / "train.npy").shape == (320, 4)
    assert np.load(model / "embeddings" / "test.npy").shape == (80, 4)
    assert np.load(out / "clusters" / "all.npy").shape == (400,)
    train_clusters = np.load(out / "clusters" / "train.npy")
    assert train_clusters.shape == (320,) and set(np.unique(train_clusters)) <= set(range(N_CLASSES))
    assert np.load(out / "clusters" / "test.npy").shape == (80,)
    assert np.load(out / "clusters" / "centroids.npy").shape == (N_CLASSES, 4)
    assert np.load(out / "clusters" / "centroid_images.npy").shape == (N_CLASSES, *SHAPE)


def test_metrics_are_complete_and_in_range(finished_run):
    workdir, _, _ = finished_run
    out, _ = outputs(workdir)
    metrics = json.loads((out / "metrics" / "metrics.json").read_text())
    for split in ("train", "test"):
        scores = metrics[split]
        for key in ("accuracy_majority", "accuracy_hungarian", "nmi"):
            assert 0.0 <= scores[key] <= 1.0
        assert -1.0 <= scores["ari"] <= 1.0
        assert 0.0 < scores["reconstruction_mse"] < 1.0
        # a majority map is never worse than a one-to-one map on the data it was fitted on
    assert metrics["train"]["accuracy_majority"] >= metrics["train"]["accuracy_hungarian"]
    assert 1 <= metrics["majority_distinct_labels"] <= N_CLASSES
    # the all-images protocol: fitted and scored on all 400 images
    assert metrics["all"]["n_samples"] == 400
    assert 0.0 <= metrics["all"]["accuracy_hungarian"] <= 1.0 and 0.0 <= metrics["all"]["nmi"] <= 1.0
    table = pd.read_csv(out / "metrics" / "metrics.tsv", sep="\t")
    assert list(table.columns) == ["split", "metric", "value"]
    assert len(table) == 2 * 6 + 4 + 1
    confusion = pd.read_csv(out / "metrics" / "confusion_matrix.tsv", sep="\t", index_col=0)
    assert confusion.shape == (N_CLASSES, N_CLASSES) and confusion.to_numpy().sum() == 80
    assert confusion.to_numpy().tolist() == metrics["test"]["confusion_matrix"]
    assert np.sum(metrics["train"]["confusion_matrix"]) == 320


def test_every_figure_is_a_png(finished_run):
    workdir, results, _ = finished_run
    out, _ = outputs(workdir)
    for path in [out / "figures" / f"{name}.png" for name in FIGURES] + [results / "comparison.png"]:
        data = path.read_bytes()
        assert data[:8] == b"\x89PNG\r\n\x1a\n" and len(data) > 2000, path


def test_the_summary_has_one_row_per_run_with_metrics_and_step_times(finished_run):
    workdir, results, _ = finished_run
    out, _ = outputs(workdir)
    summary = pd.read_csv(results / "summary.csv")
    metrics = json.loads((out / "metrics" / "metrics.json").read_text())
    assert summary[["experiment", "seed", "manifold", "clustering"]].values.tolist() == [
        ["default", 0, "none", "kmeans"]]
    row = summary.iloc[0]
    assert row["test_accuracy_majority"] == pytest.approx(metrics["test"]["accuracy_majority"], rel=1e-5)
    assert row["all_nmi"] == pytest.approx(metrics["all"]["nmi"], rel=1e-5)
    steps = [f"seconds_{step}" for step in ("train", "embed", "cluster", "evaluate")]
    assert all(row[step] > 0 for step in steps)
    assert row["seconds_total"] == pytest.approx(sum(row[step] for step in steps), rel=1e-4)


def test_every_rule_wrote_its_log_and_heavy_rules_a_benchmark(finished_run):
    workdir, _, _ = finished_run
    shared, model = workdir / "logs" / "tiny", the_model_dir(workdir, under="logs")
    run = run_dir(workdir, dataset="tiny").relative_to(workdir / "results")
    logs = [shared / "download.log", shared / "preprocess.log", shared / "summary.log",
            model / "train.log", model / "embed.log",
            *[workdir / "logs" / run / f"{rule}.log" for rule in ("cluster", "decode_centroids", "evaluate")]]
    for log in logs:
        assert log.stat().st_size > 0, log
    # download and preprocess are cached between workflows, which rules out a benchmark file
    benchmarks = [workdir / "benchmarks" / model.relative_to(workdir / "logs") / f"{rule}.tsv"
                  for rule in ("train", "embed")]
    benchmarks += [workdir / "benchmarks" / run / f"{rule}.tsv"
                   for rule in ("cluster", "decode_centroids", "evaluate", "plot_embedding_map")]
    for path in benchmarks:
        assert {"s", "max_rss"} <= set(pd.read_csv(path, sep="\t").columns), path


def test_no_temporary_file_is_left_behind(finished_run):
    _, out, _ = finished_run
    leftovers = [p for p in out.rglob("*") if ".tmp-" in p.name]
    assert leftovers == []


def test_a_second_run_has_nothing_to_do(finished_run):
    workdir, _, _ = finished_run
    result = snakemake(workdir, "-n", "--cores", "2")
    assert "Nothing to be done" in result.stdout + result.stderr
    assert planned_rules(workdir) == {}


def test_the_report_holds_the_figures_and_the_metrics(finished_run):
    workdir, _, _ = finished_run
    snakemake(workdir, "--report", "report.html")
    html = (workdir / "report.html").read_text()
    for name in FIGURES:
        assert f"{name}.png" in html
    for name in ("metrics.tsv", "summary.csv", "comparison.png"):
        assert name in html


def test_lint_is_clean(finished_run):
    workdir, _, _ = finished_run
    result = snakemake(workdir, "--lint", check=False)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "Congratulations, your workflow is in a good condition!" in result.stdout + result.stderr


def test_snakefile_and_rules_are_formatted_by_snakefmt():
    """The catalog's check: `snakefmt --check` on the Snakefile and rules/ changes nothing."""
    result = subprocess.run(
        [sys.executable, "-m", "snakefmt", "--check", "--diff", "Snakefile", "rules/"],
        cwd=REPO, capture_output=True, text=True, timeout=120,
    )
    assert result.returncode == 0, result.stdout + result.stderr


def test_one_step_can_be_targeted_by_name(tmp_path, tiny_mirror, http_mirror):
    _, files = tiny_mirror
    write_config(tmp_path, tiny_config(files, [http_mirror]))
    snakemake(tmp_path, "--cores", "2", "preprocess")
    assert (tmp_path / "results" / "tiny" / "data" / "train.npz").exists()
    assert not (tmp_path / "results" / "tiny" / "models").exists()


def test_hand_placed_raw_files_are_never_sent_to_the_network(tmp_path, tiny_mirror):
    folder, files = tiny_mirror
    place_raw_files(tmp_path, folder)
    write_config(tmp_path, tiny_config(files, ["http://127.0.0.1:9/unreachable/"]))
    planned = planned_rules(tmp_path)
    assert "download" not in planned and planned["preprocess"] == 1
    snakemake(tmp_path, "--cores", "2", "preprocess")
    assert not (tmp_path / "logs" / "tiny" / "download.log").exists()


def test_two_datasets_write_to_their_own_folders(tmp_path, tiny_mirror, http_mirror):
    _, files = tiny_mirror
    for name in ("tiny", "tiny2"):
        config = tiny_config(files, [http_mirror])
        config["dataset"]["name"] = name
        write_config(tmp_path, config)
        snakemake(tmp_path, "--cores", "2", "preprocess")
    assert (tmp_path / "results" / "tiny" / "data" / "train.npz").exists()
    assert (tmp_path / "results" / "tiny2" / "data" / "train.npz").exists()


def test_the_same_seed_gives_the_same_metrics_in_a_fresh_workdir(finished_run, tmp_path, tiny_mirror, http_mirror):
    workdir, _, _ = finished_run
    _, files = tiny_mirror
    write_config(tmp_path, tiny_config(files, [http_mirror]))
    snakemake(tmp_path, "--cores", "2", "--until", "evaluate")
    again = run_dir(tmp_path) / "metrics" / "metrics.json"
    assert again.read_bytes() == (run_dir(workdir) / "metrics" / "metrics.json").read_bytes()
    assert not (run_dir(tmp_path) / "figures").exists()


def test_tensorflow_start_up_chatter_goes_to_the_step_logs_not_the_console(tmp_path, tiny_mirror, http_mirror):
    """With TensorFlow's C++ logging at its most talkative, the console shows none of it (a user
    reads 'E0000 ... failed call to cuInit' as an error); the step's log keeps it."""
    _, files = tiny_mirror
    write_config(tmp_path, tiny_config(files, [http_mirror]))
    result = snakemake(tmp_path, "--cores", "2", "--until", "embed", env={"TF_CPP_MIN_LOG_LEVEL": "0"})
    console = result.stdout + result.stderr
    native = [line for line in console.splitlines()
              if line[:1] in "IWEF" and line[1:5].isdigit() or "absl::InitializeLog" in line]
    assert native == []
    assert "INFO saepipe.training: TensorFlow " in console  # the step's own lines still reach it
    for step in ("train", "embed"):
        log = (the_model_dir(tmp_path, under="logs") / f"{step}.log").read_text()
        assert "INFO saepipe.training: TensorFlow " in log
        assert any(line[:1] in "IWE" and line[1:5].isdigit() for line in log.splitlines()), log[:2000]
