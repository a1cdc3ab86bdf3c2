rule download:
    output:
        **raw_files(),
    params:
        files=[config["dataset"]["files"][key] for key in RAW_KEYS],
        mirrors=config["dataset"]["mirrors"],
        timeout=config["download"]["timeout"],
        retries=config["download"]["retries"],
        base_dir=workflow.basedir,
    resources:
        mem_mb=512,
        runtime=30,
    log:
        log_file("download"),
    benchmark:
        benchmark_file("download")
    conda:
        "../envs/base.yaml"
    script:
        "../scripts/download.py"
