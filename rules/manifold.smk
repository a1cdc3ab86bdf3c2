# Only for experiments with manifold.method umap; the others cluster the codes directly. The two
# protocols' UMAPs are independent fits, each on one thread, so they are two jobs that run side
# by side (on a cluster, two one-CPU jobs).
rule manifold:
    input:
        train=per_run(PLAN.model_path, "embeddings", "train.npy"),
        test=per_run(PLAN.model_path, "embeddings", "test.npy"),
        code=library("atomic", "data", "manifold"),
    output:
        train=results(RUN, "manifold", "train.npy"),
        test=results(RUN, "manifold", "test.npy"),
    log:
        log_file(RUN, "manifold"),
    benchmark:
        benchmark_file(RUN, "manifold")
    conda:
        "../envs/umap.yaml"
    # A seeded UMAP runs on one thread.
    threads: 1
    resources:
        mem_mb=3000,
        runtime=30,
    params:
        manifold=lambda wildcards: canonical(experiment(wildcards)["manifold"]),
        seed=lambda wildcards: int(wildcards.seed),
        # Fit train and transform test; manifold_all fits all images.
        protocol="train_test",
        # Compiled once, loaded by every later job (on a cluster, from any node).
        compile_cache=".snakemake/numba-cache",
    script:
        "../scripts/manifold.py"


# Fitted on train and test together: the all-images protocol. The same step, but for its
# protocol, output, log and benchmark.
use rule manifold as manifold_all with:
    output:
        all=results(RUN, "manifold", "all.npy"),
    log:
        log_file(RUN, "manifold_all"),
    benchmark:
        benchmark_file(RUN, "manifold_all")
    params:
        protocol="all",
