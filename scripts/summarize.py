"""Gather every run's metrics and step times into summary.csv (rule `summary`)."""

import pandas as pd

from saepipe.atomic import atomic_path
from saepipe.logs import logged_step
from saepipe.summary import aggregate, compared, runs_with_files, summary_row

with logged_step(snakemake.log[0]) as log:
    params = snakemake.params
    runs = runs_with_files(params.runs, snakemake.input)
    summary = pd.DataFrame([summary_row(run, params.settings[run["experiment"]]) for run in runs])
    with atomic_path(snakemake.output[0]) as tmp:
        summary.to_csv(tmp, index=False, float_format="%.6g")
    shown = compared(summary)
    means = aggregate(summary, [column for column, _ in shown])
    for name, row in means.iterrows():
        log.info("%s: %s", name, ", ".join(
            f"{label} {row[f'{column}_mean']:.4f} +- {row[f'{column}_std']:.4f}" for column, label in shown))
