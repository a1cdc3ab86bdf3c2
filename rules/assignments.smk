# Each image's cluster in a table a person can open: the train/test protocol's assignments.


rule assignments:
    input:
        unpack(refined_inputs),
        images=results("data", "images.tsv"),
        train_clusters=clusters_path("train"),
        test_clusters=clusters_path("test"),
        train_confidence=clusters_path("train", "confidence"),
        test_confidence=clusters_path("test", "confidence"),
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
        refined=lambda wildcards: refines(wildcards.experiment),
    script:
        "../scripts/assignments.py"
