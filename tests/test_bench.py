"""bench/benchmark.py's own arithmetic (the benchmark itself runs the workflow on real MNIST), and
bench/folder_input.py run end to end on tiny IDX files."""

import importlib.util
import json
import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

REPO = Path(__file__).resolve().parents[1]
SPEC = importlib.util.spec_from_file_location("benchmark", REPO / "bench" / "benchmark.py")
benchmark = importlib.util.module_from_spec(SPEC)
SPEC.loader.exec_module(benchmark)


@pytest.mark.parametrize(("cores", "cpus", "expected"), [(4, 2, 2), (2, 8, 2), (8, 8, 4), (1, 1, 1)])
def test_the_peak_is_measured_with_the_threads_a_train_job_gets(monkeypatch, cores, cpus, expected):
    # --cores 4 on a 2-core machine: train.py runs 2 threads, so the peak per thread is the 2-thread one
    monkeypatch.setattr(benchmark.os, "cpu_count", lambda: cpus)
    assert benchmark.train_job_threads(cores) == expected


@pytest.mark.parametrize(("cores", "train_threads", "cpus", "expected"), [(4, 2, 2, 2), (4, 2, 8, 2), (4, 3, 8, 3)])
def test_the_peak_follows_the_threads_given_to_train(monkeypatch, cores, train_threads, cpus, expected):
    monkeypatch.setattr(benchmark.os, "cpu_count", lambda: cpus)
    assert benchmark.train_job_threads(cores, train_threads) == expected


def test_train_threads_other_than_the_rules_are_passed_to_snakemake():
    assert benchmark.run_options(4, benchmark.TRAIN_THREADS) == ["--cores", "4"]
    assert benchmark.run_options(4, 2) == ["--cores", "4", "--set-threads", "train=2"]


FOLDER_SPEC = importlib.util.spec_from_file_location(
    "folder_input", REPO / "bench" / "folder_input.py")
folder_input = importlib.util.module_from_spec(FOLDER_SPEC)
FOLDER_SPEC.loader.exec_module(folder_input)


def write_fashion_named_idx(folder: Path) -> None:
    """Tiny images under Fashion-MNIST's file names: four of its classes, 12x12."""
    from conftest import balanced_labels, tiny_images, write_idx

    folder.mkdir()
    for split, n in (("train", 48), ("test", 16)):
        labels = balanced_labels(n, seed=n)
        write_idx(folder / folder_input.IDX_FILES[f"{split}_images"], tiny_images(labels, seed=n))
        write_idx(folder / folder_input.IDX_FILES[f"{split}_labels"], labels)


def test_the_folder_benchmark_reads_back_the_idx_arrays_and_notices_a_difference(tmp_path):
    write_fashion_named_idx(tmp_path / "idx")
    result = subprocess.run([sys.executable, str(folder_input.__file__), "--idx", str(tmp_path / "idx"),
                             "--cores", "1", "--workdir", str(tmp_path / "work")], capture_output=True, text=True)
    assert result.returncode == 0, result.stderr[-3000:]
    assert "64 PNG files" in result.stdout
    assert result.stdout.count("same bytes as from IDX") == 6, result.stdout

    # the class folders sort differently from the label order: compare maps them back
    assert sorted(p.name for p in (tmp_path / "work" / "fashion-png" / "train").iterdir()) == [
        "Dress", "Pullover", "T-shirt_top", "Trouser"]
    data = tmp_path / "work" / "folder" / "results" / "fashion-folder" / "data"
    with np.load(data / "train.npz") as archive:
        arrays = dict(archive)
    arrays["x"] = arrays["x"].copy()
    arrays["x"][0, 0] = 255 - arrays["x"][0, 0]
    np.savez(data / "train.npz", **arrays)
    same = folder_input.compare(tmp_path / "work" / "idx" / "results" / "fashion-idx" / "data", data,
                                tmp_path / "work" / "fashion-png" / "train")
    assert same["train x"] is False and same["test x"] and same["train y"]


def test_the_results_page_gives_each_experiments_mean_std_and_every_seed(tmp_path):
    spec = importlib.util.spec_from_file_location(
        "results_page", REPO / "bench" / "results_page.py")
    results_page = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(results_page)
    runs = [{"experiment": name, "seed": seed, "test_accuracy_majority": acc, "all_accuracy_hungarian": acc - 0.01,
             "test_nmi": None, "seconds_train": 70.0 + seed, "seconds_refine": 30.0 if name == "a" else None,
             "seconds_total": 100.0 + seed}
            for name, accs in (("b", [0.9, 0.8]), ("a", [0.5, 0.7])) for seed, acc in enumerate(accs)]
    record = {"dataset": "mnist", "date": "2026-12-04", "command": "python bench/benchmark.py --seeds 0 1",
              "machine": {"cpu": "Some CPU", "cores": 2, "flags": "AVX2"}, "versions": {"TensorFlow": "2.21.0"},
              "runs": runs, "timings": {"whole run s": 321.4}}
    (tmp_path / "mnist.json").write_text(json.dumps(record))
    page = results_page.page(results_page.load_records(tmp_path))
    assert "## mnist: b, a; seeds 0, 1" in page  # the record's order
    assert "`python bench/benchmark.py --seeds 0 1` on 2026-12-04: Some CPU, 2 cores, AVX2" in page
    assert "TensorFlow 2.21.0" in page and "321 s" in page
    assert "| `b` | 0.8500 (0.0500) | 0.8400 (0.0500) | 100-101 s |" in page
    assert "test NMI" not in page  # no run has it
    assert "- `a`: test accuracy (majority map) 0.5000, 0.7000; all images: Hungarian accuracy 0.4900, 0.6900" in page
    # each seed's step times, a column for each step some run timed
    assert "| experiment | seed | train | refine | total |" in page
    assert "| `b` | 1 | 71 |  | 101 |" in page and "| `a` | 0 | 70 | 30 | 100 |" in page
    # a record of a config laid over config.yaml names it in its heading
    record["command"] = "python bench/benchmark.py --configfile config/bfloat16.yaml --seeds 0 1"
    (tmp_path / "mnist.json").write_text(json.dumps(record))
    page = results_page.page(results_page.load_records(tmp_path))
    assert "## mnist (`--configfile config/bfloat16.yaml`): b, a; seeds 0, 1" in page
    record["command"] = "python bench/benchmark.py --configfile config/fashion.yaml config/bfloat16.yaml --seeds 0"
    (tmp_path / "mnist.json").write_text(json.dumps(record))
    page = results_page.page(results_page.load_records(tmp_path))
    assert "## mnist (`--configfile config/fashion.yaml config/bfloat16.yaml`): b, a" in page


def test_the_shipped_results_page_is_what_the_records_give():
    result = subprocess.run([sys.executable, str(REPO / "bench" / "results_page.py"),
                             "--check"], capture_output=True, text=True)
    assert result.returncode == 0, result.stderr


def test_the_fashion_config_benchmarks_fashion_mnist_from_its_shipped_copy():
    config = benchmark.bench_config([REPO / "config" / "fashion.yaml"], ["n2d"], [0, 1], None)
    assert config["dataset"]["name"] == "fashion-mnist" and config["run"] == ["n2d"] and config["seeds"] == [0, 1]
    assert config["dataset"]["mirrors"] == [str(REPO / "resources" / "fashion-mnist")]
    assert config["experiments"]["n2d"]["manifold"]["method"] == "umap"  # the experiments stay the shipped ones
    assert benchmark.bench_config([], ["default"], [0], "/data/mnist")["dataset"]["mirrors"] == ["/data/mnist"]


def test_config_files_are_laid_over_the_shipped_config_in_order(tmp_path):
    first, second = tmp_path / "first.yaml", tmp_path / "second.yaml"
    first.write_text("model: {epochs: 7, batch_size: 64}\n")
    second.write_text("model: {epochs: 9}\n")
    model = benchmark.bench_config([first, second], ["default"], [0], None)["model"]
    assert model["epochs"] == 9 and model["batch_size"] == 64 and model["optimizer"] == "adam"


def test_every_figure_the_readme_gives_is_on_the_results_page():
    """The README's scores (0.dddd) and times (N s) are measured ones: bench/ writes each to
    docs/results.md, so a figure typed by hand, or left from an older record, fails here."""
    readme = (REPO / "README.md").read_text()
    page = (REPO / "docs" / "results.md").read_text()
    figures = re.findall(r"\b0\.\d{4}\b|\b\d+ s\b", readme)
    assert figures, "the README gives no measured figure"
    assert [figure for figure in figures if figure not in page] == []


def test_the_record_writes_a_step_a_run_did_not_have_as_null():
    summary = pd.DataFrame({"experiment": ["a", "b"], "seed": [0, 0], "seconds_refine": [30.5, float("nan")]})
    records = benchmark.run_records(summary)
    assert records == [{"experiment": "a", "seed": 0, "seconds_refine": 30.5},
                       {"experiment": "b", "seed": 0, "seconds_refine": None}]
    assert "NaN" not in json.dumps(records)
