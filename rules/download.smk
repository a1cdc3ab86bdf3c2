# No code inputs: the MD5 check pins the files, so a change to the fetching code must not
# make every later step rerun.
# Only for IDX datasets: the other formats are the user's own files, read where they are.
if plan.downloads(DATASET):

    rule download:
        output:
            **RAW_FILES,
        log:
            log_file("download"),
        # Shared between workflows with --cache; Snakemake forbids a benchmark: file on a cached
        # rule (a restored result has no run to time), and this light step does not need one.
        cache: True
        localrule: on_login_node()
        conda:
            "../envs/base.yaml"
        resources:
            mem_mb=512,
            runtime=30,
        # The names and MD5s pin what the files are. Where they come from (mirrors, timeout,
        # retries) does not change them, so the script reads those from the config: a new mirror
        # list must not make Snakemake download again and retrain everything downstream.
        params:
            files=[canonical(config["dataset"]["files"][key]) for key in plan.RAW_KEYS],
        script:
            "../scripts/download.py"
