"""Library behind the workflow's scripts: one module per concern.

Modules import their heavy dependencies (TensorFlow, scikit-learn, matplotlib) themselves, so a
step only needs the packages of the modules it uses.
"""

import os


def job_threads(requested: int) -> int:
    """The threads a step runs: Snakemake's for its job, never more than the machine's CPUs (with
    `--cores 4` on 2 CPUs, 2), so that a job's bytes do not change with what it was granted."""
    return max(1, min(requested, os.cpu_count() or 1))
