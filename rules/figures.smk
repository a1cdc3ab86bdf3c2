# One PNG per figure and run, all drawn by scripts/plot.py, which draws the figure its rule's
# params name. Each figure's rule is the first one's shape with its own inputs and params. The
# default target draws them for each experiment's first seed; any other run's figures are one
# target away: snakemake results/<dataset>/<experiment>/seed<n>/figures/<figure>.png


rule figures:
    input:
        PLAN.first_seed_figures(),


rule plot_training_curves:
    input:
        history=per_run(PLAN.model_path, "history.csv"),
        code=library("atomic", "counts", "data", "figures", "plots"),
    output:
        figure_output("training_curves"),
    log:
        log_file(RUN, "plot_training_curves"),
    group:
        job_group(RUN_GROUP)
    conda:
        "../envs/plot.yaml"
    resources:
        mem_mb=1000,
        runtime=5,
    params:
        figure="training_curves",
    script:
        "../scripts/plot.py"


use rule plot_training_curves as plot_reconstructions with:
    input:
        examples=per_run(PLAN.model_path, "embeddings", "reconstruction_examples.npz"),
        code=library("atomic", "counts", "data", "figures", "plots"),
    output:
        figure_output("reconstructions"),
    log:
        log_file(RUN, "plot_reconstructions"),
    params:
        figure="reconstructions",


use rule plot_training_curves as plot_centroids with:
    input:
        images=results(RUN, "clusters", "centroid_images.npy"),
        metrics=results(RUN, "metrics", "metrics.json"),
        code=library("atomic", "counts", "data", "figures", "plots"),
    output:
        figure_output("centroids"),
    log:
        log_file(RUN, "plot_centroids"),
    params:
        figure="centroids",
        class_names=CLASS_NAMES,


use rule plot_training_curves as plot_confusion_matrix with:
    input:
        confusion=results(RUN, "metrics", "confusion_matrix.tsv"),
        metrics=results(RUN, "metrics", "metrics.json"),
        code=library("atomic", "counts", "data", "figures", "plots"),
    output:
        figure_output("confusion_matrix"),
    log:
        log_file(RUN, "plot_confusion_matrix"),
    params:
        figure="confusion_matrix",
        class_names=CLASS_NAMES,


# A 2-D map (PCA or t-SNE) of a sample of the test codes: the one heavy figure.
use rule plot_training_curves as plot_embedding_map with:
    input:
        codes=per_run(PLAN.model_path, "embeddings", "test.npy"),
        clusters=per_run(PLAN.assignments, "test"),
        test=results("data", "test.npz"),
        code=library("atomic", "counts", "data", "figures", "plots"),
    output:
        figure_output("embedding_map"),
    log:
        log_file(RUN, "plot_embedding_map"),
    benchmark:
        benchmark_file(RUN, "plot_embedding_map")
    threads: 2
    resources:
        mem_mb=1000,
        runtime=15,
    params:
        figure="embedding_map",
        class_names=CLASS_NAMES,
        method=config["figures"]["map_method"],
        clustering=lambda wildcards: experiment(wildcards)["clustering"]["method"],
        n_points=config["figures"]["map_points"],
        seed=lambda wildcards: int(wildcards.seed),


use rule plot_training_curves as plot_code_activations with:
    input:
        codes=per_run(PLAN.model_path, "embeddings", "test.npy"),
        code=library("atomic", "counts", "data", "figures", "plots"),
    output:
        figure_output("code_activations"),
    log:
        log_file(RUN, "plot_code_activations"),
    params:
        figure="code_activations",


use rule plot_training_curves as plot_refinement with:
    input:
        unpack(per_run(PLAN.chosen_k)),
        train=results("data", "train.npz"),
        before=per_run(PLAN.clusters, "train"),
        after=results(RUN, "refined", "train.npy"),
        confident=results(RUN, "refined", "confident.npz"),
        code=library("atomic", "counts", "data", "figures", "plots"),
    output:
        figure_output("refinement"),
    log:
        log_file(RUN, "plot_refinement"),
    params:
        figure="refinement",
        n_clusters=lambda wildcards: experiment(wildcards)["clustering"]["n_clusters"],
        seed=lambda wildcards: int(wildcards.seed),


use rule plot_training_curves as plot_cluster_members with:
    input:
        unpack(per_run(PLAN.chosen_k)),
        train=results("data", "train.npz"),
        clusters=per_run(PLAN.assignments, "train"),
        code=library("atomic", "counts", "data", "figures", "plots"),
    output:
        figure_output("cluster_members"),
    log:
        log_file(RUN, "plot_cluster_members"),
    params:
        figure="cluster_members",
        n_clusters=lambda wildcards: experiment(wildcards)["clustering"]["n_clusters"],
        n_examples=config["figures"]["n_examples"],
        seed=lambda wildcards: int(wildcards.seed),


# n_clusters auto: the criteria of every k tried, per protocol, the chosen k marked.
use rule plot_training_curves as plot_k_choice with:
    input:
        table=per_run(PLAN.chosen_k_table),
        code=library("atomic", "counts", "data", "figures", "plots"),
    output:
        figure_output("k_choice"),
    log:
        log_file(RUN, "plot_k_choice"),
    params:
        figure="k_choice",
