# Binds the workflow's decisions (scripts/saepipe/plan.py: experiments, model ids, runs, the
# output layout) to Snakemake: the validated config, wildcards, job groups and report entries.
# A rule's resources are what a cluster is asked for: mem_mb about twice the peak RSS measured on
# real MNIST, runtime in minutes with room for a slower node.

import functools
import os
import sys
from pathlib import Path

import yaml
from snakemake.common.configfile import load_configfile
from snakemake.exceptions import WorkflowError
from snakemake.utils import validate

# This workflow's own folder: imported as a module, `workflow.basedir` is the importer's.
WORKFLOW_DIR = Path(workflow.current_basedir).parent

# The library, for the decisions made before any job starts (the jobs import it themselves).
sys.path.insert(0, str(WORKFLOW_DIR / "scripts"))
from saepipe import plan, sources  # noqa: E402
from saepipe.plan import MODEL, RUN, canonical  # noqa: E402

SCHEMA = WORKFLOW_DIR / "schemas" / "config.schema.yaml"
SCHEMA_RULES = yaml.safe_load(SCHEMA.read_text())
# Cluster job groups (group_jobs): a model's training with its embedding, and one run's light
# steps (its figures of the model's branch too: the profile's group-components joins them).
MODEL_GROUP = "model-{model}-seed{seed}"
RUN_GROUP = "run-{experiment}-seed{seed}"


@functools.cache
def folder_digest(key):
    """The digest of a folder dataset's images, with a stat cache so start-up hashes only
    changed files; None when dataset.<key> is not given."""
    if not DATASET[key]:
        return None
    cache = Path(".snakemake", "saepipe", "image-hashes.tsv")
    try:
        return sources.folder_digest(DATASET[key], cache)
    except sources.DatasetError as err:
        raise WorkflowError(f"dataset.{key}: {err}") from None


# A dataset block in a --configfile replaces config.yaml's whole (plan.dataset_as_given).
config["dataset"] = plan.dataset_as_given(
    config["dataset"],
    [load_configfile(path) for path in workflow.config_settings.configfiles],
    dict(workflow.config_settings.config),
)
config.update(plan.typed_like_schema(config, SCHEMA_RULES))
validate(config, str(SCHEMA))
try:
    EXPERIMENTS = plan.resolve_experiments(
        config, SCHEMA_RULES, lambda full: validate(full, str(SCHEMA))
    )
except plan.ConfigError as err:
    raise WorkflowError(str(err)) from None
DATASET = plan.absolute_paths(config["dataset"])
try:
    CLASS_NAMES = sources.class_names(DATASET)
except sources.DatasetError as err:
    raise WorkflowError(f"config: {err}") from None
PLAN = plan.Plan(
    dataset=config["dataset"]["name"],
    experiments=EXPERIMENTS,
    run=tuple(config["run"]) if "run" in config else None,
    labelled=CLASS_NAMES is not None,
)
results, log_file, benchmark_file = PLAN.results, PLAN.log_file, PLAN.benchmark_file
# Each distinct model's settings by its id, for the train jobs' params.
MODELS = PLAN.models()
# The raw IDX files the download step fetches; none for the user's own files.
RAW_FILES = {}
if plan.downloads(DATASET):
    RAW_FILES = {k: results("raw", DATASET["files"][k]["name"]) for k in plan.RAW_KEYS}
# More clusters than images stops the run before any job, once the images can be counted (for
# IDX files, once downloaded; the cluster steps check again).
try:
    plan.check_k_ranges(config, EXPERIMENTS)
    N_TRAIN_IMAGES = plan.training_image_count(DATASET, RAW_FILES.get("train_labels"))
    if N_TRAIN_IMAGES is not None:
        plan.check_cluster_counts(config, EXPERIMENTS, *N_TRAIN_IMAGES)
except (plan.ConfigError, sources.DatasetError) as err:
    raise WorkflowError(str(err)) from None


def per_run(decide, *args, **kwargs):
    """An input function: PLAN's `decide` for the job's experiment and seed."""
    return lambda wildcards: decide(
        wildcards.experiment, wildcards.seed, *args, **kwargs
    )


def experiment(wildcards):
    return EXPERIMENTS[wildcards.experiment]


def library(*modules):
    """The library modules a step imports, so that editing one reruns the step.

    The package's __init__ and its logging module are used by every step."""
    package = WORKFLOW_DIR / "scripts" / "saepipe"
    return [str(package / f"{m}.py") for m in ("__init__", "logs", *modules)]


def checkpoint_dir(wildcards, output):
    """Per-epoch checkpoints beside the model, kept apart from the outputs so a killed job can
    resume. Found from the output, so that a module's `prefix:` moves it along with the model.
    """
    return str(Path(output.model).parent / "checkpoint")


def clustering_settings(wildcards):
    """The run's clustering section, as its steps' params (plan.clustering_settings)."""
    return plan.clustering_settings(experiment(wildcards)["clustering"])


def job_group(name):
    """The cluster job group of a step, or none when the config turns grouping off. Groups only
    change how jobs are submitted to a cluster; locally they are ignored."""
    return name if config["group_jobs"] else None


def on_login_node():
    """Whether a light step shared by every run runs where Snakemake runs (a cluster's login
    node, which reaches the internet) rather than as a cluster job: when jobs are grouped. Each
    step's own `localrule` directive keeps this under a module's rule names."""
    return config["group_jobs"]


def run_report(path, name):
    """One run's file in the report: filed under its experiment and seed, with labels
    (experiment, seed, figure) that the report's table of results filters on. Experiment
    categories are named "Experiment <name>", so that the comparison sorts first."""
    labels = {
        "experiment": "{experiment}",
        "seed": "{seed}",
        "figure": name.replace("_", " "),
    }
    return report(
        path,
        caption=f"../report/{name}.rst",
        category="Experiment {experiment}",
        subcategory="seed {seed}",
        labels=labels,
    )


def figure_output(name):
    """A run's figure <name>.png, in the report."""
    return run_report(results(RUN, "figures", f"{name}.png"), name)


def comparison_report(path, name):
    """A file that compares every run: first in the report, under "Comparison"."""
    return report(
        path,
        caption=f"../report/{name}.rst",
        category="Comparison",
        labels={"experiment": "all", "seed": "all", "figure": name},
    )
