"""bench/benchmark.py's own arithmetic (the benchmark itself runs the workflow on real MNIST)."""

import importlib.util
from pathlib import Path

import pytest

SPEC = importlib.util.spec_from_file_location("benchmark", Path(__file__).resolve().parents[1] / "bench" / "benchmark.py")
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
