# mnist-sae-pipeline: raw IDX files -> sparse autoencoder -> embeddings -> KMeans -> metrics, figures.
# Each stage lives in rules/<stage>.smk; path and parameter helpers in rules/common.smk.

from snakemake.utils import min_version, validate

min_version("9.0")


configfile: "config.yaml"


validate(config, "schemas/config.schema.yaml")


report: "report/workflow.rst"


include: "rules/common.smk"


check_config()


include: "rules/download.smk"
include: "rules/preprocess.smk"
include: "rules/train.smk"
include: "rules/embed.smk"
include: "rules/cluster.smk"
include: "rules/evaluate.smk"
include: "rules/figures.smk"


rule all:
    default_target: True
    input:
        all_outputs(),
