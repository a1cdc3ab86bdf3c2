"""How many clusters each protocol's clustering of a run has: the config's number, or the one
choose_k chose (clustering.n_clusters: auto). Kept apart from the clustering itself so that the
steps that only need the number (decoding, figures) need no scikit-learn."""

from __future__ import annotations

import json
import os

from .data import DamagedInput


def cluster_counts(n_clusters: int | str, chosen: str | os.PathLike | None = None) -> dict[str, int]:
    """The number of clusters of each split's clustering, by split: "train" and "test" (the
    train/test protocol) and "all" (the all-images protocol). The configured number, or with
    n_clusters auto what choose_k wrote to `chosen` (k.json)."""
    if n_clusters != "auto":
        return {split: int(n_clusters) for split in ("train", "test", "all")}
    if chosen is None:
        raise ValueError("clustering.n_clusters is auto but the step was not given choose_k's k.json")
    try:
        with open(chosen) as handle:
            k = json.load(handle)
        return {"train": int(k["train"]), "test": int(k["train"]), "all": int(k["all"])}
    except (ValueError, KeyError, TypeError) as err:
        raise DamagedInput(f"{chosen}: cut short or not choose_k's k.json ({type(err).__name__}: {err}); "
                           "delete it and run Snakemake again, which rebuilds it (rule choose_k)") from None
