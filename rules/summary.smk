# Compare every experiment and seed of the default target: a table and a figure.

SUMMARY_ROWS = PLAN.summary_rows()


rule summary:
    input:
        **plan.summary_inputs(SUMMARY_ROWS),
        code=library("atomic", "summary"),
    output:
        comparison_report(results("summary.csv"), "summary"),
    log:
        log_file("summary"),
    localrule: on_login_node()
    conda:
        "../envs/sklearn.yaml"
    resources:
        mem_mb=500,
        runtime=5,
    params:
        runs=plan.summary_params(SUMMARY_ROWS),
        settings={
            row["experiment"]: canonical(EXPERIMENTS[row["experiment"]])
            for row in SUMMARY_ROWS
        },
    script:
        "../scripts/summarize.py"


rule plot_comparison:
    input:
        summary=results("summary.csv"),
        code=library("atomic", "summary", "figures"),
    output:
        comparison_report(results("comparison.png"), "comparison"),
    log:
        log_file("plot_comparison"),
    localrule: on_login_node()
    conda:
        "../envs/plot.yaml"
    resources:
        mem_mb=1000,
        runtime=5,
    script:
        "../scripts/plot_comparison.py"
