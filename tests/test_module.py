"""Imported into another workflow with `module`: a consumer in a folder of its own runs the README's
snippet, unchanged, on the tiny dataset, with and without a `prefix:`."""

import json
import time
from pathlib import Path

import pandas as pd
import pytest

from conftest import REPO, planned_rules, snakemake, tiny_config, write_config

from saepipe.plan import FIGURES


def readme_snippet() -> str:
    """The consumer Snakefile that README.md's "Use it from your own workflow" gives."""
    section = (REPO / "README.md").read_text().split("## Use it from your own workflow", 1)[1]
    return section.split("```python\n", 1)[1].split("```", 1)[0]


def make_consumer(folder: Path, files: dict, mirror: str, prefix: str | None = None) -> Path:
    """A consumer project: the snippet as its Snakefile, its own config/config.yaml, and this
    repository beside it as `mnist-sae-pipeline/` (a link, as a clone or a submodule would be)."""
    folder.mkdir(parents=True)
    (folder / "mnist-sae-pipeline").symlink_to(REPO, target_is_directory=True)
    snippet = readme_snippet()
    if prefix is not None:
        module_config = "    config:\n        config\n"
        assert module_config in snippet
        snippet = snippet.replace(module_config, f'{module_config}    prefix:\n        "{prefix}"\n', 1)
    (folder / "Snakefile").write_text(snippet)
    (folder / "config").mkdir()
    write_config(folder / "config", tiny_config(files, [mirror]))
    return folder


def run_consumer(folder: Path, *args: str, **kwargs):
    return snakemake(folder, *args, snakefile=folder / "Snakefile",
                     configfile=folder / "config" / "config.yaml", **kwargs)


def written_in_repo_since(started: float) -> list[Path]:
    """Outputs the workflow would have written into its own folder, had it used that folder."""
    return [path for name in ("results", "logs", "benchmarks") for path in (REPO / name).rglob("*")
            if path.is_file() and path.stat().st_mtime >= started]


@pytest.fixture(scope="module")
def consumers(tmp_path_factory, tiny_mirror):
    """Two consumer projects, without and with a prefix, each run to the end."""
    folder, files = tiny_mirror
    root = tmp_path_factory.mktemp("consumers")
    started = time.time() - 1
    projects = {}
    for prefix in (None, "sae"):
        project = make_consumer(root / (prefix or "plain"), files, str(folder), prefix)
        planned = planned_rules(project, snakefile=project / "Snakefile",
                                configfile=project / "config" / "config.yaml")
        result = run_consumer(project, "--cores", "2")
        projects[prefix] = (project, planned, result.stdout + result.stderr)
    return projects, started


def outputs_root(project: Path, prefix: str | None) -> Path:
    return project / prefix if prefix else project


def test_the_consumer_plans_the_whole_pipeline_under_prefixed_rule_names(consumers):
    projects, _ = consumers
    _, planned, output = projects[None]
    for rule in ("download", "preprocess", "train", "embed", "cluster", "evaluate", "summary",
                 *[f"plot_{figure}" for figure in FIGURES], "plot_comparison"):
        assert planned.get(f"sae_{rule}") == 1, (rule, planned)
    # every directive that names rules (localrule, groups) holds under the consumer's names
    assert "not present in the Snakefile" not in output


@pytest.mark.parametrize("prefix", [None, "sae"])
def test_every_output_lands_in_the_consumer_folder(consumers, prefix):
    projects, started = consumers
    project, _, _ = projects[prefix]
    root = outputs_root(project, prefix)
    run = root / "results" / "tiny" / "default" / "seed0"
    for figure in FIGURES:
        assert (run / "figures" / f"{figure}.png").stat().st_size > 2000, figure
    assert (root / "results" / "tiny" / "comparison.png").exists()
    for log in ("download", "preprocess", "summary", "default/seed0/cluster", "default/seed0/evaluate"):
        assert (root / "logs" / "tiny" / f"{log}.log").stat().st_size > 0, log
    assert list((root / "logs" / "tiny" / "models").glob("*/seed0/train.log"))
    assert list((root / "benchmarks" / "tiny" / "models").glob("*/seed0/train.tsv"))
    # nothing outside the prefix, and nothing in the imported workflow's own folder
    expected = {"Snakefile", "config", "mnist-sae-pipeline", ".snakemake", *([prefix] if prefix else [])}
    if prefix:
        assert {p.name for p in project.iterdir()} == expected
    else:
        assert {p.name for p in project.iterdir()} == expected | {"results", "logs", "benchmarks"}
    assert written_in_repo_since(started) == []


@pytest.mark.parametrize("prefix", [None, "sae"])
def test_the_consumer_summary_holds_the_run_metrics(consumers, prefix):
    projects, _ = consumers
    project, _, _ = projects[prefix]
    results = outputs_root(project, prefix) / "results" / "tiny"
    metrics = json.loads((results / "default" / "seed0" / "metrics" / "metrics.json").read_text())
    summary = pd.read_csv(results / "summary.csv")
    assert summary[["experiment", "seed"]].values.tolist() == [["default", 0]]
    row = summary.iloc[0]
    assert row["test_accuracy_majority"] == pytest.approx(metrics["test"]["accuracy_majority"], rel=1e-5)
    assert row["all_accuracy_hungarian"] == pytest.approx(metrics["all"]["accuracy_hungarian"], rel=1e-5)
    assert all(row[f"seconds_{step}"] > 0 for step in ("train", "embed", "cluster", "evaluate"))


@pytest.mark.parametrize("prefix", [None, "sae"])
def test_a_consumer_rerun_plans_nothing(consumers, prefix):
    projects, _ = consumers
    project, _, _ = projects[prefix]
    assert planned_rules(project, snakefile=project / "Snakefile",
                         configfile=project / "config" / "config.yaml") == {}


def test_the_consumer_report_holds_the_comparison_and_every_figure(consumers):
    projects, _ = consumers
    project, _, _ = projects["sae"]
    run_consumer(project, "--report", "report.html")
    html = (project / "report.html").read_text()
    for name in [*FIGURES, "metrics", "summary", "comparison"]:
        assert f"{name}." in html, name
    # the labels the report's table of results filters on
    assert '"labels": {"experiment": "default", "seed": "0", "figure": "training curves"}' in html
