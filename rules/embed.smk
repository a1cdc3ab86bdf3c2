rule embed:
    input:
        model=results(MODEL, "autoencoder.keras"),
        train=results("data", "train.npz"),
        test=results("data", "test.npz"),
        code=library("atomic", "checkpoint", "data", "model", "training"),
    output:
        train=results(MODEL, "embeddings", "train.npy"),
        test=results(MODEL, "embeddings", "test.npy"),
        mse=results(MODEL, "embeddings", "reconstruction_mse.json"),
        examples=results(MODEL, "embeddings", "reconstruction_examples.npz"),
    log:
        log_file(MODEL, "embed"),
    benchmark:
        benchmark_file(MODEL, "embed")
    group:
        job_group(MODEL_GROUP)
    conda:
        "../envs/tensorflow.yaml"
    threads: 2
    resources:
        mem_mb=3000,
        runtime=20,
    params:
        n_examples=config["figures"]["n_examples"],
    script:
        "../scripts/embed.py"
