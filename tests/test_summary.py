import json

import pandas as pd
import pytest

from saepipe.summary import aggregate, benchmark_seconds, metric_columns, runs_with_files, summary_row


def write_benchmark(path, seconds):
    path.write_text(f"s\th:m:s\tmax_rss\n{seconds}\t0:00:{int(seconds):02d}\t100.0\n")
    return path


def test_benchmark_seconds_reads_the_wall_time_column(tmp_path):
    assert benchmark_seconds(write_benchmark(tmp_path / "b.tsv", 12.5)) == 12.5


def test_a_file_that_is_no_benchmark_is_a_clear_error(tmp_path):
    (tmp_path / "b.tsv").write_text("x\ty\n1\t2\n")
    with pytest.raises(ValueError, match="b.tsv: not a Snakemake benchmark file"):
        benchmark_seconds(tmp_path / "b.tsv")


def test_metric_columns_flatten_every_split_and_skip_lists():
    metrics = {"train": {"nmi": 0.5, "confusion_matrix": [[1]]}, "test": {"nmi": 0.4}, "all": {"ari": 0.3},
               "majority_mapping": [0]}
    assert metric_columns(metrics) == {"train_nmi": 0.5, "test_nmi": 0.4, "all_ari": 0.3}


def test_a_refined_runs_scores_before_refinement_get_their_own_columns():
    metrics = {"test": {"nmi": 0.9}, "before": {"test": {"nmi": 0.8}, "all": {"ari": 0.7}}}
    assert metric_columns(metrics) == {"test_nmi": 0.9, "before_test_nmi": 0.8, "before_all_ari": 0.7}


def test_a_summary_row_holds_metrics_settings_and_step_times(tmp_path):
    (tmp_path / "metrics.json").write_text(json.dumps({"test": {"accuracy_majority": 0.9}}))
    run = {"experiment": "n2d", "seed": 1, "model": "abc", "metrics": str(tmp_path / "metrics.json"),
           "benchmarks": {"train": str(write_benchmark(tmp_path / "t.tsv", 10)),
                          "cluster": str(write_benchmark(tmp_path / "c.tsv", 2.5))}}
    settings = {"manifold": {"method": "umap"}, "clustering": {"method": "gmm", "n_clusters": 10},
                "refine": {"method": "none"}}
    row = summary_row(run, settings)
    assert row == {"experiment": "n2d", "seed": 1, "model": "abc", "manifold": "umap", "clustering": "gmm",
                   "refine": "none", "train_n_clusters": 10, "test_n_clusters": 10, "all_n_clusters": 10,
                   "test_accuracy_majority": 0.9, "seconds_train": 10.0, "seconds_cluster": 2.5,
                   "seconds_total": 12.5}


def test_a_run_that_chose_its_number_of_clusters_has_each_protocols_in_the_summary(tmp_path):
    chosen = {"train": {"n_clusters": 9}, "test": {"n_clusters": 9}, "all": {"n_clusters": 11}}
    (tmp_path / "metrics.json").write_text(json.dumps(chosen))
    run = {"experiment": "auto", "seed": 0, "model": "abc", "metrics": str(tmp_path / "metrics.json"),
           "benchmarks": {"choose_k": str(write_benchmark(tmp_path / "k.tsv", 40))}}
    settings = {"manifold": {"method": "umap"}, "clustering": {"method": "gmm", "n_clusters": "auto"},
                "refine": {"method": "none"}}
    row = summary_row(run, settings)
    assert (row["train_n_clusters"], row["test_n_clusters"], row["all_n_clusters"]) == (9, 9, 11)
    assert row["seconds_choose_k"] == 40.0


def test_aggregate_gives_mean_and_std_across_seeds_in_first_seen_order():
    summary = pd.DataFrame({"experiment": ["b", "b", "a"], "seed": [0, 1, 0], "acc": [0.8, 0.9, 0.5]})
    stats = aggregate(summary, ["acc"])
    assert stats.index.tolist() == ["b", "a"]
    assert stats.loc["b", "acc_mean"] == pytest.approx(0.85) and stats.loc["b", "acc_std"] == pytest.approx(0.05)
    assert stats.loc["a", "acc_std"] == 0.0


def test_each_run_gets_the_files_its_input_names_stand_for():
    runs = [{"experiment": "a", "seed": 0, "model": "m", "metrics": "r0_metrics",
             "benchmarks": {"train": "r0_train", "cluster": "r0_cluster"}},
            {"experiment": "b", "seed": 1, "model": "m", "metrics": "r1_metrics",
             "benchmarks": {"train": "r1_train", "manifold": "r1_manifold"}}]
    files = {"r1_metrics": "b.json", "r0_metrics": "a.json", "r1_manifold": "b2", "r0_cluster": "a2",
             "r1_train": "b1", "r0_train": "a1", "code": "summary.py"}
    paired = runs_with_files(runs, files)
    assert [run["metrics"] for run in paired] == ["a.json", "b.json"]
    assert paired[0]["benchmarks"] == {"train": "a1", "cluster": "a2"}
    assert paired[1]["benchmarks"] == {"train": "b1", "manifold": "b2"}
    assert paired[1]["experiment"] == "b" and paired[1]["seed"] == 1


def test_a_run_naming_an_input_not_given_is_a_clear_error():
    runs = [{"experiment": "a", "seed": 0, "model": "m", "metrics": "r0_metrics", "benchmarks": {"train": "r0_train"}}]
    with pytest.raises(ValueError, match="not given: r0_train"):
        runs_with_files(runs, {"r0_metrics": "a.json"})
