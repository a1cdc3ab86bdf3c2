# One model per distinct model settings and seed (folder results/<dataset>/models/<id>/seed<n>/),
# however many experiments use it.
rule train:
    input:
        train=results("data", "train.npz"),
        code=library("atomic", "augment", "checkpoint", "data", "model", "training"),
    output:
        model=results(MODEL, "autoencoder.keras"),
        history=results(MODEL, "history.csv"),
        settings=results(MODEL, "settings.json"),
    log:
        log_file(MODEL, "train"),
    benchmark:
        benchmark_file(MODEL, "train")
    group:
        job_group(MODEL_GROUP)
    conda:
        "../envs/tensorflow.yaml"
    threads: 4
    resources:
        mem_mb=4000,
        runtime=120,
    params:
        model=lambda wildcards: canonical(MODELS[wildcards.model]),
        seed=lambda wildcards: int(wildcards.seed),
        checkpoint_dir=checkpoint_dir,
    script:
        "../scripts/train.py"
