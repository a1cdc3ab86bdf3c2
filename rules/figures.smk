# One rule per figure; scripts/plot.py draws the one its rule names, so all share its modules.
# The default target draws them for each experiment's first seed; any other run's figures are
# one target away: snakemake results/<dataset>/<experiment>/seed<n>/figures/<figure>.png


rule figures:
    input:
        [
            path
            for name in config.get("run", list(EXPERIMENTS))
            for path in figure_files(name, EXPERIMENTS[name]["seeds"][0])
        ],


rule plot_training_curves:
    input:
        history=model_path("history.csv"),
        code=library("atomic", "data", "figures"),
    output:
        run_report(results(RUN, "figures", "training_curves.png"), "training_curves"),
    log:
        log_file(RUN, "plot_training_curves"),
    group:
        job_group(RUN_GROUP)
    conda:
        "../envs/plot.yaml"
    resources:
        mem_mb=1000,
        runtime=5,
    script:
        "../scripts/plot.py"


rule plot_reconstructions:
    input:
        examples=model_path("embeddings", "reconstruction_examples.npz"),
        code=library("atomic", "data", "figures"),
    output:
        run_report(results(RUN, "figures", "reconstructions.png"), "reconstructions"),
    log:
        log_file(RUN, "plot_reconstructions"),
    group:
        job_group(RUN_GROUP)
    conda:
        "../envs/plot.yaml"
    resources:
        mem_mb=1000,
        runtime=5,
    script:
        "../scripts/plot.py"


rule plot_centroids:
    input:
        images=results(RUN, "clusters", "centroid_images.npy"),
        metrics=results(RUN, "metrics", "metrics.json"),
        code=library("atomic", "data", "figures"),
    output:
        run_report(results(RUN, "figures", "centroids.png"), "centroids"),
    log:
        log_file(RUN, "plot_centroids"),
    group:
        job_group(RUN_GROUP)
    conda:
        "../envs/plot.yaml"
    resources:
        mem_mb=1000,
        runtime=5,
    params:
        class_names=class_names(),
    script:
        "../scripts/plot.py"


rule plot_confusion_matrix:
    input:
        confusion=results(RUN, "metrics", "confusion_matrix.tsv"),
        metrics=results(RUN, "metrics", "metrics.json"),
        code=library("atomic", "data", "figures"),
    output:
        run_report(results(RUN, "figures", "confusion_matrix.png"), "confusion_matrix"),
    log:
        log_file(RUN, "plot_confusion_matrix"),
    group:
        job_group(RUN_GROUP)
    conda:
        "../envs/plot.yaml"
    resources:
        mem_mb=1000,
        runtime=5,
    params:
        class_names=class_names(),
    script:
        "../scripts/plot.py"


rule plot_embedding_map:
    input:
        codes=model_path("embeddings", "test.npy"),
        clusters=assignments_path("test"),
        test=results("data", "test.npz"),
        code=library("atomic", "data", "figures"),
    output:
        run_report(results(RUN, "figures", "embedding_map.png"), "embedding_map"),
    log:
        log_file(RUN, "plot_embedding_map"),
    benchmark:
        benchmark_file(RUN, "plot_embedding_map")
    group:
        job_group(RUN_GROUP)
    conda:
        "../envs/plot.yaml"
    threads: 2
    resources:
        mem_mb=1000,
        runtime=15,
    params:
        class_names=class_names(),
        method=config["figures"]["map_method"],
        clustering=lambda wildcards: experiment(wildcards)["clustering"]["method"],
        n_points=config["figures"]["map_points"],
        seed=lambda wildcards: int(wildcards.seed),
    script:
        "../scripts/plot.py"


rule plot_code_activations:
    input:
        codes=model_path("embeddings", "test.npy"),
        code=library("atomic", "data", "figures"),
    output:
        run_report(results(RUN, "figures", "code_activations.png"), "code_activations"),
    log:
        log_file(RUN, "plot_code_activations"),
    group:
        job_group(RUN_GROUP)
    conda:
        "../envs/plot.yaml"
    resources:
        mem_mb=1000,
        runtime=5,
    script:
        "../scripts/plot.py"


rule plot_refinement:
    input:
        train=results("data", "train.npz"),
        before=clusters_path("train"),
        after=results(RUN, "refined", "train.npy"),
        confident=results(RUN, "refined", "confident.npz"),
        code=library("atomic", "data", "figures"),
    output:
        run_report(results(RUN, "figures", "refinement.png"), "refinement"),
    log:
        log_file(RUN, "plot_refinement"),
    group:
        job_group(RUN_GROUP)
    conda:
        "../envs/plot.yaml"
    resources:
        mem_mb=1000,
        runtime=5,
    params:
        n_clusters=lambda wildcards: experiment(wildcards)["clustering"]["n_clusters"],
        seed=lambda wildcards: int(wildcards.seed),
    script:
        "../scripts/plot.py"


rule plot_cluster_members:
    input:
        train=results("data", "train.npz"),
        clusters=assignments_path("train"),
        code=library("atomic", "data", "figures"),
    output:
        run_report(results(RUN, "figures", "cluster_members.png"), "cluster_members"),
    log:
        log_file(RUN, "plot_cluster_members"),
    group:
        job_group(RUN_GROUP)
    conda:
        "../envs/plot.yaml"
    resources:
        mem_mb=1000,
        runtime=5,
    params:
        n_clusters=lambda wildcards: experiment(wildcards)["clustering"]["n_clusters"],
        n_examples=config["figures"]["n_examples"],
        seed=lambda wildcards: int(wildcards.seed),
    script:
        "../scripts/plot.py"
