"""Choosing the number of clusters from the data (saepipe.kchoice), on small arrays."""

import json

import numpy as np
import pandas as pd
import pytest

from saepipe.counts import cluster_counts
from saepipe.data import DamagedInput
from saepipe.kchoice import CRITERIA, Choice, choice_table, choose, choose_k, describe, prediction_strength, sweep

SETTINGS = {"method": "gmm", "covariance_type": "full", "max_iter": 100, "k_range": [2, 7], "k_strength": 0.8}


def blobs(n_blobs: int, per_blob: int = 80, dims: int = 3, seed: int = 0) -> np.ndarray:
    """Well-separated round groups of points, as UMAP leaves clusters."""
    rng = np.random.default_rng(seed)
    centres = rng.normal(0, 12, (n_blobs, dims))
    return np.concatenate([centre + rng.normal(0, 0.6, (per_blob, dims)) for centre in centres])


def test_prediction_strength_is_the_worst_clusters_share_of_pairs_kept_together():
    own = np.array([0, 0, 0, 0, 1, 1, 1, 1])
    assert prediction_strength(own, own) == 1.0
    assert prediction_strength(own, 5 - own) == 1.0  # the other fit's names do not matter
    # the other fit cuts cluster 1 in two halves: 4 of its 12 ordered pairs stay together
    assert prediction_strength(own, np.array([0, 0, 0, 0, 1, 1, 2, 2])) == pytest.approx(4 / 12)


@pytest.mark.parametrize("method", ["gmm", "kmeans"])
@pytest.mark.parametrize("n_blobs", [3, 5])
def test_the_number_of_well_separated_groups_is_chosen(method, n_blobs):
    choice = choose_k(blobs(n_blobs), {**SETTINGS, "method": method}, seed=0)
    assert choice.k == n_blobs
    assert choice.table["k"].tolist() == list(range(2, 8))
    assert list(choice.table.columns) == ["k", *CRITERIA]
    strength = choice.table.set_index("k")["prediction_strength"]
    assert strength[n_blobs] >= 0.8 > strength[n_blobs + 1]  # one group more must cut a real one


def test_a_k_too_small_is_stable_too_and_the_largest_strong_k_wins():
    # three pairs of near groups: 3 and 6 both hold up; a too-small k is no answer
    rng = np.random.default_rng(1)
    centres = np.array([[0, 0], [4, 0], [40, 0], [44, 0], [0, 40], [4, 40]], dtype=float)
    x = np.concatenate([c + rng.normal(0, 0.5, (60, 2)) for c in centres])
    choice = choose_k(x, SETTINGS, seed=0)
    strength = choice.table.set_index("k")["prediction_strength"]
    assert strength[3] >= 0.8 and strength[6] >= 0.8
    assert choice.k == 6


def test_the_table_is_the_same_for_a_seed_whatever_the_workers():
    x = blobs(4, per_blob=40)
    one = sweep(x, SETTINGS, seed=3, workers=1)
    pd.testing.assert_frame_equal(one, sweep(x, SETTINGS, seed=3, workers=2))
    other = sweep(x, SETTINGS, seed=4, workers=1)
    assert not one.equals(other)


def test_choose_takes_the_largest_k_that_reaches_the_strength_or_else_the_strongest():
    table = pd.DataFrame({"k": [2, 3, 4, 5], "prediction_strength": [0.9, 0.6, 0.85, 0.5]})
    assert choose(table, 0.8) == 4
    assert choose(table, 0.95) == 2


def test_an_upper_end_beyond_half_the_points_is_a_clear_error():
    with pytest.raises(ValueError, match=r"clustering\.k_range's upper end is 7 but there are only 12 points"):
        sweep(blobs(3, per_blob=4), SETTINGS, seed=0)


def test_the_choice_table_marks_each_protocols_chosen_k():
    rows = pd.DataFrame({"k": [2, 3], **{c: [0.5, 0.9] for c in CRITERIA}})
    table = choice_table({"train": Choice(rows, 3), "all": Choice(rows, 2)})
    assert table[["protocol", "k", "chosen"]].values.tolist() == [
        ["train", 2, False], ["train", 3, True], ["all", 2, True], ["all", 3, False]]


def test_cluster_counts_are_the_configs_number_or_each_protocols_chosen_one(tmp_path):
    assert cluster_counts(10) == {"train": 10, "test": 10, "all": 10}
    (tmp_path / "k.json").write_text(json.dumps({"train": 9, "all": 11}))
    assert cluster_counts("auto", tmp_path / "k.json") == {"train": 9, "test": 9, "all": 11}
    with pytest.raises(ValueError, match="auto but the step was not given choose_k's k.json"):
        cluster_counts("auto")
    (tmp_path / "k.json").write_text('{"train": 9')
    with pytest.raises(DamagedInput, match=r"k\.json: cut short or not choose_k's k\.json .*\(rule choose_k\)"):
        cluster_counts("auto", tmp_path / "k.json")


def test_the_log_says_why_k_was_chosen_and_what_each_criterion_alone_would_choose():
    rows = pd.DataFrame({"k": [2, 3, 4], "prediction_strength": [0.9, 0.85, 0.5], "stability": [0.9, 1.0, 0.7],
                         "silhouette": [0.4, 0.6, 0.5], "bic": [10.0, 5.0, 1.0], "smallest_share": [0.5, 0.3, 0.2]})
    lines = describe(Choice(rows, 3, 0.8))
    assert lines[0] == ("chose k = 3, the largest k whose prediction strength reaches clustering.k_strength 0.8 "
                        "(at k = 3: 0.850)")
    assert lines[1] == ("for comparison, each criterion alone: highest silhouette k = 3, highest stability "
                        "k = 3, lowest BIC k = 4")
    assert describe(Choice(rows, 2, 0.95))[0].startswith("chose k = 2, no k reaches clustering.k_strength 0.95: "
                                                         "the strongest")
