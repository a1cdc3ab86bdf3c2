"""Real-data tier: the shipped config on the shipped copy of MNIST (about 10 minutes on 2 cores).

Skip it with `pytest -m "not realdata"`.
"""

import json

import pytest
import yaml

from conftest import REPO, planned_rules, snakemake, write_config

# KMeans on raw pixels reaches 0.59 test accuracy (majority map) on MNIST: the embeddings must beat it.
RAW_PIXEL_KMEANS_ACCURACY = 0.59


@pytest.mark.realdata
def test_the_default_workflow_on_real_mnist_beats_kmeans_on_raw_pixels(tmp_path):
    config = yaml.safe_load((REPO / "config.yaml").read_text())
    config["dataset"]["mirrors"] = [str(REPO / "resources" / "mnist")]  # never the internet in tests
    config["run"], config["seeds"] = ["default"], [0]  # the tuned recipe, one seed
    write_config(tmp_path, config)
    snakemake(tmp_path, "--cores", "2", timeout=1800)
    metrics = json.loads((tmp_path / "results" / "mnist" / "default" / "seed0" / "metrics" / "metrics.json").read_text())
    assert metrics["train"]["n_samples"] == 60000 and metrics["test"]["n_samples"] == 10000
    assert metrics["test"]["accuracy_majority"] > RAW_PIXEL_KMEANS_ACCURACY
    assert metrics["test"]["accuracy_hungarian"] > RAW_PIXEL_KMEANS_ACCURACY
    assert metrics["test"]["reconstruction_mse"] < 0.03
    assert metrics["all"]["n_samples"] == 70000 and metrics["all"]["accuracy_hungarian"] > RAW_PIXEL_KMEANS_ACCURACY
    assert planned_rules(tmp_path) == {}
