rule cluster:
    input:
        unpack(per_run(PLAN.clustered_points)),
        code=library("atomic", "cluster", "data"),
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
        clustering=lambda wildcards: canonical(experiment(wildcards)["clustering"]),
        seed=lambda wildcards: int(wildcards.seed),
    script:
        "../scripts/cluster.py"


rule decode_centroids:
    input:
        model=per_run(PLAN.model_path, "autoencoder.keras"),
        codes=per_run(PLAN.model_path, "embeddings", "train.npy"),
        clusters=per_run(PLAN.assignments, "train"),
        train=results("data", "train.npz"),
        code=library("atomic", "data", "model"),
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
