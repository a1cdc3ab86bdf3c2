# mnist-sae-pipeline: a dataset's raw images (IDX files, an .npz archive or a folder of images) ->
# autoencoder -> embeddings -> (UMAP) -> clusters -> metrics, figures, for every experiment and
# seed in config.yaml, and a summary comparing them.
# Each stage lives in rules/<stage>.smk; the config's validation and the bindings of the
# workflow's decisions (scripts/saepipe/plan.py) to Snakemake in rules/common.smk.

from snakemake.utils import min_version

min_version("9.0")


configfile: "config.yaml"


include: "rules/common.smk"


wildcard_constraints:
    experiment="|".join(EXPERIMENTS),
    seed=r"\d+",
    model=r"[0-9a-f]{10}",


report: "report/workflow.rst"


include: "rules/download.smk"
include: "rules/preprocess.smk"
include: "rules/train.smk"
include: "rules/embed.smk"
include: "rules/manifold.smk"
include: "rules/cluster.smk"
include: "rules/refine.smk"
include: "rules/evaluate.smk"
include: "rules/assignments.smk"
include: "rules/figures.smk"
include: "rules/summary.smk"


rule all:
    default_target: True
    input:
        PLAN.all_outputs(),
