rule evaluate:
    input:
        train=results("data", "train.npz"),
        test=results("data", "test.npz"),
        train_clusters=results("clusters", "train.npy"),
        test_clusters=results("clusters", "test.npy"),
        mse=results("embeddings", "reconstruction_mse.json"),
        code=library("atomic", "data", "metrics"),
    output:
        metrics=results("metrics", "metrics.json"),
        table=report(
            results("metrics", "metrics.tsv"),
            caption="../report/metrics.rst",
            category="Metrics",
        ),
        confusion=results("metrics", "confusion_matrix.tsv"),
    params:
        n_classes=n_classes(),
        n_clusters=config["clustering"]["n_clusters"],
    resources:
        mem_mb=2000,
        runtime=10,
    log:
        log_file("evaluate"),
    benchmark:
        benchmark_file("evaluate")
    conda:
        "../envs/sklearn.yaml"
    script:
        "../scripts/evaluate.py"
