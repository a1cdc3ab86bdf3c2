"""Choose the number of clusters from the data (rule `choose_k`, for clustering.n_clusters: auto):
per protocol, from the points its clustering is fitted on (the training points for the train/test
protocol, all points for the all-images protocol), never from labels."""

from saepipe import job_threads
from saepipe.atomic import atomic_path, save_json
from saepipe.cluster import clustering_points
from saepipe.kchoice import PROTOCOLS, choice_table, choose_k, describe
from saepipe.logs import logged_step

with logged_step(snakemake.log[0]) as log:
    settings, seed = snakemake.params.clustering, snakemake.params.seed
    points = clustering_points(snakemake.input, settings["normalize"])
    choices = {}
    for split, protocol in PROTOCOLS.items():
        log.info("%s: trying k = %d to %d on the %d %s points", protocol, *settings["k_range"], len(points[split]),
                 split)
        choices[split] = choose_k(points[split], settings, seed, workers=job_threads(snakemake.threads))
        for line in describe(choices[split]):
            log.info("%s: %s", protocol, line)
    with atomic_path(snakemake.output.table) as tmp:
        choice_table(choices).to_csv(tmp, sep="\t", index=False, float_format="%.6g")
    save_json(snakemake.output.chosen, {split: choice.k for split, choice in choices.items()})
