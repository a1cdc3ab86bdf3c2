# Each image's cluster in a table a person can open: the train/test protocol's assignments.


rule assignments:
    input:
        unpack(per_run(PLAN.refined)),
        images=results("data", "images.tsv"),
        train_clusters=per_run(PLAN.clusters, "train"),
        test_clusters=per_run(PLAN.clusters, "test"),
        train_confidence=per_run(PLAN.clusters, "train", confidence=True),
        test_confidence=per_run(PLAN.clusters, "test", confidence=True),
        code=library("atomic", "data", "summary"),
    output:
        results(RUN, "assignments.csv"),
    log:
        log_file(RUN, "assignments"),
    group:
        job_group(RUN_GROUP)
    conda:
        "../envs/sklearn.yaml"
    resources:
        mem_mb=1000,
        runtime=5,
    params:
        refined=lambda wildcards: PLAN.refines(wildcards.experiment),
    script:
        "../scripts/assignments.py"
