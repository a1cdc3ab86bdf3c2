"""The SLURM profile against a real single-node SLURM on the machine running the tests (tests/cluster/slurm.sh).

Marker `slurm`. Needs root and Debian's SLURM and munge packages (`tests/cluster/slurm.sh install`,
which .ci/run does); where they are missing the tests are skipped, except under CI=true, where a
missing cluster is a failure.
"""

import os
import re
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pandas as pd
import pytest

from conftest import (REPO, model_dirs, planned_rules, run_dir, snakemake, the_model_dir, tiny_config,
                      write_config)

pytestmark = pytest.mark.slurm

SLURM_SH = REPO / "tests" / "cluster" / "slurm.sh"
SLURM_DIR = Path(os.environ.get("SAEPIPE_SLURM_DIR", "/tmp/saepipe-slurm"))  # its state and logs
PROFILE = REPO / "profiles" / "slurm"
SUBMITTED = re.compile(r"Job \S+ has been submitted with SLURM jobid (\d+) \(log: (\S+)\)\.")
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


def start_a_job_that_runs_on(tmp_path: Path) -> None:
    """A batch job holding the node's CPUs for ten minutes, running once this returns."""
    submitted = subprocess.run(["sbatch", "--parsable", "-J", "saepipe-orphan", "-o", str(tmp_path / "job.out"),
                                "--wrap", "sleep 617"], capture_output=True, text=True, check=True, timeout=30)
    job_id = submitted.stdout.strip().split(";")[0]
    wait_for(lambda: job_state(job_id) == "RUNNING", f"job {job_id} to run", SLURM_DIR / "slurmctld.log", timeout=60)


def kill_the_cluster_and_its_job() -> None:
    """As when the machine's session ends mid-run: slurmctld has saved its state (it does now and
    then while running; here by a clean stop), then job and daemons die at once."""
    subprocess.run(["scontrol", "shutdown", "slurmctld"], check=True, timeout=30)
    wait_for(lambda: subprocess.run(["pgrep", "-x", "slurmctld"], capture_output=True).returncode != 0,
             "slurmctld to stop", SLURM_DIR / "slurmctld.log", timeout=30)
    subprocess.run(["pkill", "-KILL", "-x", "slurmd"], timeout=30)
    subprocess.run(["pkill", "-KILL", "-x", "slurmstepd"], timeout=30)


@pytest.mark.parametrize("daemons", ["killed", "still running"])
def test_start_after_a_run_that_left_a_job_gives_an_idle_empty_cluster(slurm_cluster, tmp_path, daemons):
    """A test run killed mid-job leaves its job behind, in daemons still running or in the state
    they saved: a start that kept it would leave the node allocated to a job nobody runs."""
    start_a_job_that_runs_on(tmp_path)
    if daemons == "killed":
        kill_the_cluster_and_its_job()
    try:
        subprocess.run([str(SLURM_SH), "start"], check=True, timeout=120)
    finally:
        subprocess.run(["pkill", "-KILL", "-f", "sleep 617"], timeout=30)
    nodes = subprocess.run(["sinfo", "-h", "-o", "%t"], capture_output=True, text=True, timeout=30).stdout
    assert nodes.split() == ["idle"]
    assert subprocess.run(["squeue", "-h"], capture_output=True, text=True, timeout=30).stdout.strip() == ""


def profile_args(*args: str) -> list[str]:
    """The shipped profile, with the local cluster's two test-only needs: it keeps no accounting
    (so job states come from squeue), and its node has few CPUs (no job, and no group job, may
    ask for more)."""
    cpus = str(os.cpu_count() or 1)
    return ["--profile", str(PROFILE), "--slurm-status-command", "squeue",
            "--slurm-init-seconds-before-status-checks", "1", "--max-threads", cpus, "--cores", cpus, *args]


def through_slurm(workdir: Path, *args: str, check: bool = True) -> subprocess.CompletedProcess:
    """The workflow through the shipped profile."""
    return snakemake(workdir, *profile_args(*args), check=check, timeout=LIMIT_S, kill_signal="KILL")


def submissions(output: str) -> dict[str, Path]:
    """SLURM job id -> the plugin's log of that job, for every job submitted."""
    return {job: Path(log) for job, log in SUBMITTED.findall(output)}


def job_state(job_id: str) -> str:
    shown = subprocess.run(["scontrol", "show", "job", job_id], capture_output=True, text=True, timeout=30)
    match = re.search(r"JobState=(\w+)", shown.stdout)
    return match.group(1) if match else f"unknown to slurmctld: {shown.stderr.strip()}"


@pytest.fixture(scope="module")
def runs(slurm_cluster, tmp_path_factory, tiny_mirror):
    """The same config run locally, and through SLURM with the profile's job groups and without
    them (--config group_jobs=false), each in a fresh workdir, timed."""
    folder, files = tiny_mirror
    how_to_run = {"local": None, "ungrouped": ["--config", "group_jobs=false"], "grouped": []}
    workdirs = {how: tmp_path_factory.mktemp(f"slurm-{how}") for how in how_to_run}
    for workdir in workdirs.values():
        write_config(workdir, tiny_config(files, [str(folder)]))
    jobs = sum(count for rule, count in planned_rules(workdirs["local"]).items() if rule != "all")
    timings, outputs = {}, {}
    for how, args in how_to_run.items():
        started = time.perf_counter()
        if args is None:
            snakemake(workdirs[how], "--cores", "2")
        else:
            result = through_slurm(workdirs[how], *args)
            outputs[how] = result.stdout + result.stderr
        timings[how] = time.perf_counter() - started
    return workdirs, outputs, jobs, timings


def slurm_logs(workdir: Path, output: str) -> dict[str, Path]:
    """SLURM job id -> its log, checked: under the workflow's own folder, written, COMPLETED."""
    submitted = submissions(output)
    for job_id, log in submitted.items():
        assert log.is_relative_to(workdir / ".snakemake" / "slurm_logs"), log
        assert log.exists() and log.stat().st_size > 0, log
        assert job_state(job_id) == "COMPLETED", job_id
    return submitted


def log_folders(workdir: Path, submitted: dict[str, Path]) -> list[str]:
    """The plugin's folder of each job's log: rule_<rule>, or group_<group>_<its rules>."""
    return sorted(log.relative_to(workdir / ".snakemake" / "slurm_logs").parts[0]
                  for log in submitted.values())


def test_ungrouped_every_job_runs_as_a_slurm_job_with_its_own_log(runs):
    workdirs, outputs, jobs, _ = runs
    submitted = slurm_logs(workdirs["ungrouped"], outputs["ungrouped"])
    assert len(submitted) == jobs, outputs["ungrouped"][-3000:]
    folders = log_folders(workdirs["ungrouped"], submitted)
    assert {"rule_download", "rule_train", "rule_cluster", "rule_evaluate", "rule_summary"} <= set(folders)
    assert not [folder for folder in folders if folder.startswith("group_")]


def test_grouped_a_run_is_its_model_job_and_one_group_job(runs):
    workdirs, outputs, jobs, _ = runs
    submitted = slurm_logs(workdirs["grouped"], outputs["grouped"])
    folders = log_folders(workdirs["grouped"], submitted)
    # the run's model (train, then embed) and the run's own group (its every light step); the
    # steps shared by all runs ran where Snakemake runs
    assert len(submitted) == 2 < jobs, folders
    assert folders[0].startswith("group_model-") and folders[0].endswith("_embed_train"), folders
    assert folders[1].startswith("group_run-default-seed0_") and "_cluster_" in folders[1], folders
    for rule in ("download", "preprocess", "summary", "plot_comparison"):
        assert f"localrule {rule}:" in outputs["grouped"], rule
    # each group job ran every one of its steps, the figures of the model's branch included
    logs = {name: next(log for log in submitted.values() if f"group_{name}-" in str(log)).read_text()
            for name in ("model", "run")}
    for rule in ("train", "embed"):
        assert f"(Rule: {rule})" in logs["model"], rule
    for rule in ("cluster", "decode_centroids", "evaluate", "plot_training_curves", "plot_reconstructions",
                 "plot_centroids", "plot_confusion_matrix", "plot_embedding_map", "plot_code_activations",
                 "plot_cluster_members", "assignments"):
        assert f"(Rule: {rule})" in logs["run"], rule


@pytest.mark.parametrize("how", ["ungrouped", "grouped"])
def test_slurm_gives_the_same_results_as_a_local_run(runs, how):
    workdirs, _, _, _ = runs
    local, slurm = run_dir(workdirs["local"]), run_dir(workdirs[how])
    for path in ["metrics/metrics.json", "clusters/train.npy", "clusters/test.npy", "clusters/all.npy"]:
        assert (slurm / path).read_bytes() == (local / path).read_bytes(), path
    codes = [model_dirs(workdirs[w])[0] / "embeddings" / "test.npy" for w in ("local", how)]
    assert codes[0].read_bytes() == codes[1].read_bytes()
    # the summary's scores equal the local run's (its step times do not)
    summary = [pd.read_csv(workdirs[w] / "results" / "tiny" / "summary.csv") for w in ("local", how)]
    scores = [table[[c for c in table.columns if not c.startswith("seconds_")]] for table in summary]
    pd.testing.assert_frame_equal(scores[0], scores[1])
    assert (workdirs[how] / "results" / "tiny" / "comparison.png").exists()
    for figure in ("training_curves", "embedding_map", "code_activations"):
        assert (slurm / "figures" / f"{figure}.png").stat().st_size > 2000


def test_print_slurm_jobs_and_overhead_grouped_and_ungrouped(runs, capsys):
    """Figures, not a timing assertion: the number of SLURM jobs and the overhead of one run."""
    workdirs, outputs, jobs, timings = runs
    with capsys.disabled():
        print(f"\nSLURM profile, tiny data, one run: locally {jobs} jobs in {timings['local']:.0f} s")
        for how in ("ungrouped", "grouped"):
            n = len(submissions(outputs[how]))
            overhead = timings[how] - timings["local"]
            print(f"  {how}: {n} SLURM jobs in {timings[how]:.0f} s, overhead {overhead:.0f} s a run "
                  f"({overhead / n:.1f} s a SLURM job)")
        ratio = (timings["ungrouped"] - timings["local"]) / max(timings["grouped"] - timings["local"], 1e-9)
        print(f"  grouping cuts the overhead of a run {ratio:.1f}x")
    assert len(submissions(outputs["grouped"])) < len(submissions(outputs["ungrouped"]))


@pytest.mark.parametrize("grouped", [True, False], ids=["grouped", "ungrouped"])
def test_a_failing_job_reports_its_slurm_log_and_leaves_no_output(slurm_cluster, tmp_path, tiny_mirror, grouped):
    folder, files = tiny_mirror
    # A learning rate this far off makes training diverge: the train job exits 1.
    write_config(tmp_path, tiny_config(files, [str(folder)], model={"learning_rate": 1.0e30}))
    result = through_slurm(tmp_path, "--retries", "0", "--config", f"group_jobs={str(grouped).lower()}",
                           check=False)
    output = result.stdout + result.stderr
    assert result.returncode != 0
    assert "Error in rule train" in output
    # the SLURM job of train: its own, or its model's group job (train, then embed)
    failed = "Error in group model-" if grouped else "Error in rule train"
    folder_name = "group_model-" if grouped else "rule_train"
    train_jobs = [log for log in submissions(output).values() if any(p.startswith(folder_name) for p in log.parts)]
    assert len(train_jobs) == 1, output[-3000:]
    # the failure names the SLURM log, which holds the step's own error
    assert str(train_jobs[0]) in output.split(failed, 1)[1]
    assert "FloatingPointError: training loss became" in train_jobs[0].read_text()
    assert all(not list(folder.glob("*.keras")) for folder in model_dirs(tmp_path))
    assert not list((tmp_path / "results").rglob(".tmp-*"))
    assert not (run_dir(tmp_path) / "clusters").exists()


# Preemption: a train job is stopped after at least FROZEN_AFTER of its epochs. Tiny epochs take a
# tenth of a second or less, so the job is first frozen (SIGSTOP to its every process, as a node
# that hangs): on any machine, SLURM's cancel or time limit then meets it mid-training.
PREEMPTED_EPOCHS = 60
FROZEN_AFTER = 10
COMPARED = ["metrics/metrics.json", "clusters/train.npy", "clusters/test.npy", "clusters/all.npy"]


@pytest.fixture(scope="module")
def uninterrupted(tmp_path_factory, tiny_mirror):
    """The preemption tests' config, run locally without interruption: what they must give."""
    folder, files = tiny_mirror
    workdir = tmp_path_factory.mktemp("uninterrupted")
    # with input noise, so a resumed run must also continue its random draws
    write_config(workdir, tiny_config(files, [str(folder)], model={"epochs": PREEMPTED_EPOCHS, "input_noise": 0.2}))
    snakemake(workdir, "--cores", "2", timeout=LIMIT_S)
    return workdir


def start_through_slurm(workdir: Path, *args: str) -> tuple[subprocess.Popen, Path]:
    """The workflow through the shipped profile, in the background; its console goes to a file."""
    console = workdir / "console.txt"
    command = [sys.executable, "-m", "snakemake", "--snakefile", str(REPO / "Snakefile"),
               "--directory", str(workdir), "--configfile", str(workdir / "config.yaml"), *profile_args(*args)]
    process = subprocess.Popen(command, stdout=open(console, "w"), stderr=subprocess.STDOUT,
                               env={**os.environ, "TF_CPP_MIN_LOG_LEVEL": "2"})
    return process, console


def wait_for(condition, what: str, console: Path, timeout: float = LIMIT_S / 3):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if found := condition():
            return found
        time.sleep(0.2)
    raise AssertionError(f"waited {timeout:.0f} s for {what}:\n{console.read_text()[-3000:]}")


def finish(process: subprocess.Popen, console: Path) -> str:
    try:
        process.wait(timeout=LIMIT_S)
    finally:
        if process.poll() is None:
            process.kill()
    output = console.read_text()
    assert process.returncode == 0, output[-5000:]
    return output


def train_jobs(output: str) -> dict[str, Path]:
    """SLURM job id -> log of every job that ran train (on its own or in its model's group)."""
    return {job: log for job, log in submissions(output).items()
            if any(part.startswith(("rule_train", "group_model-")) for part in log.parts)}


def freeze(job: str) -> None:
    """Stop every process of a running SLURM job where it is (SLURM still kills it)."""
    listed = subprocess.run(["scontrol", "listpids", job], capture_output=True, text=True, check=True, timeout=30)
    pids = [int(line.split()[0]) for line in listed.stdout.splitlines()[1:] if line.split()]
    assert pids, listed
    for pid in pids:
        try:
            os.kill(pid, signal.SIGSTOP)
        except ProcessLookupError:
            pass


def freeze_mid_training(console: Path, rule_folder: str) -> tuple[str, Path]:
    """Wait for the first train job to log FROZEN_AFTER epochs; freeze it; its id and SLURM log."""
    job, job_log = wait_for(lambda: next(iter(train_jobs(console.read_text()).items()), None),
                            "the train job's submission", console)
    assert rule_folder in str(job_log), job_log
    wait_for(lambda: len(epochs_logged(job_log)) >= FROZEN_AFTER, f"{FROZEN_AFTER} epochs in {job_log}", console)
    freeze(job)
    return job, job_log


def epochs_logged(log: Path) -> list[int]:
    return [int(n) for n in re.findall(rf"epoch (\d+)/{PREEMPTED_EPOCHS}", log.read_text())] if log.exists() else []


def assert_resumed_as_never_interrupted(workdir: Path, reference: Path, previous_job_log: Path) -> None:
    """The last train job resumed after the last epoch the one before it finished (logged, or
    checkpointed just before the kill); every epoch is in the history once; the results equal the
    uninterrupted run's, byte for byte."""
    train_log = the_model_dir(workdir, under="logs") / "train.log"
    resumed_after = int(re.search(r"resuming from the checkpoint .* after epoch (\d+)", train_log.read_text())[1])
    reached = max(epochs_logged(previous_job_log))
    assert 0 < reached <= resumed_after <= reached + 1 < PREEMPTED_EPOCHS
    history = the_model_dir(workdir) / "history.csv"
    assert list(pd.read_csv(history)["epoch"]) == list(range(1, PREEMPTED_EPOCHS + 1))
    assert history.read_bytes() == (the_model_dir(reference) / "history.csv").read_bytes()
    codes = [the_model_dir(w) / "embeddings" / "test.npy" for w in (workdir, reference)]
    assert codes[0].read_bytes() == codes[1].read_bytes()
    for path in COMPARED:
        assert (run_dir(workdir) / path).read_bytes() == (run_dir(reference) / path).read_bytes(), path
    assert not (the_model_dir(workdir) / "checkpoint").exists()


def test_a_train_job_cancelled_mid_training_is_resubmitted_and_resumes_to_the_same_bytes(
        slurm_cluster, uninterrupted, tmp_path, tiny_mirror, capsys):
    folder, files = tiny_mirror
    write_config(tmp_path, tiny_config(files, [str(folder)], model={"epochs": PREEMPTED_EPOCHS, "input_noise": 0.2}))
    process, console = start_through_slurm(tmp_path)
    try:
        job, job_log = freeze_mid_training(console, "group_model-")
        # as an administrator does, or a preempting partition with PreemptMode=CANCEL
        subprocess.run(["scancel", job], check=True, timeout=30)
    finally:
        output = finish(process, console)
    assert job_state(job) == "CANCELLED"
    assert len(train_jobs(output)) == 2, output[-3000:]  # the profile's retry
    assert_resumed_as_never_interrupted(tmp_path, uninterrupted, job_log)
    with capsys.disabled():
        print(f"\nscancel after epoch {max(epochs_logged(job_log))}: resubmitted, resumed, same bytes")


def test_a_train_job_at_its_time_limit_is_resubmitted_and_resumes_to_the_same_bytes(
        slurm_cluster, uninterrupted, tmp_path, tiny_mirror, capsys):
    folder, files = tiny_mirror
    write_config(tmp_path, tiny_config(files, [str(folder)], model={"epochs": PREEMPTED_EPOCHS, "input_noise": 0.2}))
    # One step a job (a group's time limit is the sum of its steps'), and train limited to SLURM's
    # shortest limit, one minute, which the frozen first attempt meets; the retry resumes.
    process, console = start_through_slurm(tmp_path, "--config", "group_jobs=false",
                                           "--set-resources", "train:runtime=1")
    try:
        freeze_mid_training(console, "rule_train")
    finally:
        output = finish(process, console)
    jobs = list(train_jobs(output).items())
    states = [job_state(job) for job, _ in jobs]
    assert states == ["TIMEOUT", "COMPLETED"], states
    assert_resumed_as_never_interrupted(tmp_path, uninterrupted, jobs[-2][1])
    with capsys.disabled():
        print(f"\ntime limit: {len(jobs)} train jobs ({', '.join(states)}), first stopped after epoch "
              f"{max(epochs_logged(jobs[0][1]))}, resumed, same bytes")
