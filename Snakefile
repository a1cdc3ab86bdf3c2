# mnist-sae-pipeline: raw IDX files -> sparse autoencoder -> embeddings -> KMeans -> metrics, figures.
# Each stage lives in rules/<stage>.smk; path and parameter helpers in rules/common.smk.

from snakemake.utils import min_version, validate

min_version("9.0")


configfile: "config.yaml"


include: "rules/common.smk"


config.update(typed_like_schema(config, yaml.safe_load(SCHEMA.read_text())))
validate(config, "schemas/config.schema.yaml")
check_config()


report: "report/workflow.rst"



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
