# Helpers shared by the rules: where each output lives, and what each step is given.

from pathlib import Path

DATASET = config["dataset"]["name"]
RAW_KEYS = ("train_images", "train_labels", "test_images", "test_labels")
SPLITS = ("train", "test")
FIGURES = (
    "training_curves",
    "reconstructions",
    "centroids",
    "confusion_matrix",
    "embedding_map",
    "code_activations",
)

# Outputs of one dataset never reach another dataset's folder.
wildcard_constraints:
    dataset=DATASET,
    split="|".join(SPLITS),


def results(*parts):
    """A path under this dataset's results folder, with a {dataset} wildcard."""
    return str(Path("results", "{dataset}", *parts))


def raw_file(key):
    return results("raw", config["dataset"]["files"][key]["name"])


def raw_files():
    return {key: raw_file(key) for key in RAW_KEYS}


def library(*modules):
    """The library modules a step imports, so that editing one reruns the step."""
    package = Path(workflow.basedir, "scripts", "saepipe")
    return [str(package / f"{m}.py") for m in ("__init__", *modules)]


def n_classes():
    return len(config["dataset"]["class_names"])


def all_outputs():
    return [
        path.format(dataset=DATASET)
        for path in (
            results("metrics", "metrics.json"),
            results("metrics", "metrics.tsv"),
            *(results("figures", f"{name}.png") for name in FIGURES),
        )
    ]
