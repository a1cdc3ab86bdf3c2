rule preprocess:
    input:
        **raw_files(),
        code=library("atomic", "idx", "data"),
    output:
        train=results("data", "train.npz"),
        test=results("data", "test.npz"),
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
        md5={key: config["dataset"]["files"][key]["md5"] for key in RAW_KEYS},
        n_classes=n_classes(),
        validation_fraction=config["preprocess"]["validation_fraction"],
        split_seed=config["preprocess"]["split_seed"],
    script:
        "../scripts/preprocess.py"
