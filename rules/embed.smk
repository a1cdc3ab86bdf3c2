rule embed:
    input:
        model=results("model", "autoencoder.keras"),
        train=results("data", "train.npz"),
        test=results("data", "test.npz"),
        code=library("atomic", "data", "model"),
    output:
        train=results("embeddings", "train.npy"),
        test=results("embeddings", "test.npy"),
        mse=results("embeddings", "reconstruction_mse.json"),
        examples=results("embeddings", "reconstruction_examples.npz"),
    params:
        n_examples=config["figures"]["n_examples"],
    threads: 2
    resources:
        mem_mb=3000,
        runtime=20,
    log:
        log_file("embed"),
    benchmark:
        benchmark_file("embed")
    conda:
        "../envs/tensorflow.yaml"
    script:
        "../scripts/embed.py"
