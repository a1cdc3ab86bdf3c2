"""Choose the number of clusters from the points a clustering is fitted on (clustering.n_clusters:
auto), never from labels.

Every k of clustering.k_range is fitted the experiment's own way (its method and covariance) on
random halves of a seeded sample of the points, and scored by criteria that need no labels:
- prediction strength (Tibshirani and Walther 2005): two fits on the two halves; of each cluster
  that one fit finds in its own half, the share of its pairs of points that the other fit puts
  together too; the least over clusters and over both halves, averaged over pairs of halves.
  A k that cuts a group where the data has no border cuts it elsewhere in each half, and the
  cluster cut worst shows it;
- stability: the ARI between the two fits' assignments of the whole sample (Ben-Hur et al.
  2002; Lange et al. 2004);
- silhouette (in the clustering's own space), BIC (mixtures) and the smallest cluster's share,
  of the first half's fit, as cross-checks.
A k that is too small is stable too (two groups merged the same way each time), so the rule
(`choose`) takes the *largest* k whose prediction strength reaches clustering.k_strength.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from .cluster import fit_clusters

# The most points the sweep draws: the criteria settle long before MNIST's 70,000 points, and
# the sweep must stay a small part of a run. Each pair of halves splits this sample.
SWEEP_SAMPLE = 10_000
# Pairs of halves per k: as many as keep the points fitted per k near PAIR_POINTS (a small
# collection gets more pairs, which cost it little and steady its criteria), within these bounds.
PAIR_POINTS = 40_000
MIN_PAIRS, MAX_PAIRS = 2, 8
SILHOUETTE_SAMPLE = 3_000
# Starts of each fit, the best kept: one start alone often lands a mixture of the right k in a
# poor optimum (two groups merged, another split), which reads as instability.
STARTS = 2
# The table's criteria columns, in order.
CRITERIA = ("prediction_strength", "stability", "silhouette", "bic", "smallest_share")


def prediction_strength(own: np.ndarray, other: np.ndarray) -> float:
    """The least, over the clusters of `own` (one fit's assignments of its own points) with two
    or more members, of the share of their pairs that `other` (another fit's assignments of the
    same points) puts in one cluster too."""
    table = pd.crosstab(own, other).to_numpy().astype(float)
    sizes = table.sum(axis=1)
    kept = sizes > 1
    if not kept.any():
        return 0.0
    together = (table * (table - 1)).sum(axis=1)[kept] / (sizes[kept] * (sizes[kept] - 1))
    return float(together.min())


def pair_count(n_points: int) -> int:
    """How many pairs of halves each k is fitted on, for a sample of `n_points`."""
    return int(np.clip(PAIR_POINTS // max(n_points, 1), MIN_PAIRS, MAX_PAIRS))


def criteria(points: np.ndarray, clustering: Mapping[str, Any], k: int, seed: int) -> dict[str, float]:
    """The label-free criteria of `k` clusters of `points` (a sample), fitted the way `clustering`
    (the config's section) says, with STARTS starts per fit."""
    from sklearn.metrics import adjusted_rand_score, silhouette_score

    rng = np.random.default_rng([seed, k])

    def fit(x: np.ndarray):
        return fit_clusters(x, clustering["method"], k, n_init=STARTS, max_iter=clustering["max_iter"],
                            seed=int(rng.integers(2**31)), covariance_type=clustering["covariance_type"])

    strengths, stabilities = [], []
    for pair in range(pair_count(len(points))):
        order = rng.permutation(len(points))
        halves = np.sort(order[: len(points) // 2]), np.sort(order[len(points) // 2:])
        models = [fit(points[half]) for half in halves]
        on_all = [model.predict(points) for model in models]
        strengths.append(min(prediction_strength(on_all[i][halves[i]], on_all[1 - i][halves[i]]) for i in (0, 1)))
        stabilities.append(adjusted_rand_score(*on_all))
        if pair == 0:
            first, labels = models[0], on_all[0]
    scored = rng.choice(len(points), min(SILHOUETTE_SAMPLE, len(points)), replace=False)
    silhouette = (float(silhouette_score(points[scored], labels[scored]))
                  if 1 < len(np.unique(labels[scored])) < len(scored) else float("nan"))
    return {
        "prediction_strength": float(np.mean(strengths)),
        "stability": float(np.mean(stabilities)),
        "silhouette": silhouette,
        "bic": float(first.bic(points[halves[0]])) if hasattr(first, "bic") else float("nan"),
        "smallest_share": float(np.bincount(labels, minlength=k).min() / len(labels)),
    }


def sweep(points: np.ndarray, clustering: Mapping[str, Any], seed: int, workers: int = 1) -> pd.DataFrame:
    """One row per k of clustering.k_range (both ends included): k and its criteria, on a seeded
    sample of at most SWEEP_SAMPLE of `points`. The k are fitted by `workers` processes side by
    side, each on one thread (the fits are small; each k draws from its own seed, so the table
    is the same for any number of workers)."""
    from joblib import Parallel, delayed, parallel_config
    from threadpoolctl import threadpool_limits

    lower, upper = clustering["k_range"]
    if upper > len(points) // 2:
        raise ValueError(f"clustering.k_range's upper end is {upper} but there are only {len(points)} points: "
                         f"each half of them must hold at least as many, so choose at most {len(points) // 2}")
    rng = np.random.default_rng(seed)
    sample = points[np.sort(rng.choice(len(points), min(SWEEP_SAMPLE, len(points)), replace=False))]
    ks = range(lower, upper + 1)
    with threadpool_limits(1), parallel_config(backend="loky", inner_max_num_threads=1):
        found = Parallel(n_jobs=workers)(delayed(criteria)(sample, clustering, k, seed) for k in ks)
    return pd.DataFrame([{"k": k, **row} for k, row in zip(ks, found)], columns=["k", *CRITERIA])


def choose(table: pd.DataFrame, strength: float) -> int:
    """The largest k whose prediction strength reaches `strength`; when none does, the k with
    the highest prediction strength (the smallest such k on a tie)."""
    strong = table.loc[table["prediction_strength"] >= strength, "k"]
    if len(strong):
        return int(strong.max())
    return int(table.loc[table["prediction_strength"].idxmax(), "k"])


@dataclass
class Choice:
    """What choose_k decided for one protocol: the table of every k tried, the k chosen, and the
    prediction strength it had to reach."""
    table: pd.DataFrame
    k: int
    strength: float = 0.8


def choose_k(points: np.ndarray, clustering: Mapping[str, Any], seed: int, workers: int = 1) -> Choice:
    """Sweep clustering.k_range on `points` and choose k from it (clustering.k_strength)."""
    table = sweep(points, clustering, seed, workers)
    return Choice(table, choose(table, clustering["k_strength"]), clustering["k_strength"])


def describe(choice: Choice) -> list[str]:
    """Log lines: the chosen k, and what each other criterion would have chosen alone."""
    rows = choice.table.set_index("k")
    strength = rows.loc[choice.k, "prediction_strength"]
    if strength >= choice.strength:
        why = f"the largest k whose prediction strength reaches clustering.k_strength {choice.strength:g}"
    else:
        why = f"no k reaches clustering.k_strength {choice.strength:g}: the strongest"
    lines = [f"chose k = {choice.k}, {why} (at k = {choice.k}: {strength:.3f})"]
    alone = [f"highest silhouette k = {rows['silhouette'].idxmax()}",
             f"highest stability k = {rows['stability'].idxmax()}"]
    if rows["bic"].notna().any():
        alone.append(f"lowest BIC k = {rows['bic'].idxmin()}")
    return lines + [f"for comparison, each criterion alone: {', '.join(alone)}"]


PROTOCOLS = {"train": "the train/test protocol", "all": "the all-images protocol"}


def choice_table(choices: Mapping[str, Choice]) -> pd.DataFrame:
    """The tables of every protocol's choice in one: protocol, k, the criteria, and whether k was
    the one chosen."""
    return pd.concat([choice.table.assign(chosen=choice.table["k"] == choice.k).assign(protocol=protocol)
                      [["protocol", "k", *CRITERIA, "chosen"]] for protocol, choice in choices.items()],
                     ignore_index=True)
