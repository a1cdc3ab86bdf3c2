"""The workflow's decisions, as plain functions over plain values: each experiment's settings,
model ids, which clustering a refining experiment reuses, the runs, where each output lives and
what the summary reads. rules/common.smk binds them to Snakemake's `config` and wildcards.

Layout under results/<dataset>/: raw/ and data/ are shared by every experiment;
models/<model id>/seed<seed>/ holds a trained model and its codes, shared by every experiment
with the same model settings; <experiment>/seed<seed>/ holds what one experiment adds
(manifold, clusters, refined clusters, metrics, figures); summary.csv and comparison.png
compare them all. An experiment that refines another's clustering has no manifold or clusters
of its own (see Plan.clustering_source).
"""

from __future__ import annotations

import copy
import hashlib
import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable

import numpy as np
import yaml

RAW_KEYS = ("train_images", "train_labels", "test_images", "test_labels")
# The parts of the config an experiment may override.
EXPERIMENT_KEYS = ("seeds", "model", "manifold", "clustering", "refine")
# Folder names under results/<dataset>/ that an experiment's own folder must not take.
RESERVED_NAMES = ("raw", "data", "models")
# Every run's figures, in the order the report lists them; the labelled ones need labels.
FIGURES = (
    "training_curves",
    "reconstructions",
    "centroids",
    "confusion_matrix",
    "embedding_map",
    "code_activations",
    "cluster_members",
)
LABELLED_FIGURES = ("confusion_matrix",)
# A refining run's figure of what moved.
REFINE_FIGURES = ("refinement",)
# The figure of a run that chooses its number of clusters (n_clusters: auto).
K_FIGURES = ("k_choice",)
# One run of an experiment, and one trained model; the wildcards are filled in by the targets.
RUN = "{experiment}/seed{seed}"
MODEL = "models/{model}/seed{seed}"
SPLITS = ("train", "test", "all")


class ConfigError(ValueError):
    """A config the schema alone cannot refuse; the message names the key."""


def merged(base: dict, override: dict | None) -> dict:
    """`base` with `override` laid over it, mapping by mapping (lists and values replace)."""
    out = copy.deepcopy(base)
    for key, value in (override or {}).items():
        if isinstance(value, dict) and isinstance(out.get(key), dict):
            out[key] = merged(out[key], value)
        else:
            out[key] = copy.deepcopy(value)
    return out


def canonical(value: Any) -> Any:
    """The value with every mapping's keys sorted: Snakemake compares params by their text, so
    the order of keys in config.yaml (or the defaults the schema adds) must not matter."""
    if isinstance(value, dict):
        return {k: canonical(value[k]) for k in sorted(value)}
    if isinstance(value, list):
        return [canonical(v) for v in value]
    return value


def dataset_as_given(shipped: dict, files: list[Any], command_line: dict) -> dict:
    """The dataset block the user meant. Snakemake lays each --configfile over config.yaml key by
    key, so a file naming another dataset would inherit MNIST's files, mirrors and class names:
    instead the `dataset` block of the last such file (`files`, as loaded) replaces the shipped
    one whole. --config's dataset keys (`command_line`) are then laid over it, as over any
    section. `shipped` (config.yaml's, already merged) stays when no file names a dataset."""
    given = [f["dataset"] for f in files if isinstance(f, dict) and isinstance(f.get("dataset"), dict)]
    if not given:
        return shipped
    on_command_line = command_line.get("dataset")
    return merged(given[-1], on_command_line if isinstance(on_command_line, dict) else {})


def scalar_types(schema: dict) -> set[str]:
    """The JSON types a schema allows, its `oneOf` alternatives' included (n_clusters: an
    integer, or the string auto)."""
    types = {schema["type"]} if isinstance(schema.get("type"), str) else set()
    for alternative in schema.get("oneOf", []):
        types |= scalar_types(alternative)
    return types


def typed_like_schema(value: Any, schema: dict) -> Any:
    """`--config` parses values inside a mapping as strings (`model={"epochs": 5}` gives "5"):
    read back as YAML the strings where the schema wants a number or a boolean, so that a
    command-line override behaves exactly like the same edit of config.yaml."""
    if isinstance(value, dict):
        properties = schema.get("properties", {})
        return {k: typed_like_schema(v, properties.get(k, {})) for k, v in value.items()}
    if isinstance(value, list):
        return [typed_like_schema(v, schema.get("items", {})) for v in value]
    types = scalar_types(schema)
    if isinstance(value, str) and types & {"integer", "number", "boolean"}:
        parsed = yaml.safe_load(value)
        if isinstance(parsed, str) and "number" in types:
            try:  # YAML 1.1 reads 1e-3 (no dot) as a string
                parsed = float(value)
            except ValueError:
                pass
        return parsed if isinstance(parsed, (int, float, bool)) else value
    return value


# Model settings that were added after models were trained, at the value that changes nothing:
# left out of the model id, so a model trained before the setting existed keeps its folder.
NEUTRAL_MODEL_SETTINGS = {"augment": {"shift": 0.0, "rotation": 0.0}, "precision": "float32"}


# The clustering settings that only n_clusters auto reads.
AUTO_K_SETTINGS = ("k_range", "k_strength")


def clustering_settings(clustering: dict) -> dict:
    """The clustering section as its steps' params, keys sorted: k_range and k_strength only
    where n_clusters is auto, as nothing else reads them, so that a run with a number keeps the
    params (and the outputs, with no rerun) it had before the keys existed."""
    if clustering["n_clusters"] != "auto":
        clustering = {key: value for key, value in clustering.items() if key not in AUTO_K_SETTINGS}
    return canonical(clustering)


def model_id(settings: dict) -> str:
    """A short, stable name for a model's settings: experiments that train the same model get
    the same folder, so the model is trained once."""
    settings = {key: value for key, value in canonical(settings).items()
                if key not in NEUTRAL_MODEL_SETTINGS or value != NEUTRAL_MODEL_SETTINGS[key]}
    text = json.dumps(settings, sort_keys=True)
    return hashlib.sha256(text.encode()).hexdigest()[:10]


def resolve_experiments(config: dict, schema: dict, validate: Callable[[dict], None]) -> dict:
    """Each experiment's full settings: the top-level defaults with its overrides laid over,
    typed and checked by `validate` (which raises on a bad config) like config.yaml itself, so
    a wrong key names its experiment. Refuses a name in `run` that is not an experiment."""
    experiments = {}
    for name, override in config["experiments"].items():
        if name in RESERVED_NAMES:
            raise ConfigError(
                f"config: experiments.{name}: the name is taken by the shared folder "
                f"results/<dataset>/{name}/; choose another"
            )
        full = merged(config, typed_like_schema(override or {}, schema))
        try:
            validate(full)
        except Exception as err:  # the validator's own error type: Snakemake's WorkflowError
            raise ConfigError(f"config: experiments.{name}: {err}") from None
        experiments[name] = {key: full[key] for key in EXPERIMENT_KEYS}
    for name in config.get("run", []):
        if name not in experiments:
            raise ConfigError(
                f"config: run: unknown experiment {name!r}; config.yaml defines "
                f"{', '.join(sorted(experiments))}"
            )
    return experiments


def clustering_key(config: dict, name: str, key: str) -> str:
    """Where experiment `name`'s clustering.<key> was set: in its own block, or the top level's."""
    override = (config["experiments"][name] or {}).get("clustering", {})
    return f"experiments.{name}.clustering.{key}" if key in override else f"clustering.{key}"


def check_k_ranges(config: dict, experiments: dict) -> None:
    """Each experiment that chooses its number of clusters (n_clusters: auto) must search a
    range [lower, upper] with 2 <= lower <= upper; the message names the key."""
    for name, settings in experiments.items():
        if settings["clustering"]["n_clusters"] != "auto":
            continue
        lower, upper = settings["clustering"]["k_range"]
        where = clustering_key(config, name, "k_range")
        if lower < 2:
            raise ConfigError(f"config: {where} is [{lower}, {upper}]; its lower end must be at least 2 "
                              "(one cluster is no clustering)")
        if lower > upper:
            raise ConfigError(f"config: {where} is [{lower}, {upper}]; its lower end is above its upper end")


def check_cluster_counts(config: dict, experiments: dict, n_images: int, source: str) -> None:
    """The training images (`n_images`, counted in `source`) must be at least every experiment's
    clusters, or the upper end of the range it chooses them from; the message names the key
    where the count was set."""
    for name, settings in experiments.items():
        n_clusters = settings["clustering"]["n_clusters"]
        if n_clusters == "auto":
            lower, upper = settings["clustering"]["k_range"]
            if upper > n_images:
                raise ConfigError(
                    f"config: {clustering_key(config, name, 'k_range')} is [{lower}, {upper}] but {source} "
                    f"holds only {n_images} training images; choose an upper end of at most {n_images}"
                )
        elif n_clusters > n_images:
            raise ConfigError(
                f"config: {clustering_key(config, name, 'n_clusters')} is {n_clusters} but {source} holds only "
                f"{n_images} training images; choose at most {n_images}"
            )


def npz_image_count(path: str | os.PathLike) -> int | None:
    """How many images the archive's `x` holds, from its header alone; None when it cannot be
    read (left for preprocess to report)."""
    import zipfile

    try:
        with zipfile.ZipFile(path) as archive, archive.open("x.npy") as member:
            version = np.lib.format.read_magic(member)
            read_header = (np.lib.format.read_array_header_1_0 if version == (1, 0)
                           else np.lib.format.read_array_header_2_0)
            shape = read_header(member)[0]
    except Exception:  # noqa: BLE001 - preprocess names what is wrong with it
        return None
    return int(shape[0]) if shape else None


def training_image_count(dataset: dict[str, Any],
                         raw_labels: str | os.PathLike | None = None) -> tuple[int, str] | None:
    """How many training images the clusterings are fitted on, and what was counted, where it is
    cheap to know before any job: an IDX dataset's downloaded labels (`raw_labels`), an archive's
    header, a folder's listing; after the seeded test split when there is no test set. None when
    not known yet (nothing downloaded) or unreadable (preprocess reports it)."""
    from .idx import IdxError, read_idx
    from .sources import list_folder

    fmt = dataset["format"]
    if fmt == "idx":
        if raw_labels is None or not Path(raw_labels).exists():
            return None
        try:
            return len(read_idx(raw_labels)), str(raw_labels)
        except (IdxError, OSError):
            return None
    n = npz_image_count(dataset["train"]) if fmt == "npz" else len(list_folder(dataset["train"]).files)
    if not n:
        return None
    if not dataset.get("test"):
        n -= min(max(1, int(round(n * dataset["test_fraction"]))), n - 1)  # as split_off_test draws it
    return n, str(dataset["train"])


def absolute_paths(dataset: dict) -> dict:
    """The dataset block with its files or folders (train, test) as absolute paths, so that a
    module's `prefix:` leaves them where they are."""
    paths = {k: os.path.abspath(dataset[k]) if dataset.get(k) else None for k in ("train", "test")}
    return {**dataset, **paths}


def downloads(dataset: dict) -> bool:
    """Whether the dataset is IDX files fetched by the download step (the other formats are the
    user's own files, read where they are)."""
    return dataset["format"] == "idx"


def source_inputs(dataset: dict, raw_files: dict) -> dict:
    """preprocess's input files: the raw IDX files, or the .npz archives; none for a folder,
    whose images are tracked by their digest in source_settings instead."""
    if downloads(dataset):
        return raw_files
    if dataset["format"] == "npz":
        return {key: dataset[key] for key in ("train", "test") if dataset.get(key)}
    return {}


def source_settings(dataset: dict, digest: Callable[[str], str | None]) -> dict:
    """What preprocess reads and how. `dataset` is the config's block with `train` and `test`
    as absolute paths (or None); for a folder, `digest(key)` of its images, so that a changed,
    added or removed image reruns preprocess (and only that does)."""
    if downloads(dataset):
        return {
            "format": "idx",
            "md5": {key: dataset["files"][key]["md5"] for key in RAW_KEYS},
            "names": {key: dataset["files"][key]["name"] for key in RAW_KEYS},
        }
    settings = {
        "format": dataset["format"],
        "train": dataset.get("train"),
        "test": dataset.get("test"),
        "test_fraction": None if dataset.get("test") else dataset["test_fraction"],
    }
    if dataset["format"] == "folder":
        settings["image_size"] = dataset.get("image_size")
        settings["digest"] = {key: digest(key) for key in ("train", "test")}
    return settings


@dataclass(frozen=True)
class Plan:
    """Where everything of one dataset's workflow lives, and which runs it makes.

    `experiments` as resolve_experiments gives them; `run` the experiments the default target
    makes (None: all); `labelled` whether the dataset has labels. Paths are relative to the
    working directory, as Snakemake takes them."""

    dataset: str
    experiments: dict
    run: tuple[str, ...] | None = None
    labelled: bool = True

    def results(self, *parts: str) -> str:
        """A path under this dataset's own results folder, so two datasets never share files."""
        return str(Path("results", self.dataset, *parts))

    def log_file(self, *parts: str) -> str:
        """logs/<dataset>/<parts>.log, e.g. log_file(RUN, "cluster")."""
        return str(Path("logs", self.dataset, *parts)) + ".log"

    def benchmark_file(self, *parts: str) -> str:
        return str(Path("benchmarks", self.dataset, *parts)) + ".tsv"

    def model_of(self, name: str) -> str:
        return model_id(self.experiments[name]["model"])

    def models(self) -> dict:
        """Each distinct model's settings by its id."""
        return {model_id(s["model"]): s["model"] for s in self.experiments.values()}

    def uses_umap(self, name: str) -> bool:
        return self.experiments[name]["manifold"]["method"] == "umap"

    def refines(self, name: str) -> bool:
        return self.experiments[name]["refine"]["method"] != "none"

    def clustering_source(self, name: str) -> str:
        """The experiment whose clustering `name` uses: a refining experiment refines the
        clusters of the first experiment with the same model, manifold and clustering settings
        that does not refine (n2d-self those of n2d: no second UMAP, no second clustering), or
        else its own."""
        if self.refines(name):
            mine = self.experiments[name]
            for other, settings in self.experiments.items():
                if not self.refines(other) and all(
                    settings[key] == mine[key] for key in ("model", "manifold")
                ) and clustering_settings(settings["clustering"]) == clustering_settings(mine["clustering"]):
                    return other
        return name

    def manifold_source(self, name: str) -> str:
        """The experiment whose UMAP embedding `name` clusters: the first with the same model
        and manifold settings (an experiment that clusters n2d's embedding another way fits no
        UMAP of its own)."""
        mine = self.experiments[name]
        return next(other for other, settings in self.experiments.items()
                    if all(settings[key] == mine[key] for key in ("model", "manifold"))
                    or other == name)

    def chooses_k(self, name: str) -> bool:
        """Whether `name` chooses its number of clusters from the data (n_clusters: auto)."""
        return self.experiments[name]["clustering"]["n_clusters"] == "auto"

    def chosen_k(self, name: str, seed) -> dict:
        """The numbers of clusters choose_k chose for the clustering run (name, seed) uses, as
        chosen_k; none when the config gives the number."""
        if not self.chooses_k(name):
            return {}
        return {"chosen_k": self.run_path(self.clustering_source(name), seed, "clusters", "k.json")}

    def chosen_k_table(self, name: str, seed) -> str:
        """The table of every k choose_k tried for the clustering run (name, seed) uses."""
        return self.run_path(self.clustering_source(name), seed, "clusters", "k_choice.tsv")

    def run_path(self, name: str, seed, *parts: str) -> str:
        return self.results(RUN.format(experiment=name, seed=seed), *parts)

    def model_path(self, name: str, seed, *parts: str) -> str:
        """`parts` in the folder of the trained model that run (name, seed) uses."""
        return self.results(MODEL.format(model=self.model_of(name), seed=seed), *parts)

    def clusters(self, name: str, seed, split: str, confidence: bool = False) -> str:
        """The clustering's `split` assignments (or their confidence) that run (name, seed)
        reads: from the run of its clustering's source experiment."""
        file = f"{split}_confidence.npy" if confidence else f"{split}.npy"
        return self.run_path(self.clustering_source(name), seed, "clusters", file)

    def assignments(self, name: str, seed, split: str) -> str:
        """The run's final assignments of `split`: refined, or its clustering's."""
        if self.refines(name):
            return self.run_path(name, seed, "refined", f"{split}.npy")
        return self.clusters(name, seed, split)

    def refined(self, name: str, seed, splits=("train", "test")) -> dict:
        """The refined assignments as <split>_refined; none for a run that does not refine."""
        if not self.refines(name):
            return {}
        return {f"{s}_refined": self.run_path(name, seed, "refined", f"{s}.npy") for s in splits}

    def before_refinement(self, name: str, seed) -> dict:
        """The clustering before refinement as before_<split>; none for a run that does not refine."""
        if not self.refines(name):
            return {}
        return {f"before_{s}": self.clusters(name, seed, s) for s in SPLITS}

    def label_free(self, name: str, seed) -> dict:
        """What evaluate needs for a dataset without labels: the codes (for the silhouette
        score) and the clustering's confidence; none when there are labels."""
        if self.labelled:
            return {}
        inputs = {f"{s}_codes": self.model_path(name, seed, "embeddings", f"{s}.npy") for s in ("train", "test")}
        inputs.update({f"{s}_confidence": self.clusters(name, seed, s, confidence=True) for s in SPLITS})
        return inputs

    def clustered_points(self, name: str, seed) -> dict:
        """What the clustering of run (name, seed) is fitted on, by split: the UMAP embedding,
        or else the codes themselves (train and test; "all" is both)."""
        if self.uses_umap(name):
            return {s: self.run_path(self.manifold_source(name), seed, "manifold", f"{s}.npy") for s in SPLITS}
        return {s: self.model_path(name, seed, "embeddings", f"{s}.npy") for s in ("train", "test")}

    def refine_points(self, name: str, seed) -> dict:
        """The points the refined clustering was fitted on, as points_<split>, for moving
        misplaced blocks; none when refine.move_blocks is off."""
        if not self.experiments[name]["refine"]["move_blocks"]["components_per_cluster"]:
            return {}
        source = self.clustering_source(name)
        return {f"points_{s}": path for s, path in self.clustered_points(source, seed).items()}

    def names(self) -> tuple[str, ...]:
        """The experiments the default target makes: `run`, or all of them."""
        return self.run if self.run is not None else tuple(self.experiments)

    def runs(self) -> list[tuple[str, int]]:
        """(experiment, seed) for every run the default target makes."""
        return [(name, seed) for name in self.names() for seed in self.experiments[name]["seeds"]]

    def figures(self, name: str) -> list[str]:
        """The figures of a run of `name`."""
        figures = [f for f in FIGURES if self.labelled or f not in LABELLED_FIGURES]
        figures += list(K_FIGURES) if self.chooses_k(name) else []
        return figures + (list(REFINE_FIGURES) if self.refines(name) else [])

    def figure_files(self, name: str, seed) -> list[str]:
        return [self.run_path(name, seed, "figures", f"{f}.png") for f in self.figures(name)]

    def first_seed_figures(self) -> list[str]:
        """The figures the default target draws: each experiment's first seed's."""
        return [p for n in self.names() for p in self.figure_files(n, self.experiments[n]["seeds"][0])]

    def all_outputs(self) -> list[str]:
        """Metrics and assignments of every run, the figures of each experiment's first seed,
        and the comparison."""
        outputs = []
        for name, seed in self.runs():
            outputs += [
                self.run_path(name, seed, "metrics", "metrics.json"),
                self.run_path(name, seed, "metrics", "metrics.tsv"),
                self.run_path(name, seed, "assignments.csv"),
            ]
            if seed == self.experiments[name]["seeds"][0]:
                outputs += self.figure_files(name, seed)
        return outputs + [self.results("summary.csv"), self.results("comparison.png")]

    def summary_rows(self) -> list[dict]:
        """What the summary reads for each run: its metrics and the benchmark of each of its
        steps (the run's own, its model's, and its clustering source's)."""
        rows = []
        for name, seed in self.runs():
            model = MODEL.format(model=self.model_of(name), seed=seed)
            run = RUN.format(experiment=name, seed=seed)
            source = RUN.format(experiment=self.clustering_source(name), seed=seed)
            steps = {"train": model, "embed": model, "cluster": source, "evaluate": run}
            if self.uses_umap(name):
                manifold = RUN.format(experiment=self.manifold_source(self.clustering_source(name)), seed=seed)
                steps["manifold"] = steps["manifold_all"] = manifold
            if self.chooses_k(name):
                steps["choose_k"] = source
            if self.refines(name):
                steps["refine"] = run
            rows.append(
                {
                    "experiment": name,
                    "seed": seed,
                    "model": self.model_of(name),
                    "metrics": self.run_path(name, seed, "metrics", "metrics.json"),
                    "benchmarks": {step: self.benchmark_file(f, step) for step, f in steps.items()},
                }
            )
        return rows


def summary_input(index: int, what: str) -> str:
    """The name of one of the summary's inputs: the metrics or a step's benchmark of its
    `index`-th run."""
    return f"run{index}_{what}"


def summary_inputs(rows: list[dict]) -> dict[str, str]:
    """The summary's inputs by name (summary_input): each run's metrics and step benchmarks."""
    inputs = {}
    for index, row in enumerate(rows):
        inputs[summary_input(index, "metrics")] = row["metrics"]
        inputs.update({summary_input(index, step): path for step, path in row["benchmarks"].items()})
    return inputs


def summary_params(rows: list[dict]) -> list[dict]:
    """The summary rows with the names of their inputs in place of paths (a module prefix
    rewrites inputs, not params)."""
    return [
        {
            **{key: row[key] for key in ("experiment", "seed", "model")},
            "metrics": summary_input(index, "metrics"),
            "benchmarks": {step: summary_input(index, step) for step in row["benchmarks"]},
        }
        for index, row in enumerate(rows)
    ]
