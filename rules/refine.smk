# Self-labelling: a classifier trained on the clustering's confident members places every image
# (config refine.method: selflabel). Reads the clusters of its clustering's source experiment.


rule refine:
    input:
        # The embedding (or codes) the clustering was fitted on, for refine.move_blocks.
        unpack(per_run(PLAN.refine_points)),
        unpack(per_run(PLAN.chosen_k)),
        train=results("data", "train.npz"),
        test=results("data", "test.npz"),
        train_clusters=per_run(PLAN.clusters, "train"),
        all_clusters=per_run(PLAN.clusters, "all"),
        train_confidence=per_run(PLAN.clusters, "train", confidence=True),
        all_confidence=per_run(PLAN.clusters, "all", confidence=True),
        code=library(
            "atomic",
            "augment",
            "checkpoint",
            "cluster",
            "counts",
            "data",
            "manifold",
            "metrics",
            "refine",
            "training",
        ),
    output:
        train=results(RUN, "refined", "train.npy"),
        test=results(RUN, "refined", "test.npy"),
        all=results(RUN, "refined", "all.npy"),
        # Which images the first round trained on, for the refinement figure.
        confident=results(RUN, "refined", "confident.npz"),
    log:
        log_file(RUN, "refine"),
    benchmark:
        benchmark_file(RUN, "refine")
    group:
        job_group(RUN_GROUP)
    conda:
        "../envs/refine.yaml"
    threads: 2
    resources:
        mem_mb=4000,
        runtime=60,
    params:
        refine=lambda wildcards: canonical(experiment(wildcards)["refine"]),
        n_clusters=lambda wildcards: experiment(wildcards)["clustering"]["n_clusters"],
        normalize=lambda wildcards: experiment(wildcards)["clustering"]["normalize"],
        # refine.recluster clusters the classifier's features the experiment's own way.
        manifold=lambda wildcards: canonical(experiment(wildcards)["manifold"]),
        clustering=clustering_settings,
        compile_cache=".snakemake/numba-cache",
        seed=lambda wildcards: int(wildcards.seed),
    script:
        "../scripts/refine.py"
