rule preprocess:
    input:
        **plan.source_inputs(DATASET, RAW_FILES),
        code=library("atomic", "idx", "data", "sources"),
    output:
        train=results("data", "train.npz"),
        test=results("data", "test.npz"),
        # Each image's id (its file, or its source and index) and split, for the assignments.
        images=results("data", "images.tsv"),
    log:
        log_file("preprocess"),
    # Shared between workflows with --cache; Snakemake forbids a benchmark: file on a cached
    # rule (a restored result has no run to time), and this light step does not need one.
    cache: True
    localrule: on_login_node()
    conda:
        "../envs/base.yaml"
    resources:
        mem_mb=1000,
        runtime=10,
    params:
        source=canonical(plan.source_settings(DATASET, folder_digest)),
        class_names=CLASS_NAMES,
        validation_fraction=config["preprocess"]["validation_fraction"],
        split_seed=config["preprocess"]["split_seed"],
    script:
        "../scripts/preprocess.py"
