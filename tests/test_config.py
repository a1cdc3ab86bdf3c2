"""The config schema stops a bad run before any job starts, naming the key."""

import pytest
import yaml

from conftest import REPO, planned_rules, snakemake, tiny_config, write_config


def test_the_shipped_config_is_valid_and_plans_the_whole_pipeline(tmp_path):
    (tmp_path / "config.yaml").write_text((REPO / "config.yaml").read_text())
    planned = planned_rules(tmp_path)
    for rule in ("download", "preprocess", "train", "embed", "cluster", "decode_centroids", "evaluate",
                 "plot_embedding_map", "all"):
        assert planned[rule] == 1


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
    ],
)
def test_a_bad_value_stops_the_run_before_any_job_and_names_the_key(
    tmp_path, tiny_mirror, section, values, key, expected
):
    _, files = tiny_mirror
    write_config(tmp_path, tiny_config(files, ["unused"], **{section: values}))
    result = snakemake(tmp_path, "--cores", "1", check=False)
    assert result.returncode != 0
    output = result.stdout + result.stderr
    assert key in output and expected in output
    assert not (tmp_path / "results").exists()


def test_defaults_fill_in_keys_left_out(tiny_mirror):
    from snakemake.utils import validate

    _, files = tiny_mirror
    config = tiny_config(files, ["unused"])
    del config["clustering"], config["figures"], config["download"]
    config["model"] = {"epochs": 3}
    validate(config, str(REPO / "schemas" / "config.schema.yaml"))
    assert config["clustering"] == {"n_clusters": 10, "n_init": 20, "max_iter": 300, "normalize": True}
    assert config["model"]["epochs"] == 3
    assert config["model"]["sparsity"]["kind"] == "l1"
    assert config["model"]["hidden_units"] == [500, 500, 1000]
    assert config["download"]["timeout"] == 15


def test_the_schema_defaults_match_the_shipped_config():
    from snakemake.utils import validate

    shipped = yaml.safe_load((REPO / "config.yaml").read_text())
    minimal = {"dataset": shipped["dataset"]}
    validate(minimal, str(REPO / "schemas" / "config.schema.yaml"))
    assert minimal == shipped
