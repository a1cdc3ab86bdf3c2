rule evaluate:
    input:
        unpack(per_run(PLAN.before_refinement)),
        unpack(per_run(PLAN.label_free)),
        unpack(per_run(PLAN.chosen_k)),
        train=results("data", "train.npz"),
        test=results("data", "test.npz"),
        train_clusters=per_run(PLAN.assignments, "train"),
        test_clusters=per_run(PLAN.assignments, "test"),
        all_clusters=per_run(PLAN.assignments, "all"),
        mse=per_run(PLAN.model_path, "embeddings", "reconstruction_mse.json"),
        code=library("atomic", "counts", "data", "metrics"),
    output:
        # test: true label x cluster, for a dataset with labels
        **(
            {"confusion": results(RUN, "metrics", "confusion_matrix.tsv")}
            if PLAN.labelled
            else {}
        ),
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
        labelled=PLAN.labelled,
        refined=lambda wildcards: PLAN.refines(wildcards.experiment),
        n_classes=len(CLASS_NAMES) if PLAN.labelled else None,
        # a number, or auto: then the numbers choose_k chose (chosen_k)
        n_clusters=lambda wildcards: experiment(wildcards)["clustering"]["n_clusters"],
        # draws the silhouette score's sample (datasets without labels)
        seed=lambda wildcards: int(wildcards.seed),
    script:
        "../scripts/evaluate.py"
