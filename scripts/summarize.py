"""Gather every run's metrics and step times into summary.csv (rule `summary`)."""

import pandas as pd

from saepipe.atomic import atomic_path
from saepipe.logs import logged_step
from saepipe.summary import aggregate, summary_row

with logged_step(snakemake.log[0]) as log:
    params = snakemake.params
    summary = pd.DataFrame([summary_row(run, params.settings[run["experiment"]]) for run in params.runs])
    with atomic_path(snakemake.output[0]) as tmp:
        summary.to_csv(tmp, index=False, float_format="%.6g")
    means = aggregate(summary, ["test_accuracy_majority", "all_accuracy_hungarian", "all_nmi"])
    for name, row in means.iterrows():
        log.info("%s: test accuracy %.4f +- %.4f, Hungarian accuracy on all %.4f +- %.4f, NMI %.4f",
                 name, row["test_accuracy_majority_mean"], row["test_accuracy_majority_std"],
                 row["all_accuracy_hungarian_mean"], row["all_accuracy_hungarian_std"], row["all_nmi_mean"])
