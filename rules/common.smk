# Helpers shared by the rules: where each output lives, and what each step is given.

import gzip
from pathlib import Path

import yaml

SCHEMA = Path(workflow.basedir, "schemas", "config.schema.yaml")
RAW_KEYS = ("train_images", "train_labels", "test_images", "test_labels")
FIGURES = (
    "training_curves",
    "reconstructions",
    "centroids",
    "confusion_matrix",
    "embedding_map",
    "code_activations",
)


def results(*parts):
    """A path under this dataset's own results folder, so two datasets never share files.

    Paths are concrete (no wildcards), so each step can be run by name: `snakemake cluster`.
    """
    return str(Path("results", config["dataset"]["name"], *parts))


def log_file(rule):
    return str(Path("logs", config["dataset"]["name"], f"{rule}.log"))


def benchmark_file(rule):
    return str(Path("benchmarks", config["dataset"]["name"], f"{rule}.tsv"))


def raw_file(key):
    return results("raw", config["dataset"]["files"][key]["name"])


def raw_files():
    return {key: raw_file(key) for key in RAW_KEYS}


def library(*modules):
    """The library modules a step imports, so that editing one reruns the step.

    The package's __init__ and its logging module are used by every step.
    """
    package = Path(workflow.basedir, "scripts", "saepipe")
    return [str(package / f"{m}.py") for m in ("__init__", "logs", *modules)]


def n_classes():
    return len(config["dataset"]["class_names"])


def all_outputs():
    return [
        results("metrics", "metrics.json"),
        results("metrics", "metrics.tsv"),
        *figure_files(),
    ]


def figure_files():
    return [results("figures", f"{name}.png") for name in FIGURES]


def canonical(value):
    """The value with every mapping's keys sorted: Snakemake compares params by their text, so
    the order of keys in config.yaml (or the defaults the schema adds) must not matter."""
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
        return {k: typed_like_schema(v, properties.get(k, {})) for k, v in value.items()}
    if isinstance(value, list):
        return [typed_like_schema(v, schema.get("items", {})) for v in value]
    if isinstance(value, str) and schema.get("type") in ("integer", "number", "boolean"):
        parsed = yaml.safe_load(value)
        return parsed if isinstance(parsed, (int, float, bool)) else value
    return value


def check_config():
    """Checks the schema cannot make, run before any job starts.

    The training images must outnumber the clusters; when the raw labels are already there,
    their IDX header says how many images there are.
    """
    labels = Path(raw_file("train_labels"))
    if not labels.exists():
        return
    with open(labels, "rb") as handle:
        head = handle.read(2)
    with (gzip.open if head == b"\x1f\x8b" else open)(labels, "rb") as handle:
        header = handle.read(8)
    n_images = int.from_bytes(header[4:8], "big") if len(header) == 8 else 0
    n_clusters = config["clustering"]["n_clusters"]
    if n_images and n_clusters > n_images:
        raise ValueError(
            f"config: clustering.n_clusters is {n_clusters} but {labels} holds only "
            f"{n_images} training images; choose at most {n_images}"
        )
