# One rule per figure; scripts/plot.py draws the one its rule names, so all share its modules.


rule figures:
    input:
        figure_files(),


rule plot_training_curves:
    input:
        history=results("model", "history.csv"),
        code=library("atomic", "data", "figures"),
    output:
        report(
            results("figures", "training_curves.png"),
            caption="../report/training_curves.rst",
            category="Figures",
        ),
    resources:
        mem_mb=1000,
        runtime=5,
    log:
        log_file("plot_training_curves"),
    conda:
        "../envs/plot.yaml"
    script:
        "../scripts/plot.py"


rule plot_reconstructions:
    input:
        examples=results("embeddings", "reconstruction_examples.npz"),
        code=library("atomic", "data", "figures"),
    output:
        report(
            results("figures", "reconstructions.png"),
            caption="../report/reconstructions.rst",
            category="Figures",
        ),
    resources:
        mem_mb=1000,
        runtime=5,
    log:
        log_file("plot_reconstructions"),
    conda:
        "../envs/plot.yaml"
    script:
        "../scripts/plot.py"


rule plot_centroids:
    input:
        images=results("clusters", "centroid_images.npy"),
        metrics=results("metrics", "metrics.json"),
        code=library("atomic", "data", "figures"),
    output:
        report(
            results("figures", "centroids.png"),
            caption="../report/centroids.rst",
            category="Figures",
        ),
    params:
        class_names=config["dataset"]["class_names"],
    resources:
        mem_mb=1000,
        runtime=5,
    log:
        log_file("plot_centroids"),
    conda:
        "../envs/plot.yaml"
    script:
        "../scripts/plot.py"


rule plot_confusion_matrix:
    input:
        confusion=results("metrics", "confusion_matrix.tsv"),
        metrics=results("metrics", "metrics.json"),
        code=library("atomic", "data", "figures"),
    output:
        report(
            results("figures", "confusion_matrix.png"),
            caption="../report/confusion_matrix.rst",
            category="Figures",
        ),
    params:
        class_names=config["dataset"]["class_names"],
    resources:
        mem_mb=1000,
        runtime=5,
    log:
        log_file("plot_confusion_matrix"),
    conda:
        "../envs/plot.yaml"
    script:
        "../scripts/plot.py"


rule plot_embedding_map:
    input:
        codes=results("embeddings", "test.npy"),
        clusters=results("clusters", "test.npy"),
        test=results("data", "test.npz"),
        code=library("atomic", "data", "figures"),
    output:
        report(
            results("figures", "embedding_map.png"),
            caption="../report/embedding_map.rst",
            category="Figures",
        ),
    params:
        class_names=config["dataset"]["class_names"],
        method=config["figures"]["map_method"],
        n_points=config["figures"]["map_points"],
        seed=config["seed"],
    threads: 2
    resources:
        mem_mb=2000,
        runtime=15,
    log:
        log_file("plot_embedding_map"),
    benchmark:
        benchmark_file("plot_embedding_map")
    conda:
        "../envs/plot.yaml"
    script:
        "../scripts/plot.py"


rule plot_code_activations:
    input:
        codes=results("embeddings", "test.npy"),
        code=library("atomic", "data", "figures"),
    output:
        report(
            results("figures", "code_activations.png"),
            caption="../report/code_activations.rst",
            category="Figures",
        ),
    resources:
        mem_mb=1000,
        runtime=5,
    log:
        log_file("plot_code_activations"),
    conda:
        "../envs/plot.yaml"
    script:
        "../scripts/plot.py"
