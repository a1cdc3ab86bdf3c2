"""Each image's cluster, as a table (rule `assignments`): image id (or file), split, cluster, the
clustering's confidence in it, and the refined cluster when the run refines. The train/test
protocol's assignments: clusters fitted on the training images, test images placed in them."""

import pandas as pd

from saepipe.atomic import atomic_path
from saepipe.data import load_npy
from saepipe.logs import logged_step
from saepipe.summary import assignments_table

with logged_step(snakemake.log[0]) as log:
    inputs = snakemake.input
    splits = ("train", "test")
    table = assignments_table(
        pd.read_csv(inputs.images, sep="\t", dtype=str, keep_default_na=False),
        {split: load_npy(inputs[f"{split}_clusters"]) for split in splits},
        {split: load_npy(inputs[f"{split}_confidence"]) for split in splits},
        {split: load_npy(inputs[f"{split}_refined"]) for split in splits} if snakemake.params.refined else None,
    )
    with atomic_path(snakemake.output[0]) as tmp:
        table.to_csv(tmp, index=False, float_format="%.6g")
    log.info("%d images' assignments written to %s", len(table), snakemake.output[0])
