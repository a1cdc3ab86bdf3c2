"""clustering.n_clusters auto through the real workflow, on a tiny .npz dataset: the number of
clusters chosen per protocol from the clustering's own points, and everything downstream
(clustering, refinement, metrics, figures, assignments, summary) following it. Then each bad
k_range: one line naming the key, before any job."""

import json

import numpy as np
import pandas as pd
import pytest

import conftest
from conftest import planned_rules, run_dir, snakemake, write_config

UMAP = {"method": "umap", "n_components": 3, "n_neighbors": 10}
AUTO = {"method": "gmm", "normalize": False, "n_init": 2, "n_clusters": "auto", "k_range": [2, 6]}
EXPERIMENTS = {
    "auto": {"manifold": UMAP, "clustering": AUTO},
    # refines auto's clustering, with the k auto chose: no second choice, UMAP or clustering
    "auto-self": {"manifold": UMAP, "clustering": AUTO,
                  "refine": {"method": "selflabel", "epochs": 2, "batch_size": 32, "recluster": True}},
}
N_IMAGES = 300


def write_npz(path, n: int, shape=(12, 12)):
    """Labelled images of four kinds of bar, as an .npz archive."""
    labels = conftest.balanced_labels(n, 5)
    np.savez(path, x=conftest.class_images(labels, shape, 5), y=labels)
    return path


def npz_config(npz, **overrides) -> dict:
    config = {
        "seeds": [0],
        "dataset": {"name": "bars", "format": "npz", "train": str(npz)},
        "model": {"hidden_units": [32, 16], "embedding_dim": 4, "epochs": 2, "batch_size": 32,
                  "early_stopping_patience": 0},
        "figures": {"n_examples": 4, "map_method": "pca", "map_points": 40},
        "experiments": EXPERIMENTS,
    }
    config.update(overrides)
    return config


@pytest.fixture(scope="module")
def auto_run(tmp_path_factory, compiled_umap):
    workdir = tmp_path_factory.mktemp("unknown-k")
    conftest.with_compiled_umap(workdir, compiled_umap)
    write_config(workdir, npz_config(write_npz(workdir / "bars.npz", N_IMAGES)))
    planned = planned_rules(workdir)
    snakemake(workdir, "--cores", "2")
    return workdir, planned


def chosen(workdir) -> dict:
    return json.loads((run_dir(workdir, "auto", dataset="bars") / "clusters" / "k.json").read_text())


def test_k_is_chosen_once_per_run_and_shared_by_the_refining_experiment(auto_run):
    workdir, planned = auto_run
    assert planned["choose_k"] == planned["cluster"] == planned["manifold"] == 1
    assert planned["plot_k_choice"] == 2  # each experiment's figure of the same choice
    table = pd.read_csv(run_dir(workdir, "auto", dataset="bars") / "clusters" / "k_choice.tsv", sep="\t")
    k = chosen(workdir)
    for protocol in ("train", "all"):
        rows = table[table.protocol == protocol]
        assert rows["k"].tolist() == [2, 3, 4, 5, 6]
        assert rows[["prediction_strength", "stability", "silhouette"]].notna().all().all()
        assert rows.loc[rows.chosen, "k"].tolist() == [k[protocol]]
    log = (workdir / "logs" / "bars" / "auto" / "seed0" / "choose_k.log").read_text()
    assert f"the train/test protocol: chose k = {k['train']}, " in log
    assert f"the all-images protocol: chose k = {k['all']}, " in log


def test_everything_downstream_follows_each_protocols_chosen_k(auto_run):
    workdir, _ = auto_run
    k = chosen(workdir)
    for experiment in EXPERIMENTS:
        run = run_dir(workdir, experiment, dataset="bars")
        folder = "refined" if experiment == "auto-self" else "clusters"
        clusters = {split: np.load(run / folder / f"{split}.npy") for split in ("train", "all")}
        assert clusters["train"].max() < k["train"] and clusters["all"].max() < k["all"]
        metrics = json.loads((run / "metrics" / "metrics.json").read_text())
        counts = [metrics[split]["n_clusters"] for split in ("train", "test", "all")]
        assert counts == [k["train"], k["train"], k["all"]]
        for split in ("train", "test", "all"):
            assert 0 <= metrics[split]["purity"] <= 1 and 0 <= metrics[split]["accuracy_hungarian"] <= 1
        assert len(metrics["test"]["confusion_matrix"][0]) == k["train"]
        assert (run / "figures" / "k_choice.png").stat().st_size > 5000
        assert set(pd.read_csv(run / "assignments.csv")["cluster"]) <= set(range(k["train"]))
    centres = np.load(run_dir(workdir, "auto", dataset="bars") / "clusters" / "centroid_images.npy")
    assert len(centres) == k["train"]
    summary = pd.read_csv(workdir / "results" / "bars" / "summary.csv")
    assert summary["train_n_clusters"].tolist() == [k["train"]] * 2
    assert summary["all_n_clusters"].tolist() == [k["all"]] * 2
    assert (summary["seconds_choose_k"] > 0).all()


def test_a_rerun_has_nothing_to_do_and_a_new_range_chooses_again(auto_run):
    workdir, _ = auto_run
    assert planned_rules(workdir) == {}
    wider = {name: {**settings, "clustering": {**AUTO, "k_range": [2, 7]}} for name, settings in EXPERIMENTS.items()}
    write_config(workdir, npz_config(workdir / "bars.npz", experiments=wider))
    try:
        again = planned_rules(workdir)
    finally:
        write_config(workdir, npz_config(workdir / "bars.npz"))
    # the same model and UMAP embedding, clustered again
    assert again["choose_k"] == again["cluster"] == 1 and "train" not in again and "manifold" not in again


@pytest.mark.parametrize("k_range, expected", [
    ([1, 6], "config: clustering.k_range is [1, 6]; its lower end must be at least 2"),
    ([6, 3], "config: clustering.k_range is [6, 3]; its lower end is above its upper end"),
    # 40 images, 8 drawn as the test split (test_fraction 0.2): 32 to fit
    ([2, 33], "clustering.k_range is [2, 33] but {npz} holds only 32 training images; choose an upper end "
              "of at most 32"),
])
def test_a_bad_k_range_stops_the_run_before_any_job_naming_the_key(tmp_path, k_range, expected):
    npz = write_npz(tmp_path / "few.npz", 40, shape=(8, 8))
    write_config(tmp_path, npz_config(npz, experiments={"auto": {}},
                                      clustering={"n_clusters": "auto", "k_range": k_range}))
    result = snakemake(tmp_path, "--cores", "1", check=False)
    console = result.stdout + result.stderr
    assert result.returncode != 0
    lines = [line for line in console.splitlines() if expected.format(npz=npz) in line]
    assert len(lines) == 1, console[-3000:]
    assert not (tmp_path / "results").exists()
