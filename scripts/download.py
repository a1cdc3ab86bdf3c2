"""Fetch the dataset's four raw files from the configured mirrors (rule `download`)."""

from pathlib import Path

from saepipe.fetch import RemoteFile, fetch_dataset
from saepipe.logs import logged_step

with logged_step(snakemake.log[0]) as log:
    files = [RemoteFile(f["name"], f["md5"]) for f in snakemake.params.files]
    dest = Path(snakemake.output[0]).parent
    # Where the files come from is read from the config on purpose (see rules/download.smk).
    settings = snakemake.config["download"]
    served = fetch_dataset(
        files,
        snakemake.config["dataset"]["mirrors"],
        dest,
        timeout=settings["timeout"],
        retries=settings["retries"],
        base_dir=Path(snakemake.scriptdir).parent,
    )
    log.info("all %d files in %s", len(served), dest)
