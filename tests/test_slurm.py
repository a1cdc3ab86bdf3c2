"""The SLURM profile against a real single-node SLURM on this machine (tests/cluster/slurm.sh).

Marker `slurm`. Needs root and Debian's SLURM and munge packages (`tests/cluster/slurm.sh install`,
which .ci/run does); where they are missing the tests are skipped, except under CI=true, where a
missing cluster is a failure.
"""

import os
import re
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest

from conftest import REPO, model_dirs, planned_rules, run_dir, snakemake, tiny_config, write_config

pytestmark = pytest.mark.slurm

SLURM_SH = REPO / "tests" / "cluster" / "slurm.sh"
PROFILE = REPO / "profiles" / "slurm"
SUBMITTED = re.compile(r"Job \d+ has been submitted with SLURM jobid (\d+) \(log: (\S+)\)\.")
# Every call that waits on SLURM is killed outright past this: a plugin that loses track of its
# jobs waits for ever, and ignores SIGTERM.
LIMIT_S = 900


@pytest.fixture(scope="module")
def slurm_cluster():
    missing = [tool for tool in ("slurmctld", "slurmd", "sbatch", "munged") if shutil.which(tool) is None
               and not Path("/usr/sbin", tool).exists()]
    if missing or os.geteuid() != 0:
        reason = f"no local SLURM (missing {missing or 'root'}): run tests/cluster/slurm.sh install as root"
        if os.environ.get("CI") == "true":
            pytest.fail(reason)
        pytest.skip(reason)
    subprocess.run([str(SLURM_SH), "start"], check=True, timeout=120)
    yield
    subprocess.run([str(SLURM_SH), "stop"], check=True, timeout=120)


def through_slurm(workdir: Path, *args: str, check: bool = True) -> subprocess.CompletedProcess:
    """The workflow through the shipped profile, with the local cluster's two test-only needs: it
    keeps no accounting (so job states come from squeue), and its node has few CPUs."""
    return snakemake(
        workdir,
        "--profile", str(PROFILE),
        "--slurm-status-command", "squeue",
        "--slurm-init-seconds-before-status-checks", "1",
        "--max-threads", str(os.cpu_count() or 1),
        *args,
        check=check,
        timeout=LIMIT_S,
        kill_signal="KILL",
    )


def submissions(output: str) -> dict[str, Path]:
    """SLURM job id -> the plugin's log of that job, for every job submitted."""
    return {job: Path(log) for job, log in SUBMITTED.findall(output)}


def job_state(job_id: str) -> str:
    shown = subprocess.run(["scontrol", "show", "job", job_id], capture_output=True, text=True, timeout=30)
    match = re.search(r"JobState=(\w+)", shown.stdout)
    return match.group(1) if match else f"unknown to slurmctld: {shown.stderr.strip()}"


@pytest.fixture(scope="module")
def runs(slurm_cluster, tmp_path_factory, tiny_mirror):
    """The same config run locally and through SLURM, each in a fresh workdir, timed."""
    folder, files = tiny_mirror
    workdirs = {how: tmp_path_factory.mktemp(f"slurm-{how}") for how in ("local", "slurm")}
    timings = {}
    for how, workdir in workdirs.items():
        write_config(workdir, tiny_config(files, [str(folder)]))
    jobs = sum(count for rule, count in planned_rules(workdirs["slurm"]).items() if rule != "all")
    started = time.perf_counter()
    snakemake(workdirs["local"], "--cores", "2")
    timings["local"] = time.perf_counter() - started
    started = time.perf_counter()
    result = through_slurm(workdirs["slurm"])
    timings["slurm"] = time.perf_counter() - started
    return workdirs, result.stdout + result.stderr, jobs, timings


def test_every_job_runs_as_a_slurm_job_with_its_own_log(runs):
    workdirs, output, jobs, _ = runs
    submitted = submissions(output)
    assert len(submitted) == jobs, output[-3000:]
    for job_id, log in submitted.items():
        assert log.is_relative_to(workdirs["slurm"] / ".snakemake" / "slurm_logs"), log
        assert log.exists() and log.stat().st_size > 0, log
        assert job_state(job_id) == "COMPLETED", job_id
    rules = {log.relative_to(workdirs["slurm"] / ".snakemake" / "slurm_logs").parts[0] for log in submitted.values()}
    assert {"rule_download", "rule_train", "rule_cluster", "rule_evaluate", "rule_summary"} <= rules


def test_slurm_gives_the_same_results_as_a_local_run(runs, capsys):
    workdirs, _, jobs, timings = runs
    local, slurm = (run_dir(workdirs[how]) for how in ("local", "slurm"))
    for path in ["metrics/metrics.json", "clusters/train.npy", "clusters/test.npy", "clusters/all.npy"]:
        assert (slurm / path).read_bytes() == (local / path).read_bytes(), path
    codes = [model_dirs(workdirs[how])[0] / "embeddings" / "test.npy" for how in ("local", "slurm")]
    assert codes[0].read_bytes() == codes[1].read_bytes()
    assert (workdirs["slurm"] / "results" / "tiny" / "comparison.png").exists()
    overhead = (timings["slurm"] - timings["local"]) / jobs
    with capsys.disabled():
        print(f"\nSLURM profile, tiny data: {jobs} jobs in {timings['slurm']:.0f} s through SLURM, "
              f"{timings['local']:.0f} s locally: {overhead:.1f} s overhead per job")


def test_a_failing_job_reports_its_slurm_log_and_leaves_no_output(slurm_cluster, tmp_path, tiny_mirror):
    folder, files = tiny_mirror
    # A learning rate this far off makes training diverge: the train job exits 1.
    write_config(tmp_path, tiny_config(files, [str(folder)], model={"learning_rate": 1.0e30}))
    result = through_slurm(tmp_path, "--retries", "0", check=False)
    output = result.stdout + result.stderr
    assert result.returncode != 0
    assert "Error in rule train" in output
    train_jobs = [log for log in submissions(output).values() if "rule_train" in log.parts]
    assert len(train_jobs) == 1
    # the failure names the SLURM log, which holds the step's own error
    assert str(train_jobs[0]) in output.split("Error in rule train", 1)[1]
    assert "FloatingPointError: training loss became" in train_jobs[0].read_text()
    assert all(not list(folder.glob("*.keras")) for folder in model_dirs(tmp_path))
    assert not list((tmp_path / "results").rglob(".tmp-*"))
    assert not (run_dir(tmp_path) / "clusters").exists()
