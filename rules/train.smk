rule train:
    input:
        train=results("data", "train.npz"),
        code=library("atomic", "data", "model"),
    output:
        model=results("model", "autoencoder.keras"),
        history=results("model", "history.csv"),
    params:
        model=config["model"],
        seed=config["seed"],
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
