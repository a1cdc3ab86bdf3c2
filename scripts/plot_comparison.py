"""Draw the experiments side by side from summary.csv (rule `plot_comparison`)."""

import pandas as pd

from saepipe import figures
from saepipe.logs import logged_step
from saepipe.summary import aggregate, compared

with logged_step(snakemake.log[0]) as log:
    summary = pd.read_csv(snakemake.input.summary)
    shown = compared(summary)
    stats = aggregate(summary, [column for column, _ in shown])
    series = {label: (stats[f"{column}_mean"].to_numpy(), stats[f"{column}_std"].to_numpy())
              for column, label in shown}
    n_seeds = summary.groupby("experiment", sort=False)["seed"].nunique().loc[stats.index].tolist()
    figures.plot_comparison(stats.index.tolist(), series, n_seeds, snakemake.output[0])
    log.info("wrote %s", snakemake.output[0])
