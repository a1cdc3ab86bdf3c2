"""Check the raw IDX files and write scaled, flattened float32 arrays (rule `preprocess`)."""

from saepipe.atomic import save_npz
from saepipe.data import scale_and_flatten, validation_mask
from saepipe.idx import load_image_label_pair, verify_md5
from saepipe.logs import logged_step

with logged_step(snakemake.log[0]) as log:
    inputs, params = snakemake.input, snakemake.params
    # Files placed by hand never went through the download's check: check them here too.
    for key, md5 in params.md5.items():
        verify_md5(inputs[key], md5)
    for split in ("train", "test"):
        images, labels = load_image_label_pair(
            inputs[f"{split}_images"], inputs[f"{split}_labels"], params.n_classes
        )
        arrays = {
            "x": scale_and_flatten(images),
            "y": labels,
            "image_shape": list(images.shape[1:]),
        }
        if split == "train":
            arrays["is_validation"] = validation_mask(
                len(labels), params.validation_fraction, params.split_seed
            )
        save_npz(snakemake.output[split], **arrays)
        log.info("%s: %d images of %s pixels, labels %s", split, len(labels),
                 "x".join(map(str, images.shape[1:])), sorted(set(labels.tolist())))
