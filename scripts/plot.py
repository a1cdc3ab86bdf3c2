"""Draw the figure that the calling rule names in params.figure (rules `plot_*`)."""

from saepipe import plots
from saepipe.logs import logged_step

with logged_step(snakemake.log[0]) as log:
    plots.draw(snakemake.params.figure, snakemake.input, snakemake.params, snakemake.output[0])
    log.info("wrote %s", snakemake.output[0])
