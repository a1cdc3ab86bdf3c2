rule train:
    input:
        train=results("data", "train.npz"),
        code=library("atomic", "checkpoint", "data", "model"),
    output:
        model=results("model", "autoencoder.keras"),
        history=results("model", "history.csv"),
    params:
        model=canonical(config["model"]),
        seed=config["seed"],
        # Per-epoch checkpoints, kept apart from the outputs so a killed job can resume.
        checkpoint_dir=results("model", "checkpoint"),
    threads: 4
    resources:
        mem_mb=4000,
        runtime=120,
    log:
        log_file("train"),
    benchmark:
        benchmark_file("train")
    conda:
        "../envs/tensorflow.yaml"
    script:
        "../scripts/train.py"
