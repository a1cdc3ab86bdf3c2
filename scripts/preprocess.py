"""Read the dataset's images (IDX, .npz or a folder of image files), check them, and write scaled,
flattened float32 arrays and a table of which image went to which split (rule `preprocess`)."""

import csv

from saepipe import sources
from saepipe.atomic import atomic_path, save_npz
from saepipe.data import model_arrays
from saepipe.logs import logged_step

with logged_step(snakemake.log[0]) as log:
    inputs, params, output = snakemake.input, snakemake.params, snakemake.output
    source = params.source
    train, test = sources.read_dataset(source, inputs, len(params.class_names) if params.class_names else None)
    if test is None:
        log.info("no test split given: drawing %.1f %% of the %d images (dataset.test_fraction, seed %d)",
                 100 * source["test_fraction"], len(train.images), params.split_seed)
        train, test = sources.split_off_test(train, source["test_fraction"], params.split_seed)
    for split, data in (("train", train), ("test", test)):
        fraction = params.validation_fraction if split == "train" else None
        save_npz(output[split], **model_arrays(data.images, data.labels, fraction, params.split_seed))
        log.info("%s: %d images of %s pixels, %s", split, len(data.images),
                 "x".join(map(str, data.images.shape[1:])),
                 "no labels" if data.labels is None else f"labels {sorted(set(data.labels.tolist()))}")
    with atomic_path(output.images) as tmp, open(tmp, "w", newline="") as handle:
        writer = csv.writer(handle, delimiter="\t", lineterminator="\n")
        writer.writerow(["split", "image"])
        writer.writerows([("train", image) for image in train.ids] + [("test", image) for image in test.ids])
