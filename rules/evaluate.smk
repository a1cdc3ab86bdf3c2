rule evaluate:
    input:
        unpack(before_refinement),
        train=results("data", "train.npz"),
        test=results("data", "test.npz"),
        train_clusters=assignments_path("train"),
        test_clusters=assignments_path("test"),
        all_clusters=assignments_path("all"),
        mse=model_path("embeddings", "reconstruction_mse.json"),
        code=library("atomic", "data", "metrics"),
    output:
        metrics=results(RUN, "metrics", "metrics.json"),
        table=run_report(results(RUN, "metrics", "metrics.tsv"), "metrics"),
        confusion=results(RUN, "metrics", "confusion_matrix.tsv"),
    log:
        log_file(RUN, "evaluate"),
    benchmark:
        benchmark_file(RUN, "evaluate")
    group:
        job_group(RUN_GROUP)
    conda:
        "../envs/sklearn.yaml"
    resources:
        mem_mb=1000,
        runtime=10,
    params:
        n_classes=n_classes(),
        n_clusters=lambda wildcards: experiment(wildcards)["clustering"]["n_clusters"],
    script:
        "../scripts/evaluate.py"
