"""Fetch the dataset's four raw files from the configured mirrors (rule `download`)."""

from pathlib import Path

from saepipe.fetch import RemoteFile, fetch_dataset
from saepipe.logs import logged_step

with logged_step(snakemake.log[0]) as log:
    files = [RemoteFile(f["name"], f["md5"]) for f in snakemake.params.files]
    dest = Path(snakemake.output[0]).parent
    served = fetch_dataset(
        files,
        snakemake.params.mirrors,
        dest,
        timeout=snakemake.params.timeout,
        retries=snakemake.params.retries,
        base_dir=snakemake.params.base_dir,
    )
    log.info("all %d files in %s", len(served), dest)
