"""The config schema stops a bad run before any job starts, naming the key."""

import shutil

import numpy as np
import pytest
import yaml

from conftest import REPO, planned_rules, snakemake, tiny_config, write_config
from saepipe.idx import md5_of_content, read_idx

FASHION = REPO / "config" / "fashion.yaml"
BFLOAT16 = REPO / "config" / "bfloat16.yaml"
LONGER = REPO / "config" / "longer-training.yaml"


def test_the_shipped_config_is_valid_and_plans_every_experiment_and_seed(tmp_path):
    shipped = yaml.safe_load((REPO / "config.yaml").read_text())
    (tmp_path / "config.yaml").write_text((REPO / "config.yaml").read_text())
    planned = planned_rules(tmp_path)
    seeds = len(shipped["seeds"])
    runs = len(shipped["run"]) * seeds
    refining = [name for name in shipped["run"]
                if shipped["experiments"][name].get("refine", {}).get("method") == "selflabel"]
    # each refining experiment refines another's clustering (n2d-self and n2d-recluster: n2d's),
    # so it trains, embeds, maps and clusters nothing of its own
    assert refining == ["n2d-self", "n2d-recluster"]
    own = [name for name in shipped["run"] if name not in refining]
    with_umap = [name for name in own
                 if shipped["experiments"][name].get("manifold", {}).get("method") == "umap"]
    assert planned["train"] == planned["embed"] == len(own) * seeds  # the others share no model
    assert planned["cluster"] == len(own) * seeds
    assert planned["evaluate"] == runs
    assert planned["refine"] == len(refining) * seeds
    assert planned["manifold"] == planned["manifold_all"] == len(with_umap) * seeds
    # figures for each experiment's first seed
    assert planned["plot_embedding_map"] == planned["decode_centroids"] == len(shipped["run"])
    for rule in ("download", "preprocess", "summary", "plot_comparison", "all"):
        assert planned[rule] == 1
    # config/fashion.yaml changes the dataset alone: the same jobs, written under its own name
    assert planned_rules(tmp_path, configfile=FASHION) == planned
    listed = snakemake(tmp_path, "-n", configfile=FASHION).stdout
    assert "results/fashion-mnist/summary.csv" in listed and "results/mnist/" not in listed


# config/bfloat16.yaml changes every experiment's model (default's, notebook's, n2d's);
# config/longer-training.yaml n2d's alone, which n2d-self and n2d-recluster still share
@pytest.mark.parametrize("overlay, moved", [(BFLOAT16, 3), (LONGER, 1)], ids=["bfloat16", "longer-training"])
def test_an_overlay_plans_the_same_jobs_with_its_own_models(tmp_path, overlay, moved):
    (tmp_path / "config.yaml").write_text((REPO / "config.yaml").read_text())
    models = lambda listed: {line.split("/models/")[1].split("/")[0] for line in listed.splitlines()  # noqa: E731
                             if "/models/" in line and "autoencoder.keras" in line}
    plain = models(snakemake(tmp_path, "-n").stdout)
    overlaid = models(snakemake(tmp_path, "-n", configfile=overlay).stdout)
    assert planned_rules(tmp_path, configfile=overlay) == planned_rules(tmp_path)
    assert len(plain) == len(overlaid) == 3
    assert len(overlaid - plain) == len(plain - overlaid) == moved


@pytest.mark.parametrize("configfile", [REPO / "config.yaml", FASHION], ids=["mnist", "fashion-mnist"])
def test_the_shipped_copy_holds_each_configs_files_and_classes(configfile):
    """The last mirror of each shipped dataset is the repo's own copy: its files have the MD5s the
    config names, and their labels are the config's classes."""
    dataset = yaml.safe_load(configfile.read_text())["dataset"]
    copy = REPO / dataset["mirrors"][-1]
    for file in dataset["files"].values():
        assert md5_of_content(copy / file["name"]) == file["md5"], file["name"]
    for key in ("train_labels", "test_labels"):
        labels = read_idx(copy / dataset["files"][key]["name"])
        assert np.unique(labels).tolist() == list(range(len(dataset["class_names"])))


@pytest.mark.parametrize(
    "section, values, key, expected",
    [
        ("model", {"epochs": -1}, "epochs", "minimum"),
        ("model", {"epochs": "ten"}, "epochs", "not of type 'integer'"),
        ("clustering", {"n_clusters": 1}, "n_clusters", "minimum"),
        ("clustering", {"n_cluster": 5}, "n_cluster", "Additional properties"),
        ("model", {"sparsity": {"kind": "l3"}}, "kind", "is not one of"),
        ("model", {"sparsity": {"weight": -0.1}}, "weight", "minimum"),
        ("figures", {"map_method": "umap"}, "map_method", "is not one of"),
        ("refine", {"method": "dec"}, "method", "is not one of"),
        ("refine", {"confident_share": 0}, "confident_share", "less than or equal to the minimum"),
        ("refine", {"move_blocks": {"neighbors": 0}}, "neighbors", "minimum"),
    ],
)
def test_the_schema_refuses_a_bad_value_naming_the_key(section, values, key, expected):
    from snakemake.exceptions import WorkflowError
    from snakemake.utils import validate

    files = yaml.safe_load((REPO / "config.yaml").read_text())["dataset"]["files"]
    config = tiny_config(files, ["unused"], **{section: values})
    with pytest.raises(WorkflowError) as err:
        validate(config, str(REPO / "schemas" / "config.schema.yaml"))
    assert key in str(err.value) and expected in str(err.value)


def test_a_bad_value_stops_the_run_before_any_job(tmp_path, tiny_mirror):
    _, files = tiny_mirror
    write_config(tmp_path, tiny_config(files, ["unused"], clustering={"n_cluster": 5}))
    result = snakemake(tmp_path, "--cores", "1", check=False)
    assert result.returncode != 0
    assert "Additional properties are not allowed ('n_cluster' was unexpected)" in result.stdout + result.stderr
    assert not (tmp_path / "results").exists()


def test_defaults_fill_in_keys_left_out(tiny_mirror):
    from snakemake.utils import validate

    _, files = tiny_mirror
    config = tiny_config(files, ["unused"])
    del config["clustering"], config["figures"], config["download"]
    config["model"] = {"epochs": 3}
    validate(config, str(REPO / "schemas" / "config.schema.yaml"))
    assert config["clustering"] == {"method": "kmeans", "covariance_type": "full", "n_clusters": 10,
                                    "k_range": [2, 30], "k_strength": 0.8, "n_init": 20, "max_iter": 300,
                                    "normalize": True}
    assert config["manifold"]["method"] == "none"
    assert config["refine"]["method"] == "none" and config["refine"]["augment"]["shift"] == 0.1
    assert config["experiments"] == {"default": {}} and config["seeds"] == [0]
    assert config["model"]["epochs"] == 3
    assert config["model"]["sparsity"]["kind"] == "l1"
    assert config["model"]["hidden_units"] == [500, 500, 1000]
    assert config["download"]["timeout"] == 15


def test_the_schema_defaults_match_the_shipped_config():
    """Every setting's default is the shipped value; only what runs differs: the schema's default
    is one experiment with one seed, the shipped config compares three over three seeds."""
    from snakemake.utils import validate

    shipped = yaml.safe_load((REPO / "config.yaml").read_text())
    minimal = {"dataset": shipped["dataset"]}
    validate(minimal, str(REPO / "schemas" / "config.schema.yaml"))
    what_runs = ("seeds", "experiments", "run")
    assert {k: v for k, v in minimal.items() if k not in what_runs} == \
        {k: v for k, v in shipped.items() if k not in what_runs}
    assert shipped["experiments"]["default"] == {}


def test_a_bad_experiment_stops_the_run_naming_it(tmp_path, tiny_mirror):
    """In-process, tests/test_plan.py checks each kind of bad experiment; here, that Snakemake
    stops with the message before any job."""
    _, files = tiny_mirror
    config = tiny_config(files, ["unused"], experiments={"n2d": {"clustering": {"n_cluster": 3}}})
    write_config(tmp_path, config)
    result = snakemake(tmp_path, "--cores", "1", check=False)
    assert result.returncode != 0
    assert "config: experiments.n2d:" in result.stdout + result.stderr
    assert not (tmp_path / "results").exists()
