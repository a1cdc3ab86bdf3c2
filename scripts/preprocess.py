"""Read the dataset's images (IDX, .npz or a folder of image files), check them, and write scaled,
flattened float32 arrays and a table of which image went to which split (rule `preprocess`)."""

import csv

from saepipe import sources
from saepipe.atomic import atomic_path, save_npz
from saepipe.data import scale_and_flatten, validation_mask
from saepipe.idx import load_image_label_pair, verify_md5
from saepipe.logs import logged_step


def idx_splits(inputs, source, n_classes):
    # Files placed by hand never went through the download's check: check them here too.
    for key, md5 in source["md5"].items():
        verify_md5(inputs[key], md5)
    splits = {}
    for split in ("train", "test"):
        images, labels = load_image_label_pair(inputs[f"{split}_images"], inputs[f"{split}_labels"], n_classes)
        name = source["names"][f"{split}_images"]
        splits[split] = sources.Split(images, labels, [f"{name}[{i}]" for i in range(len(images))])
    return splits["train"], splits["test"]


def npz_splits(source, n_classes):
    train = sources.read_npz_split(source["train"], n_classes)
    test = sources.read_npz_split(source["test"], n_classes) if source["test"] else None
    if test is not None:
        sources.check_alike(train, test, source["train"], source["test"])
    return train, test


def folder_splits(source):
    listings = {split: sources.list_folder(source[split]) if source[split] else None for split in ("train", "test")}
    # The workflow planned this run for the folder as it was at start-up; an image changed since
    # then would be read without Snakemake knowing to rerun what follows.
    for split, listing in listings.items():
        if listing is not None:
            digest = sources.manifest_digest(sources.manifest(listing), listing.classes)
            if digest != source["digest"][split]:
                raise sources.DatasetError(f"{source[split]}: its images changed after the workflow started; "
                                           "run Snakemake again")
    return sources.read_folder_splits(listings["train"], listings["test"], source["image_size"])


with logged_step(snakemake.log[0]) as log:
    inputs, params, output = snakemake.input, snakemake.params, snakemake.output
    source = params.source
    n_classes = len(params.class_names) if params.class_names else None
    if source["format"] == "idx":
        train, test = idx_splits(inputs, source, n_classes)
    elif source["format"] == "npz":
        train, test = npz_splits(source, n_classes)
    else:
        train, test = folder_splits(source)
    if test is None:
        log.info("no test split given: drawing %.1f %% of the %d images (dataset.test_fraction, seed %d)",
                 100 * source["test_fraction"], len(train.images), params.split_seed)
        train, test = sources.split_off_test(train, source["test_fraction"], params.split_seed)
    for split, data in (("train", train), ("test", test)):
        # A fixed member order (x, y, image_shape, is_validation): the archive's bytes depend on it.
        arrays = {"x": scale_and_flatten(data.images)}
        if data.labels is not None:
            arrays["y"] = data.labels
        arrays["image_shape"] = list(data.images.shape[1:])
        if split == "train":
            arrays["is_validation"] = validation_mask(len(data.images), params.validation_fraction,
                                                      params.split_seed)
        save_npz(output[split], **arrays)
        log.info("%s: %d images of %s pixels, %s", split, len(data.images),
                 "x".join(map(str, data.images.shape[1:])),
                 "no labels" if data.labels is None else f"labels {sorted(set(data.labels.tolist()))}")
    with atomic_path(output.images) as tmp, open(tmp, "w", newline="") as handle:
        writer = csv.writer(handle, delimiter="\t", lineterminator="\n")
        writer.writerow(["split", "image"])
        writer.writerows([("train", image) for image in train.ids] + [("test", image) for image in test.ids])
