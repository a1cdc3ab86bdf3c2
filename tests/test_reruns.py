"""Reruns recompute only what changed, and the output cache serves a second workdir."""

import os
import shutil
from pathlib import Path

import pytest
import yaml

from conftest import REPO, planned_rules, serve_folder, snakemake, tiny_config, write_config

from saepipe.plan import FIGURES

PLOTS = {f"plot_{figure}" for figure in FIGURES}
SUMMARY = {"summary", "plot_comparison", "all"}
AFTER_CLUSTER = {"cluster", "decode_centroids", "evaluate", "assignments", "plot_centroids",
                 "plot_confusion_matrix", "plot_embedding_map", "plot_cluster_members", *SUMMARY}
AFTER_TRAIN = {"train", "embed", *AFTER_CLUSTER, *PLOTS}
AFTER_PREPROCESS = {"preprocess", *AFTER_TRAIN}


def copy_workflow(dest: Path) -> Path:
    """A copy of the workflow's own files (not its outputs or environment), to edit code in."""
    ignore = shutil.ignore_patterns(".venv", ".git", "results", "resources", ".snakemake", "logs",
                                    "benchmarks", "__pycache__", ".pytest_cache")
    shutil.copytree(REPO, dest, ignore=ignore)
    return dest


@pytest.fixture(scope="module")
def workflow_copy(tmp_path_factory):
    return copy_workflow(tmp_path_factory.mktemp("workflow-copy") / "repo")


@pytest.fixture(scope="module")
def done(tmp_path_factory, tiny_mirror, http_mirror, workflow_copy):
    """A workdir where the whole workflow (run from the copy) has finished."""
    workdir = tmp_path_factory.mktemp("reruns")
    _, files = tiny_mirror
    write_config(workdir, tiny_config(files, [http_mirror]))
    snakemake(workdir, "--cores", "2", snakefile=workflow_copy / "Snakefile")
    return workdir


def plan(workdir, workflow_copy, *args):
    return set(planned_rules(workdir, *args, snakefile=workflow_copy / "Snakefile"))


def test_nothing_changed_plans_no_job(done, workflow_copy):
    assert plan(done, workflow_copy) == set()


@pytest.mark.parametrize(
    "override, expected",
    [
        ('clustering={"n_init": 3}', AFTER_CLUSTER),
        ('clustering={"n_clusters": 3}', AFTER_CLUSTER),
        ('model={"sparsity": {"weight": 0.001}}', AFTER_TRAIN),
        ('model={"epochs": 3}', AFTER_TRAIN),
        ('preprocess={"validation_fraction": 0.2}', AFTER_PREPROCESS),
        ("seeds=[1]", AFTER_TRAIN),
    ],
)
def test_a_changed_setting_plans_exactly_its_step_and_those_after(done, workflow_copy, override, expected):
    assert plan(done, workflow_copy, "--config", override) == expected


def test_config_overrides_and_config_file_edits_plan_the_same(done, workflow_copy):
    original = (done / "config.yaml").read_text()
    by_override = plan(done, workflow_copy, "--config", 'clustering={"n_init": 3}')
    edited = yaml.safe_load(original)
    edited["clustering"]["n_init"] = 3
    try:
        # sorted keys: a reordered config.yaml must not count as a change either
        (done / "config.yaml").write_text(yaml.safe_dump(edited, sort_keys=True))
        by_edit = plan(done, workflow_copy)
    finally:
        (done / "config.yaml").write_text(original)
    assert by_edit == by_override == AFTER_CLUSTER


@pytest.mark.parametrize(
    "path, expected",
    [
        ("scripts/saepipe/cluster.py", AFTER_CLUSTER),
        ("scripts/cluster.py", AFTER_CLUSTER),
        ("scripts/saepipe/model.py", AFTER_TRAIN),
        ("scripts/saepipe/idx.py", AFTER_PREPROCESS),
    ],
)
def test_a_changed_step_code_plans_that_step_and_those_after(done, workflow_copy, path, expected):
    source = workflow_copy / path
    original = source.read_text()
    try:
        source.write_text(original + "\n# edited\n")
        assert plan(done, workflow_copy) == expected
    finally:
        source.write_text(original)
        # back to the old content, but newer than the outputs: restore the old mtime too
        stamp = (done / "results" / "tiny" / "raw").stat().st_mtime - 60
        os.utime(source, (stamp, stamp))


def test_an_experiment_that_changes_only_the_clustering_reuses_the_trained_model(done, workflow_copy):
    override = 'experiments={"default": {}, "gmm": {"clustering": {"method": "gmm", "normalize": false}}}'
    planned = planned_rules(done, "--config", override, snakefile=workflow_copy / "Snakefile")
    assert "train" not in planned and "embed" not in planned
    # its own clustering, metrics and figures; the summary and comparison gain its row
    assert planned["cluster"] == planned["evaluate"] == 1
    assert set(planned) == AFTER_CLUSTER | {"plot_training_curves", "plot_reconstructions", "plot_code_activations"}


def test_a_second_workdir_takes_download_and_preprocess_from_the_cache(tmp_path, tiny_mirror):
    _, files = tiny_mirror
    cache = tmp_path / "cache"
    cache.mkdir()
    env = {"SNAKEMAKE_OUTPUT_CACHE": str(cache)}
    first, second = tmp_path / "first", tmp_path / "second"
    with serve_folder(tiny_mirror[0]) as url:
        first.mkdir()
        write_config(first, tiny_config(files, [url]))
        snakemake(first, "--cores", "2", "preprocess", "--cache", env=env)
    # the mirror is gone: the second workdir can only get the files from the cache
    second.mkdir()
    write_config(second, tiny_config(files, [url]))
    result = snakemake(second, "--cores", "2", "preprocess", "--cache", env=env)
    output = result.stdout + result.stderr
    # nothing ran: the logs Snakemake creates stay empty, and every output came from the cache
    for rule in ("download", "preprocess"):
        assert (second / "logs" / "tiny" / f"{rule}.log").read_text() == ""
    for path in ["raw/" + entry["name"] for entry in files.values()] + ["data/train.npz", "data/test.npz"]:
        assert f"output file results/tiny/{path} from cache" in output
    for name in ("train.npz", "test.npz"):
        assert (second / "results" / "tiny" / "data" / name).read_bytes() == \
            (first / "results" / "tiny" / "data" / name).read_bytes()
