#!/usr/bin/env python3
"""Write docs/results.md from the benchmark's records (bench/records/*.json, each written by
`bench/benchmark.py --json`): per dataset, the mean, std and every seed of each experiment's
scores, the time of a seed's steps, and what measured them (command, versions, CPU); then the
records of `bench/choose_k.py --json` (bench/records/k-choice/*.json): the k chosen per seed.

    python bench/results_page.py                 # or: make results
    python bench/results_page.py --check         # exit 1 when docs/results.md is not what the records give
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
RECORDS = REPO / "bench" / "records"
PAGE = REPO / "docs" / "results.md"
# (summary column, heading): the two protocols kept apart.
SCORES = [
    ("test_accuracy_majority", "test accuracy (majority map)"),
    ("test_accuracy_hungarian", "test accuracy (Hungarian map)"),
    ("test_nmi", "test NMI"),
    ("all_accuracy_hungarian", "all images: Hungarian accuracy"),
    ("all_nmi", "all images: NMI"),
]
INTRO = """# Results

Written by `python bench/results_page.py` from the records in `bench/records/`, which
`bench/benchmark.py --json` writes (`make bench` runs both); do not edit by hand. Test accuracy is
the train/test protocol (clusters fitted on the training images, mapped to labels with the
training labels only, applied to the test images); "all images" is the all-images protocol
(fitted and scored on train and test together, best one-to-one map). Means over the seeds, the
standard deviation in brackets, every seed listed. A seed fixes the numbers on one machine; other
CPUs give other numbers (see docs/pipeline.md).
"""


def mean_std(values: list[float]) -> str:
    return f"{statistics.fmean(values):.4f} ({statistics.pstdev(values):.4f})"


def experiment_rows(runs: list[dict]) -> list[tuple[str, dict[str, list[float]], list[float]]]:
    """Per experiment, in the record's order: its scores by column (seed order) and its seeds' seconds."""
    names = list(dict.fromkeys(run["experiment"] for run in runs))
    rows = []
    for name in names:
        mine = sorted((r for r in runs if r["experiment"] == name), key=lambda r: r["seed"])
        scores = {col: [r[col] for r in mine] for col, _ in SCORES if all(r.get(col) is not None for r in mine)}
        seconds = [r["seconds_total"] for r in mine if r.get("seconds_total") is not None]
        rows.append((name, scores, seconds))
    return rows


def step_table(runs: list[dict]) -> list[str]:
    """Each run's step times (summary's seconds_<step>, wall clock), in the record's order: a
    markdown table with a column for every step any run timed, and the total."""
    steps = list(dict.fromkeys(key for run in runs for key in run
                               if key.startswith("seconds_") and key != "seconds_total"))
    steps = [step for step in steps if any(run.get(step) is not None for run in runs)]
    if not steps:
        return []
    columns = steps + ["seconds_total"]
    lines = ["Each seed's steps, wall-clock seconds (a refining experiment's include the steps it shares "
             "with the experiment whose clustering it refines):", "",
             "| experiment | seed | " + " | ".join(c.removeprefix("seconds_") for c in columns) + " |",
             "|---" * (len(columns) + 2) + "|"]
    for run in runs:
        cells = [f"{run[c]:.0f}" if run.get(c) is not None else "" for c in columns]
        lines.append(f"| `{run['experiment']}` | {run['seed']} | " + " | ".join(cells) + " |")
    return lines


def overlay(command: str) -> str:
    """The config files a benchmark laid over config.yaml (its --configfile), as a heading names them."""
    words = command.split()
    if "--configfile" not in words[:-1]:
        return ""
    files = words[words.index("--configfile") + 1:]
    files = files[:next((i for i, word in enumerate(files) if word.startswith("--")), len(files))]
    return f" (`--configfile {' '.join(files)}`)"


def record_section(record: dict) -> str:
    runs = record["runs"]
    rows = experiment_rows(runs)
    shown = [(col, title) for col, title in SCORES if any(col in scores for _, scores, _ in rows)]
    seeds = sorted({run["seed"] for run in runs})
    machine, versions = record["machine"], record["versions"]
    lines = [
        f"## {record['dataset']}{overlay(record['command'])}: {', '.join(name for name, _, _ in rows)}; "
        f"seeds {', '.join(map(str, seeds))}",
        "",
        f"`{record['command']}` on {record['date']}: {machine['cpu']}, {machine['cores']} cores"
        f"{', ' + machine['flags'] if machine.get('flags') else ''}, no GPU; "
        + ", ".join(f"{k} {v}" for k, v in versions.items())
        + f". The whole run, download to summary: {record['timings']['whole run s']:.0f} s.",
        "",
    ]
    if record.get("note"):
        lines += [record["note"], ""]
    timed = any(seconds for _, _, seconds in rows)
    headings = [title for _, title in shown] + (["a seed's steps"] if timed else [])
    lines += ["| experiment | " + " | ".join(headings) + " |", "|---" * (len(headings) + 1) + "|"]
    for name, scores, seconds in rows:
        cells = [mean_std(scores[col]) if col in scores else "" for col, _ in shown]
        if timed:
            cells.append(f"{min(seconds):.0f}-{max(seconds):.0f} s" if seconds else "")
        lines.append(f"| `{name}` | " + " | ".join(cells) + " |")
    lines += ["", "Per seed:", ""]
    for name, scores, _ in rows:
        per_seed = "; ".join(f"{title} " + ", ".join(f"{v:.4f}" for v in scores[col])
                             for col, title in shown if col in scores)
        lines.append(f"- `{name}`: {per_seed}")
    steps = step_table(runs)
    return "\n".join(lines + ([""] + steps if steps else [])) + "\n"


SEED_KEYS = ("seed", "criteria", "choose_k_s", "cluster_s")


def k_choice_section(record: dict) -> str:
    """A record of `bench/choose_k.py`: per seed, the k each protocol chose and what each criterion
    alone would have chosen, and the NMI and ARI of the chosen k beside those of the given k."""
    seeds = record["seeds"]
    given, auto = record.get("experiments") or [k for k in seeds[0] if k not in SEED_KEYS]
    machine, versions = record["machine"], record["versions"]

    def pair(run: dict, score: str) -> str:
        return "; ".join(f"{run[f'{split}_{score}']:.4f}" for split in ("test", "all"))

    lines = [f"## Choosing k, {record['dataset']}: `{given}` (k given) and `{auto}` (n_clusters auto); seeds "
             + ", ".join(str(s["seed"]) for s in seeds), "",
             f"`{record['command']}`: {machine['cpu']}, {machine['cores']} cores"
             f"{', ' + machine['flags'] if machine.get('flags') else ''}, no GPU; "
             + ", ".join(f"{k} {v}" for k, v in versions.items()) + ". Each cell: train/test protocol; "
             "all-images protocol. Each criterion alone: the highest silhouette, the highest stability, the "
             "lowest BIC." + (f" {record['note']}" if record.get("note") else ""), "",
             f"| seed | k chosen | each criterion alone | NMI, `{auto}` | NMI, `{given}` | ARI, `{auto}` | "
             f"ARI, `{given}` | `choose_k` |", "|---" * 8 + "|"]
    for seed in seeds:
        chosen = "; ".join(str(seed["criteria"][p]["chosen"]) for p in ("train", "all"))
        alone = "; ".join(", ".join(str(picks[c]) for c in ("silhouette", "stability", "bic") if c in picks)
                          for picks in (seed["criteria"][p] for p in ("train", "all")))
        lines.append(f"| {seed['seed']} | {chosen} | {alone} | {pair(seed[auto], 'nmi')} | {pair(seed[given], 'nmi')} "
                     f"| {pair(seed[auto], 'ari')} | {pair(seed[given], 'ari')} | {seed['choose_k_s']:.0f} s |")
    lines += [""]
    for name in (auto, given):
        means = [f"{split} NMI {statistics.fmean(s[name][f'{split}_nmi'] for s in seeds):.4f}, ARI "
                 f"{statistics.fmean(s[name][f'{split}_ari'] for s in seeds):.4f}" for split in ("test", "all")]
        lines.append(f"- `{name}`, mean over the seeds: {'; '.join(means)}")
    return "\n".join(lines) + "\n"


def page(records: list[dict], k_records: list[dict] = ()) -> str:
    return (INTRO + "".join("\n" + record_section(r) for r in records)
            + "".join("\n" + k_choice_section(r) for r in k_records))


def load_records(folder: Path = RECORDS) -> list[dict]:
    return [json.loads(path.read_text()) for path in sorted(folder.glob("*.json"))]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--check", action="store_true", help="only check that the page is up to date")
    args = parser.parse_args()
    text = page(load_records(), load_records(RECORDS / "k-choice"))
    if args.check:
        sys.exit(0 if PAGE.exists() and PAGE.read_text() == text else f"{PAGE} is not what {RECORDS} gives")
    PAGE.write_text(text)
    print(f"wrote {PAGE}")


if __name__ == "__main__":
    main()
