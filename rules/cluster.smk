# Only for experiments with clustering.n_clusters auto: the number of clusters of each protocol,
# chosen from the points its clustering is fitted on, with the table of every k tried.
rule choose_k:
    input:
        unpack(per_run(PLAN.clustered_points)),
        code=library("atomic", "cluster", "data", "kchoice"),
    output:
        table=results(RUN, "clusters", "k_choice.tsv"),
        chosen=results(RUN, "clusters", "k.json"),
    log:
        log_file(RUN, "choose_k"),
    benchmark:
        benchmark_file(RUN, "choose_k")
    group:
        job_group(RUN_GROUP)
    conda:
        "../envs/sklearn.yaml"
    threads: 2
    resources:
        mem_mb=1000,
        runtime=20,
    params:
        clustering=clustering_settings,
        seed=lambda wildcards: int(wildcards.seed),
    script:
        "../scripts/choose_k.py"


rule cluster:
    input:
        unpack(per_run(PLAN.clustered_points)),
        unpack(per_run(PLAN.chosen_k)),
        code=library("atomic", "cluster", "counts", "data"),
    output:
        train=results(RUN, "clusters", "train.npy"),
        test=results(RUN, "clusters", "test.npy"),
        # Fitted on train and test together: the all-images protocol.
        all=results(RUN, "clusters", "all.npy"),
        centroids=results(RUN, "clusters", "centroids.npy"),
        # How surely each point belongs to its cluster, for a refine step's selection and the
        # assignments table.
        train_confidence=results(RUN, "clusters", "train_confidence.npy"),
        test_confidence=results(RUN, "clusters", "test_confidence.npy"),
        all_confidence=results(RUN, "clusters", "all_confidence.npy"),
    log:
        log_file(RUN, "cluster"),
    benchmark:
        benchmark_file(RUN, "cluster")
    group:
        job_group(RUN_GROUP)
    conda:
        "../envs/sklearn.yaml"
    threads: 2
    resources:
        mem_mb=1000,
        runtime=20,
    params:
        clustering=clustering_settings,
        seed=lambda wildcards: int(wildcards.seed),
    script:
        "../scripts/cluster.py"


rule decode_centroids:
    input:
        unpack(per_run(PLAN.chosen_k)),
        model=per_run(PLAN.model_path, "autoencoder.keras"),
        codes=per_run(PLAN.model_path, "embeddings", "train.npy"),
        clusters=per_run(PLAN.assignments, "train"),
        train=results("data", "train.npz"),
        code=library("atomic", "checkpoint", "counts", "data", "model", "training"),
    output:
        images=results(RUN, "clusters", "centroid_images.npy"),
    log:
        log_file(RUN, "decode_centroids"),
    benchmark:
        benchmark_file(RUN, "decode_centroids")
    group:
        job_group(RUN_GROUP)
    conda:
        "../envs/tensorflow.yaml"
    resources:
        mem_mb=2000,
        runtime=10,
    params:
        n_clusters=lambda wildcards: experiment(wildcards)["clustering"]["n_clusters"],
    script:
        "../scripts/decode_centroids.py"
