# Helpers shared by the rules: where each output lives, and what each step is given.
#
# Layout under results/<dataset>/: raw/ and data/ are shared by every experiment;
# models/<model id>/seed<seed>/ holds a trained model and its codes, shared by every experiment
# with the same model settings; <experiment>/seed<seed>/ holds what one experiment adds
# (manifold, clusters, refined clusters, metrics, figures); summary.csv and comparison.png
# compare them all. An experiment that refines another's clustering has no manifold or clusters
# of its own (see clustering_source).
#
# Each rule's resources are what a cluster scheduler is asked for: mem_mb about twice the peak
# RSS that bench/benchmark.py measured on real MNIST (train 1.8 GB, embed 1.5 GB, manifold 1.3 GB,
# decode_centroids 0.7 GB, every other step under 0.5 GB), runtime in minutes with room for a
# slower node (train: the n2d model's 50 epochs took 17 minutes on 2 cores).

import copy
import functools
import hashlib
import json
import os
import sys
from pathlib import Path

import yaml
from snakemake.exceptions import WorkflowError

# This workflow's own folder, found from this file: imported as a module into another workflow,
# `workflow.basedir` is the importer's folder, while the library, the schema and the shipped data
# stay here.
WORKFLOW_DIR = Path(workflow.current_basedir).parent

# The library, for the checks made before any job starts (the jobs import it themselves).
sys.path.insert(0, str(WORKFLOW_DIR / "scripts"))
from saepipe.idx import IdxError, read_idx  # noqa: E402
from saepipe import sources  # noqa: E402

SCHEMA = WORKFLOW_DIR / "schemas" / "config.schema.yaml"
SCHEMA_RULES = yaml.safe_load(SCHEMA.read_text())
RAW_KEYS = ("train_images", "train_labels", "test_images", "test_labels")
# The parts of the config an experiment may override.
EXPERIMENT_KEYS = ("seeds", "model", "manifold", "clustering", "refine")
# Folder names under results/<dataset>/ that an experiment's own folder must not take.
RESERVED_NAMES = ("raw", "data", "models")
FIGURES = (
    "training_curves",
    "reconstructions",
    "centroids",
    "confusion_matrix",
    "embedding_map",
    "code_activations",
    "cluster_members",
)
# The figures that need labels.
LABELLED_FIGURES = ("confusion_matrix",)
# One run of an experiment, and one trained model; the wildcards are filled in by the targets.
RUN = "{experiment}/seed{seed}"
MODEL = "models/{model}/seed{seed}"
# Cluster job groups (config group_jobs): a model's training with its embedding (one queue wait),
# and the light steps of one run. A run's figures of the training curves, reconstructions and
# code activations hang off the model, not off the clustering, so the run's group spans those
# separate parts of the graph: the SLURM profile's group-components lets one group job hold them.
MODEL_GROUP = "model-{model}-seed{seed}"
RUN_GROUP = "run-{experiment}-seed{seed}"


def results(*parts):
    """A path under this dataset's own results folder, so two datasets never share files."""
    return str(Path("results", config["dataset"]["name"], *parts))


def log_file(*parts):
    """logs/<dataset>/<parts>.log, e.g. log_file(RUN, "cluster")."""
    return str(Path("logs", config["dataset"]["name"], *parts)) + ".log"


def benchmark_file(*parts):
    return str(Path("benchmarks", config["dataset"]["name"], *parts)) + ".tsv"


def raw_file(key):
    return results("raw", config["dataset"]["files"][key]["name"])


def raw_files():
    return {key: raw_file(key) for key in RAW_KEYS}


# --- the dataset's source: IDX files downloaded from mirrors, .npz archives or image folders ---


def downloads():
    """Whether the dataset is IDX files fetched by the download step (the other formats are the
    user's own files, read where they are)."""
    return config["dataset"]["format"] == "idx"


def user_path(key):
    """dataset.<key> (a file or folder of the user's) as an absolute path, or None when not given:
    absolute, so that a module's `prefix:` leaves it where it is."""
    value = config["dataset"].get(key)
    return os.path.abspath(value) if value else None


def source_inputs():
    """preprocess's inputs: the raw IDX files, or the .npz archives (a folder's images are
    tracked by their digest instead, in source_settings)."""
    if downloads():
        return raw_files()
    if config["dataset"]["format"] == "npz":
        return {key: user_path(key) for key in ("train", "test") if user_path(key)}
    return {}


@functools.cache
def folder_digest(key):
    """The digest of the names, sizes and contents of a folder dataset's images (see
    saepipe.sources.folder_digest), None when dataset.<key> is not given."""
    if not user_path(key):
        return None
    cache = Path(".snakemake", "saepipe", "image-hashes.tsv")
    try:
        return sources.folder_digest(user_path(key), cache)
    except sources.DatasetError as err:
        raise WorkflowError(f"dataset.{key}: {err}") from None


def source_settings():
    """What preprocess reads and how; for a folder, the digest of its images, so that a changed,
    added or removed image reruns preprocess (and only that does)."""
    dataset = config["dataset"]
    if downloads():
        return {
            "format": "idx",
            "md5": {key: dataset["files"][key]["md5"] for key in RAW_KEYS},
            "names": {key: dataset["files"][key]["name"] for key in RAW_KEYS},
        }
    settings = {
        "format": dataset["format"],
        "train": user_path("train"),
        "test": user_path("test"),
        "test_fraction": None if user_path("test") else dataset["test_fraction"],
    }
    if dataset["format"] == "folder":
        settings["image_size"] = dataset.get("image_size")
        settings["digest"] = {key: folder_digest(key) for key in ("train", "test")}
    return settings


@functools.cache
def class_names():
    """The dataset's classes in label order, or None when it has no labels."""
    try:
        return sources.class_names(
            {
                **config["dataset"],
                "train": user_path("train"),
                "test": user_path("test"),
            }
        )
    except sources.DatasetError as err:
        raise WorkflowError(f"config: {err}") from None


def labelled():
    return class_names() is not None


def library(*modules):
    """The library modules a step imports, so that editing one reruns the step.

    The package's __init__ and its logging module are used by every step.
    """
    package = WORKFLOW_DIR / "scripts" / "saepipe"
    return [str(package / f"{m}.py") for m in ("__init__", "logs", *modules)]


def checkpoint_dir(wildcards, output):
    """Per-epoch checkpoints beside the model, kept apart from the outputs so a killed job can
    resume. Found from the output, so that a module's `prefix:` moves it along with the model.
    """
    return str(Path(output.model).parent / "checkpoint")


def job_group(name):
    """The cluster job group of a step, or none when the config turns grouping off. Groups only
    change how jobs are submitted to a cluster; locally they are ignored."""
    return name if config["group_jobs"] else None


def on_login_node():
    """Whether a light step shared by every run runs where Snakemake itself runs (a cluster's
    login node) rather than as a cluster job: when jobs are grouped. download reaches the
    internet from there, where compute nodes often cannot; preprocess and the summary take
    seconds and little memory, not worth a queue wait each. (Given in each step's own
    `localrule` directive, which keeps its meaning when another workflow imports the steps
    under other names; a top-level `localrules` list would not.)"""
    return config["group_jobs"]


def n_classes():
    return len(class_names())


# --- experiments -------------------------------------------------------------------------------


def merged(base, override):
    """`base` with `override` laid over it, mapping by mapping (lists and values replace)."""
    out = copy.deepcopy(base)
    for key, value in (override or {}).items():
        if isinstance(value, dict) and isinstance(out.get(key), dict):
            out[key] = merged(out[key], value)
        else:
            out[key] = copy.deepcopy(value)
    return out


def resolve_experiments(config, schema):
    """Each experiment's full settings: the top-level defaults with its overrides laid over,
    typed and validated like config.yaml itself, so a wrong key names its experiment."""
    experiments = {}
    for name, override in config["experiments"].items():
        if name in RESERVED_NAMES:
            raise WorkflowError(
                f"config: experiments.{name}: the name is taken by the shared folder "
                f"results/<dataset>/{name}/; choose another"
            )
        full = merged(config, typed_like_schema(override or {}, schema))
        try:
            validate(full, str(SCHEMA))
        except WorkflowError as err:
            raise WorkflowError(f"config: experiments.{name}: {err}") from None
        experiments[name] = {key: full[key] for key in EXPERIMENT_KEYS}
    for name in config.get("run", []):
        if name not in experiments:
            raise WorkflowError(
                f"config: run: unknown experiment {name!r}; config.yaml defines "
                f"{', '.join(sorted(experiments))}"
            )
    return experiments


def model_id(settings):
    """A short, stable name for a model's settings: experiments that train the same model get
    the same folder, so the model is trained once."""
    text = json.dumps(canonical(settings), sort_keys=True)
    return hashlib.sha256(text.encode()).hexdigest()[:10]


def experiment(wildcards):
    return EXPERIMENTS[wildcards.experiment]


def model_of(name):
    return model_id(EXPERIMENTS[name]["model"])


def model_path(*parts):
    """An input function: the path of `parts` in the folder of the run's trained model."""

    def path(wildcards):
        folder = MODEL.format(model=model_of(wildcards.experiment), seed=wildcards.seed)
        return results(folder, *parts)

    return path


def uses_umap(name):
    return EXPERIMENTS[name]["manifold"]["method"] == "umap"


def refines(name):
    return EXPERIMENTS[name]["refine"]["method"] != "none"


def clustering_source(name):
    """The experiment whose clustering `name` uses: a refining experiment refines the clusters
    of the first experiment with the same model, manifold and clustering settings that does not
    refine (n2d-self those of n2d: no second UMAP, no second clustering), or else its own.
    """
    if refines(name):
        for other, settings in EXPERIMENTS.items():
            if not refines(other) and all(
                settings[key] == EXPERIMENTS[name][key]
                for key in ("model", "manifold", "clustering")
            ):
                return other
    return name


def clusters_path(split, kind="clusters"):
    """An input function: the clustering's `split` assignments (kind "clusters"), or their
    confidence (kind "confidence"), from the run of the clustering's source experiment.
    """

    def path(wildcards):
        source = clustering_source(wildcards.experiment)
        name = f"{split}.npy" if kind == "clusters" else f"{split}_confidence.npy"
        return run_path(source, wildcards.seed, "clusters", name)

    return path


def assignments_path(split):
    """An input function: the run's final assignments of `split`, refined or not."""

    def path(wildcards):
        if refines(wildcards.experiment):
            return run_path(
                wildcards.experiment, wildcards.seed, "refined", f"{split}.npy"
            )
        return clusters_path(split)(wildcards)  # the run's own clustering

    return path


def refined_inputs(wildcards):
    """The refined assignments of train and test (<split>_refined); none for a run that does
    not refine."""
    if not refines(wildcards.experiment):
        return {}
    return {
        f"{split}_refined": run_path(
            wildcards.experiment, wildcards.seed, "refined", f"{split}.npy"
        )
        for split in ("train", "test")
    }


def before_refinement(wildcards):
    """evaluate's inputs of the clustering before refinement: none for a run that does not refine."""
    if not refines(wildcards.experiment):
        return {}
    return {
        f"before_{split}": clusters_path(split)(wildcards)
        for split in ("train", "test", "all")
    }


def label_free_inputs(wildcards):
    """evaluate's inputs for a dataset without labels: the codes (for the silhouette score) and
    the clustering's confidence; none when there are labels."""
    if labelled():
        return {}
    inputs = {
        f"{split}_codes": model_path("embeddings", f"{split}.npy")(wildcards)
        for split in ("train", "test")
    }
    for split in ("train", "test", "all"):
        inputs[f"{split}_confidence"] = clusters_path(split, "confidence")(wildcards)
    return inputs


def confusion_output():
    """evaluate's confusion table (test: true label x cluster), when there are labels."""
    if not labelled():
        return {}
    return {"confusion": results(RUN, "metrics", "confusion_matrix.tsv")}


def clustered_points(name, seed):
    """What the clustering of run (name, seed) is fitted on, by split: the UMAP embedding, or
    else the codes themselves (train and test; "all" is both)."""
    if uses_umap(name):
        return {
            split: run_path(name, seed, "manifold", f"{split}.npy")
            for split in ("train", "test", "all")
        }
    model = MODEL.format(model=model_of(name), seed=seed)
    return {
        split: results(model, "embeddings", f"{split}.npy")
        for split in ("train", "test")
    }


def cluster_inputs(wildcards):
    return clustered_points(wildcards.experiment, wildcards.seed)


def refine_points(wildcards):
    """refine's inputs of the points its clustering was fitted on (points_<split>), for moving
    misplaced blocks; none when refine.move_blocks is off."""
    blocks = EXPERIMENTS[wildcards.experiment]["refine"]["move_blocks"]
    if not blocks["components_per_cluster"]:
        return {}
    source = clustering_source(wildcards.experiment)
    return {
        f"points_{split}": path
        for split, path in clustered_points(source, wildcards.seed).items()
    }


def runs():
    """(experiment, seed) for every run the default target makes."""
    return [
        (name, seed)
        for name in config.get("run", list(EXPERIMENTS))
        for seed in EXPERIMENTS[name]["seeds"]
    ]


def run_path(name, seed, *parts):
    return results(RUN.format(experiment=name, seed=seed), *parts)


def figure_files(name, seed):
    figures = [f for f in FIGURES if labelled() or f not in LABELLED_FIGURES]
    figures += ["refinement"] if refines(name) else []
    return [run_path(name, seed, "figures", f"{figure}.png") for figure in figures]


def run_report(path, name):
    """One run's file in the report: filed under its experiment and seed, with labels
    (experiment, seed, figure) that the report's table of results filters on. Experiment
    categories are named "Experiment <name>", so that the comparison sorts first."""
    return report(
        path,
        caption=f"../report/{name}.rst",
        category="Experiment {experiment}",
        subcategory="seed {seed}",
        labels={
            "experiment": "{experiment}",
            "seed": "{seed}",
            "figure": name.replace("_", " "),
        },
    )


def comparison_report(path, name):
    """A file that compares every run: first in the report, under "Comparison"."""
    return report(
        path,
        caption=f"../report/{name}.rst",
        category="Comparison",
        labels={"experiment": "all", "seed": "all", "figure": name},
    )


def summary_rows():
    """What the summary reads for each run: its metrics and the benchmark of each of its steps.

    The summary gets these paths as inputs (a module prefix rewrites inputs, not params) and
    the rest of each row as params: `summary_params`."""
    rows = []
    for name, seed in runs():
        model = MODEL.format(model=model_of(name), seed=seed)
        run = RUN.format(experiment=name, seed=seed)
        source = RUN.format(experiment=clustering_source(name), seed=seed)
        steps = {"train": model, "embed": model, "cluster": source, "evaluate": run}
        if uses_umap(name):
            steps["manifold"] = steps["manifold_all"] = source
        if refines(name):
            steps["refine"] = run
        rows.append(
            {
                "experiment": name,
                "seed": seed,
                "model": model_of(name),
                "metrics": run_path(name, seed, "metrics", "metrics.json"),
                "benchmarks": {
                    step: benchmark_file(folder, step) for step, folder in steps.items()
                },
            }
        )
    return rows


def summary_params(rows):
    """The rows without their paths: the script pairs them with the inputs, in this order."""
    return [
        {
            **{k: row[k] for k in ("experiment", "seed", "model")},
            "steps": list(row["benchmarks"]),
        }
        for row in rows
    ]


def all_outputs():
    """Metrics and assignments of every run, the figures of each experiment's first seed, and the comparison."""
    outputs = []
    for name, seed in runs():
        outputs += [
            run_path(name, seed, "metrics", "metrics.json"),
            run_path(name, seed, "metrics", "metrics.tsv"),
            run_path(name, seed, "assignments.csv"),
        ]
        if seed == EXPERIMENTS[name]["seeds"][0]:
            outputs += figure_files(name, seed)
    return outputs + [results("summary.csv"), results("comparison.png")]


def canonical(value):
    """The value with every mapping's keys sorted: Snakemake compares params by their text, so
    the order of keys in config.yaml (or the defaults the schema adds) must not matter.
    """
    if isinstance(value, dict):
        return {k: canonical(value[k]) for k in sorted(value)}
    if isinstance(value, list):
        return [canonical(v) for v in value]
    return value


def typed_like_schema(value, schema):
    """`--config` parses values inside a mapping as strings (`model={"epochs": 5}` gives "5"):
    read back as YAML the strings where the schema wants a number or a boolean, so that a
    command-line override behaves exactly like the same edit of config.yaml."""
    if isinstance(value, dict):
        properties = schema.get("properties", {})
        return {
            k: typed_like_schema(v, properties.get(k, {})) for k, v in value.items()
        }
    if isinstance(value, list):
        return [typed_like_schema(v, schema.get("items", {})) for v in value]
    if isinstance(value, str) and schema.get("type") in (
        "integer",
        "number",
        "boolean",
    ):
        parsed = yaml.safe_load(value)
        return parsed if isinstance(parsed, (int, float, bool)) else value
    return value


def check_config():
    """Checks the schema cannot make, run before any job starts.

    The training images must outnumber the clusters; when the raw labels are already there,
    they say how many images there are (a damaged file is left for preprocess to report).
    """
    if not downloads():
        return  # the cluster step names the count for the other formats
    labels = Path(raw_file("train_labels"))
    try:
        n_images = len(read_idx(labels)) if labels.exists() else 0
    except (IdxError, OSError):
        return
    for name, settings in EXPERIMENTS.items():
        n_clusters = settings["clustering"]["n_clusters"]
        if n_images and n_clusters > n_images:
            override = (config["experiments"][name] or {}).get("clustering", {})
            where = (
                f"experiments.{name}.clustering"
                if "n_clusters" in override
                else "clustering"
            )
            raise WorkflowError(
                f"config: {where}.n_clusters is {n_clusters} but {labels} holds only "
                f"{n_images} training images; choose at most {n_images}"
            )
