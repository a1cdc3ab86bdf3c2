rule cluster:
    input:
        train=results("embeddings", "train.npy"),
        test=results("embeddings", "test.npy"),
        code=library("atomic", "cluster"),
    output:
        train=results("clusters", "train.npy"),
        test=results("clusters", "test.npy"),
        centroids=results("clusters", "centroids.npy"),
    params:
        n_clusters=config["clustering"]["n_clusters"],
        n_init=config["clustering"]["n_init"],
        max_iter=config["clustering"]["max_iter"],
        normalize=config["clustering"]["normalize"],
        seed=config["seed"],
    threads: 2
    resources:
        mem_mb=2000,
        runtime=20,
    log:
        log_file("cluster"),
    benchmark:
        benchmark_file("cluster")
    conda:
        "../envs/sklearn.yaml"
    script:
        "../scripts/cluster.py"


rule decode_centroids:
    input:
        model=results("model", "autoencoder.keras"),
        codes=results("embeddings", "train.npy"),
        clusters=results("clusters", "train.npy"),
        train=results("data", "train.npz"),
        code=library("atomic", "model"),
    output:
        images=results("clusters", "centroid_images.npy"),
    params:
        n_clusters=config["clustering"]["n_clusters"],
    resources:
        mem_mb=2000,
        runtime=10,
    log:
        log_file("decode_centroids"),
    benchmark:
        benchmark_file("decode_centroids")
    conda:
        "../envs/tensorflow.yaml"
    script:
        "../scripts/decode_centroids.py"
