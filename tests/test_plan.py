"""The workflow's decisions (saepipe.plan), in-process: experiments, model ids, which clustering
a refining experiment reuses, the runs, the output layout and the summary's rows."""

import copy

import numpy as np
import pytest
import yaml
from snakemake.utils import validate

from conftest import REPO
from saepipe import plan

SCHEMA_PATH = REPO / "schemas" / "config.schema.yaml"
SCHEMA = yaml.safe_load(SCHEMA_PATH.read_text())


def shipped_config() -> dict:
    config = yaml.safe_load((REPO / "config.yaml").read_text())
    validate(config, str(SCHEMA_PATH))
    return config


def resolved(config: dict) -> dict:
    return plan.resolve_experiments(config, SCHEMA, lambda full: validate(full, str(SCHEMA_PATH)))


@pytest.fixture
def shipped() -> plan.Plan:
    config = shipped_config()
    return plan.Plan("mnist", resolved(config), tuple(config["run"]))


def test_merged_lays_mappings_over_mappings_and_replaces_the_rest():
    base = {"model": {"epochs": 30, "hidden_units": [500, 500]}, "seeds": [0, 1]}
    out = plan.merged(base, {"model": {"hidden_units": [64]}, "seeds": [3]})
    assert out == {"model": {"epochs": 30, "hidden_units": [64]}, "seeds": [3]}
    assert base["model"]["hidden_units"] == [500, 500]  # the base is left as it was
    assert plan.merged(base, None) == base


def test_canonical_sorts_keys_at_every_depth():
    value = {"b": [{"y": 1, "x": 2}], "a": {"d": 1, "c": 2}}
    assert list(plan.canonical(value)) == ["a", "b"]
    assert list(plan.canonical(value)["a"]) == ["c", "d"]
    assert list(plan.canonical(value)["b"][0]) == ["x", "y"]


def test_typed_like_schema_reads_numbers_and_booleans_given_as_strings():
    typed = plan.typed_like_schema(
        {"model": {"epochs": "5", "learning_rate": "1e-3", "activation": "relu"}, "group_jobs": "false",
         "seeds": ["1", "2"]}, SCHEMA)
    assert typed["model"] == {"epochs": 5, "learning_rate": 0.001, "activation": "relu"}
    assert typed["group_jobs"] is False and typed["seeds"] == [1, 2]
    assert plan.typed_like_schema({"model": {"epochs": "ten"}}, SCHEMA)["model"]["epochs"] == "ten"
    # an integer or auto
    assert plan.typed_like_schema({"clustering": {"n_clusters": "12"}}, SCHEMA)["clustering"]["n_clusters"] == 12
    assert plan.typed_like_schema({"clustering": {"n_clusters": "auto"}}, SCHEMA)["clustering"]["n_clusters"] == "auto"


def test_model_id_depends_on_the_settings_not_their_order():
    settings = {"epochs": 30, "batch_size": 256}
    same = plan.model_id({"batch_size": 256, "epochs": 30})
    assert plan.model_id(settings) == same and len(same) == 10 and int(same, 16) >= 0
    assert plan.model_id({**settings, "epochs": 31}) != same


def test_a_model_setting_at_its_neutral_value_leaves_the_model_id_as_it_was():
    settings = {"batch_size": 256, "epochs": 30}
    off = {**settings, "augment": {"rotation": 0, "shift": 0.0}}
    assert plan.model_id(off) == plan.model_id(settings)
    assert plan.model_id({**settings, "augment": {"rotation": 0.0, "shift": 0.1}}) != plan.model_id(settings)
    assert plan.model_id({**settings, "precision": "float32"}) == plan.model_id(settings)
    ids = {plan.model_id({**settings, "precision": p}) for p in ("float32", "bfloat16", "auto")}
    assert len(ids) == 3


def test_experiments_lay_their_overrides_over_the_defaults(shipped):
    config = shipped_config()
    n2d = shipped.experiments["n2d"]
    assert n2d["manifold"]["method"] == "umap"
    assert shipped.experiments["default"]["model"] == config["model"]
    assert set(n2d) == set(plan.EXPERIMENT_KEYS)


@pytest.mark.parametrize(
    "experiments, run, expected",
    [
        ({"n2d": {"manifold": {"method": "tsne"}}}, None, "config: experiments.n2d:"),
        ({"n2d": {"clustering": {"n_cluster": 3}}}, None, "'n_cluster' was unexpected"),
        ({"n2d": {"figures": {}}}, None, "'figures' was unexpected"),
        ({"models": {}}, None, "config: experiments.models: the name is taken"),
        ({"default": {}}, ["default", "n2d"], "config: run: unknown experiment 'n2d'; config.yaml defines default"),
    ],
)
def test_a_bad_experiment_is_refused_naming_it(experiments, run, expected):
    config = shipped_config()
    config["experiments"] = experiments
    config["run"] = run or list(experiments)
    with pytest.raises(plan.ConfigError, match="^config: ") as err:
        resolved(config)
    assert expected in str(err.value)


def test_more_clusters_than_images_names_the_key_where_the_count_was_set():
    config = shipped_config()
    config["experiments"] = {"default": {}, "many": {"clustering": {"n_clusters": 50}}}
    config["run"] = ["default", "many"]
    experiments = resolved(config)
    with pytest.raises(plan.ConfigError, match=r"experiments\.many\.clustering\.n_clusters is 50 but "
                                               r"labels\.gz holds only 20 training images; choose at most 20"):
        plan.check_cluster_counts(config, experiments, 20, "labels.gz")
    config["clustering"]["n_clusters"] = 30
    with pytest.raises(plan.ConfigError, match=r"^config: clustering\.n_clusters is 30"):
        plan.check_cluster_counts(config, {"default": resolved(config)["default"]}, 20, "labels.gz")
    plan.check_cluster_counts(config, {"default": resolved(config)["default"]}, 30, "labels.gz")


@pytest.mark.parametrize("k_range, expected", [
    ([1, 30], r"^config: experiments\.auto\.clustering\.k_range is \[1, 30\]; its lower end must be at least 2"),
    ([12, 8], r"^config: experiments\.auto\.clustering\.k_range is \[12, 8\]; its lower end is above its upper"),
])
def test_a_bad_k_range_names_its_key(k_range, expected):
    config = shipped_config()
    config["experiments"] = {"auto": {"clustering": {"n_clusters": "auto", "k_range": k_range}}}
    config["run"] = ["auto"]
    with pytest.raises(plan.ConfigError, match=expected):
        plan.check_k_ranges(config, resolved(config))


def test_a_k_range_beyond_the_images_names_its_key_and_the_count():
    config = shipped_config()
    config["clustering"].update(n_clusters="auto", k_range=[2, 30])
    config["experiments"] = {"auto": {}}
    config["run"] = ["auto"]
    experiments = resolved(config)
    plan.check_k_ranges(config, experiments)
    plan.check_cluster_counts(config, experiments, 30, "x.npz")
    with pytest.raises(plan.ConfigError, match=r"^config: clustering\.k_range is \[2, 30\] but x\.npz holds only "
                                               r"29 training images; choose an upper end of at most 29$"):
        plan.check_cluster_counts(config, experiments, 29, "x.npz")


def test_source_settings_pin_what_preprocess_reads():
    idx = shipped_config()["dataset"]
    settings = plan.source_settings(idx, digest=lambda key: pytest.fail("an IDX dataset has no digest"))
    assert plan.source_inputs(idx, {"train_images": "r/a.gz"}) == {"train_images": "r/a.gz"}
    assert settings["format"] == "idx" and set(settings["md5"]) == set(plan.RAW_KEYS)
    npz = {"format": "npz", "train": "/d/train.npz", "test": None, "test_fraction": 0.2}
    assert plan.source_inputs(npz, {}) == {"train": "/d/train.npz"}
    assert plan.source_settings(npz, digest=None) == {"format": "npz", "train": "/d/train.npz", "test": None,
                                                      "test_fraction": 0.2}
    folder = {"format": "folder", "train": "/d/train", "test": "/d/test", "test_fraction": 0.2, "image_size": [8, 8]}
    assert plan.source_inputs(folder, {}) == {}  # a folder is tracked by its digest
    settings = plan.source_settings(folder, digest=lambda key: f"digest-{key}")
    assert settings["test_fraction"] is None  # a test folder is given
    assert settings["digest"] == {"train": "digest-train", "test": "digest-test"}
    assert settings["image_size"] == [8, 8]


def test_a_refining_experiment_reuses_the_clustering_of_its_twin(shipped):
    assert shipped.clustering_source("n2d-self") == "n2d"
    assert shipped.clustering_source("n2d") == "n2d" and shipped.clustering_source("default") == "default"
    assert shipped.model_of("n2d-self") == shipped.model_of("n2d") != shipped.model_of("default")
    assert shipped.clusters("n2d-self", 1, "train") == "results/mnist/n2d/seed1/clusters/train.npy"
    assert shipped.clusters("n2d-self", 1, "all", confidence=True) == \
        "results/mnist/n2d/seed1/clusters/all_confidence.npy"
    assert shipped.assignments("n2d-self", 1, "test") == "results/mnist/n2d-self/seed1/refined/test.npy"
    assert shipped.assignments("n2d", 1, "test") == "results/mnist/n2d/seed1/clusters/test.npy"


def test_a_refining_experiment_without_a_twin_clusters_on_its_own():
    experiments = copy.deepcopy(resolved(shipped_config()))
    experiments["n2d-self"]["clustering"]["n_init"] += 1
    own = plan.Plan("mnist", experiments)
    assert own.clustering_source("n2d-self") == "n2d-self"
    # its own clustering, of n2d's UMAP embedding: same model and manifold, no second UMAP
    assert own.refine_points("n2d-self", 0)["points_all"] == "results/mnist/n2d/seed0/manifold/all.npy"
    experiments["n2d-self"]["manifold"]["n_neighbors"] += 1
    assert plan.Plan("mnist", experiments).refine_points("n2d-self", 0)["points_all"] == \
        "results/mnist/n2d-self/seed0/manifold/all.npy"


def test_an_experiment_that_chooses_k_clusters_its_twins_embedding_and_reads_its_choice(shipped):
    assert shipped.chooses_k("n2d-auto") and not shipped.chooses_k("n2d")
    assert shipped.manifold_source("n2d-auto") == "n2d" and shipped.clustering_source("n2d-auto") == "n2d-auto"
    assert shipped.clustered_points("n2d-auto", 1)["all"] == "results/mnist/n2d/seed1/manifold/all.npy"
    assert shipped.chosen_k("n2d-auto", 1) == {"chosen_k": "results/mnist/n2d-auto/seed1/clusters/k.json"}
    assert shipped.chosen_k("n2d", 1) == {}
    assert shipped.figures("n2d-auto") == [*plan.FIGURES, "k_choice"]
    auto = plan.Plan("mnist", shipped.experiments, ("n2d-auto",))
    steps = auto.summary_rows()[0]["benchmarks"]
    assert steps["choose_k"] == "benchmarks/mnist/n2d-auto/seed0/choose_k.tsv"
    assert steps["manifold"] == "benchmarks/mnist/n2d/seed0/manifold.tsv"


def test_a_refining_experiment_that_chooses_k_reads_its_twins_choice():
    experiments = copy.deepcopy(resolved(shipped_config()))
    for name in ("n2d", "n2d-self"):
        experiments[name]["clustering"]["n_clusters"] = "auto"
    auto = plan.Plan("mnist", experiments)
    assert auto.clustering_source("n2d-self") == "n2d"
    assert auto.chosen_k("n2d-self", 0) == {"chosen_k": "results/mnist/n2d/seed0/clusters/k.json"}
    assert auto.chosen_k_table("n2d-self", 0) == "results/mnist/n2d/seed0/clusters/k_choice.tsv"


def test_k_range_reaches_the_steps_only_where_k_is_chosen():
    given = {"n_clusters": 10, "k_range": [2, 30], "k_strength": 0.8, "method": "gmm"}
    assert plan.clustering_settings(given) == {"method": "gmm", "n_clusters": 10}
    assert plan.clustering_settings({**given, "n_clusters": "auto"})["k_range"] == [2, 30]


def test_each_model_is_listed_once(shipped):
    assert len(shipped.models()) == len({shipped.model_of(n) for n in shipped.experiments}) == 3
    assert shipped.model_path("default", 2, "autoencoder.keras") == \
        f"results/mnist/models/{shipped.model_of('default')}/seed2/autoencoder.keras"


def test_the_clustering_is_fitted_on_the_umap_embedding_or_on_the_codes(shipped):
    umap = shipped.clustered_points("n2d", 0)
    assert umap == {s: f"results/mnist/n2d/seed0/manifold/{s}.npy" for s in ("train", "test", "all")}
    codes = shipped.clustered_points("default", 0)
    assert set(codes) == {"train", "test"} and codes["test"] == shipped.model_path("default", 0, "embeddings",
                                                                                   "test.npy")


def test_refine_inputs_follow_its_settings(shipped):
    assert set(shipped.refine_points("n2d-self", 0)) == {"points_train", "points_test", "points_all"}
    off = copy.deepcopy(shipped.experiments)
    off["n2d-self"]["refine"]["move_blocks"]["components_per_cluster"] = 0
    assert plan.Plan("mnist", off).refine_points("n2d-self", 0) == {}
    assert set(shipped.before_refinement("n2d-self", 0)) == {"before_train", "before_test", "before_all"}
    assert shipped.before_refinement("n2d", 0) == shipped.refined("n2d", 0) == {}
    assert shipped.refined("n2d-self", 0)["test_refined"] == "results/mnist/n2d-self/seed0/refined/test.npy"


def test_label_free_inputs_only_without_labels(shipped):
    assert shipped.label_free("default", 0) == {}
    unlabelled = plan.Plan("leaves", shipped.experiments, labelled=False)
    inputs = unlabelled.label_free("n2d-self", 0)
    assert inputs["train_codes"] == unlabelled.model_path("n2d", 0, "embeddings", "train.npy")
    assert inputs["all_confidence"] == "results/leaves/n2d/seed0/clusters/all_confidence.npy"


def test_runs_follow_run_and_each_experiments_seeds():
    experiments = copy.deepcopy(resolved(shipped_config()))
    experiments["n2d"]["seeds"] = [5]
    assert plan.Plan("m", experiments, ("n2d", "default")).runs() == [("n2d", 5), ("default", 0), ("default", 1),
                                                                      ("default", 2)]
    assert len(plan.Plan("m", experiments).runs()) == 16  # run left out: every experiment


def test_figures_depend_on_labels_and_refinement(shipped):
    assert shipped.figures("default") == list(plan.FIGURES)
    assert shipped.figures("n2d-self") == [*plan.FIGURES, "refinement"]
    unlabelled = plan.Plan("x", shipped.experiments, labelled=False)
    assert "confusion_matrix" not in unlabelled.figures("default")
    assert shipped.figure_files("n2d", 1)[0] == "results/mnist/n2d/seed1/figures/training_curves.png"


def test_the_default_target_holds_every_run_and_the_first_seeds_figures(shipped):
    outputs = shipped.all_outputs()
    assert outputs[-2:] == ["results/mnist/summary.csv", "results/mnist/comparison.png"]
    for name, seed in shipped.runs():
        assert shipped.run_path(name, seed, "metrics", "metrics.json") in outputs
        assert shipped.run_path(name, seed, "assignments.csv") in outputs
        assert (shipped.run_path(name, seed, "figures", "centroids.png") in outputs) == (seed == 0)
    assert set(shipped.first_seed_figures()) <= set(outputs)


def test_the_summary_reads_each_runs_steps_from_where_they_ran(shipped):
    rows = {(row["experiment"], row["seed"]): row for row in shipped.summary_rows()}
    assert len(rows) == len(shipped.runs())
    refined = rows["n2d-self", 1]
    model = f"models/{shipped.model_of('n2d')}/seed1"
    assert refined["benchmarks"] == {
        "train": f"benchmarks/mnist/{model}/train.tsv", "embed": f"benchmarks/mnist/{model}/embed.tsv",
        "cluster": "benchmarks/mnist/n2d/seed1/cluster.tsv", "evaluate": "benchmarks/mnist/n2d-self/seed1/evaluate.tsv",
        "manifold": "benchmarks/mnist/n2d/seed1/manifold.tsv",
        "manifold_all": "benchmarks/mnist/n2d/seed1/manifold_all.tsv",
        "refine": "benchmarks/mnist/n2d-self/seed1/refine.tsv"}
    assert list(rows["default", 0]["benchmarks"]) == ["train", "embed", "cluster", "evaluate"]


def test_the_summary_names_each_input_its_params_refer_to(shipped):
    rows = shipped.summary_rows()
    inputs, params = plan.summary_inputs(rows), plan.summary_params(rows)
    assert params[0] == {"experiment": "default", "seed": 0, "model": shipped.model_of("default"),
                         "metrics": "run0_metrics",
                         "benchmarks": {step: f"run0_{step}" for step in ["train", "embed", "cluster", "evaluate"]}}
    for row, param in zip(rows, params):
        assert inputs[param["metrics"]] == row["metrics"]
        assert {step: inputs[name] for step, name in param["benchmarks"].items()} == row["benchmarks"]
    assert len(inputs) == sum(1 + len(row["benchmarks"]) for row in rows)


def test_user_paths_are_made_absolute(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    dataset = plan.absolute_paths({"format": "npz", "train": "data/train.npz", "name": "x"})
    assert dataset == {"format": "npz", "train": str(tmp_path / "data" / "train.npz"), "test": None, "name": "x"}


def test_a_dataset_block_in_a_config_file_replaces_the_shipped_one_whole():
    shipped = shipped_config()["dataset"]
    own = {"name": "leaves", "format": "folder", "train": "/data/leaves"}
    given = plan.dataset_as_given(shipped, [{"model": {"epochs": 5}}, {"dataset": own}], {})
    assert given == own  # no class_names, files or mirrors from MNIST's block
    # the last file that names a dataset wins; --config's keys are laid over it
    later = {"name": "digits", "format": "npz", "train": "d.npz"}
    assert plan.dataset_as_given(shipped, [{"dataset": own}, {"dataset": later}],
                                 {"dataset": {"test_fraction": 0.3}}) == {**later, "test_fraction": 0.3}
    # no file names one: the shipped block, as merged, stays
    assert plan.dataset_as_given(shipped, [{"seeds": [0]}], {}) is shipped


def test_the_training_images_are_counted_before_any_job_where_it_is_cheap(tmp_path):
    from PIL import Image

    from saepipe.idx import write_idx

    np.savez(tmp_path / "d.npz", x=np.zeros((50, 8, 8), np.uint8))
    npz = {"format": "npz", "train": str(tmp_path / "d.npz"), "test_fraction": 0.2}
    assert plan.training_image_count(npz) == (40, str(tmp_path / "d.npz"))  # 10 drawn as the test split
    np.savez(tmp_path / "t.npz", x=np.zeros((7, 8, 8), np.uint8))
    assert plan.training_image_count({**npz, "test": str(tmp_path / "t.npz")})[0] == 50
    (tmp_path / "flat").mkdir()
    for i in range(9):
        Image.fromarray(np.zeros((4, 4), np.uint8)).save(tmp_path / "flat" / f"{i}.png")
    assert plan.training_image_count({"format": "folder", "train": str(tmp_path / "flat"),
                                      "test_fraction": 0.2})[0] == 7
    write_idx(tmp_path / "labels.gz", np.zeros(20, dtype=np.uint8))
    assert plan.training_image_count({"format": "idx"}, tmp_path / "labels.gz") == (20, str(tmp_path / "labels.gz"))
    # not downloaded yet, or unreadable: left for the steps to report
    assert plan.training_image_count({"format": "idx"}, tmp_path / "missing.gz") is None
    (tmp_path / "bad.npz").write_bytes(b"not a zip")
    assert plan.training_image_count({**npz, "train": str(tmp_path / "bad.npz")}) is None
