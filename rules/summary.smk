# Compare every experiment and seed of the default target: a table and a figure.


rule summary:
    input:
        metrics=[row["metrics"] for row in summary_rows()],
        benchmarks=[
            path for row in summary_rows() for path in row["benchmarks"].values()
        ],
        code=library("atomic", "summary"),
    output:
        report(
            results("summary.csv"),
            caption="../report/summary.rst",
            category="Comparison",
        ),
    log:
        log_file("summary"),
    conda:
        "../envs/sklearn.yaml"
    resources:
        mem_mb=500,
        runtime=5,
    params:
        runs=summary_rows(),
        settings={
            row["experiment"]: canonical(EXPERIMENTS[row["experiment"]])
            for row in summary_rows()
        },
    script:
        "../scripts/summarize.py"


rule plot_comparison:
    input:
        summary=results("summary.csv"),
        code=library("atomic", "summary", "figures"),
    output:
        report(
            results("comparison.png"),
            caption="../report/comparison.rst",
            category="Comparison",
        ),
    log:
        log_file("plot_comparison"),
    conda:
        "../envs/plot.yaml"
    resources:
        mem_mb=1000,
        runtime=5,
    script:
        "../scripts/plot_comparison.py"
