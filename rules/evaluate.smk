rule evaluate:
    input:
        unpack(before_refinement),
        unpack(label_free_inputs),
        train=results("data", "train.npz"),
        test=results("data", "test.npz"),
        train_clusters=assignments_path("train"),
        test_clusters=assignments_path("test"),
        all_clusters=assignments_path("all"),
        mse=model_path("embeddings", "reconstruction_mse.json"),
        code=library("atomic", "data", "metrics"),
    output:
        # test: true label x cluster, for a dataset with labels
        **confusion_output(),
        metrics=results(RUN, "metrics", "metrics.json"),
        table=run_report(results(RUN, "metrics", "metrics.tsv"), "metrics"),
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
        labelled=labelled(),
        refined=lambda wildcards: refines(wildcards.experiment),
        n_classes=n_classes() if labelled() else None,
        n_clusters=lambda wildcards: experiment(wildcards)["clustering"]["n_clusters"],
        # draws the silhouette score's sample (datasets without labels)
        seed=lambda wildcards: int(wildcards.seed),
    script:
        "../scripts/evaluate.py"
