"""A run interrupted mid-training (as SLURM does at a time limit) resumes and completes, with the
bytes of the run never interrupted."""

import os
import re
import signal
import subprocess
import sys
import time

import pandas as pd
import pytest

from conftest import REPO, model_dirs, snakemake, the_model_dir, tiny_config, write_config

EPOCHS = 40


def start(workdir):
    command = [sys.executable, "-m", "snakemake", "--snakefile", str(REPO / "Snakefile"),
               "--directory", str(workdir), "--configfile", str(workdir / "config.yaml"),
               "--cores", "2", "--until", "train"]
    return subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=open(workdir / "snakemake.err", "w"),
                            start_new_session=True, preexec_fn=default_sigint,
                            env={**os.environ, "TF_CPP_MIN_LOG_LEVEL": "2"})


def default_sigint():
    """A shell starts background commands with SIGINT ignored, and children inherit that: give
    snakemake the default handling a terminal's Ctrl-C meets, whoever started the tests."""
    signal.signal(signal.SIGINT, signal.SIG_DFL)


def train_log(workdir):
    return the_model_dir(workdir, under="logs") / "train.log"


def wait_for_epoch(workdir, epoch, timeout=120):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        logs = [folder / "train.log" for folder in model_dirs(workdir, under="logs")]
        if logs and logs[0].exists() and f"epoch {epoch}/{EPOCHS}" in logs[0].read_text():
            return
        time.sleep(0.05)
    raise AssertionError(f"training never reached epoch {epoch}:\n{(workdir / 'snakemake.err').read_text()[-3000:]}")


@pytest.fixture(scope="module")
def uninterrupted(tmp_path_factory, tiny_mirror, http_mirror):
    """The same config, trained and embedded without interruption."""
    workdir = tmp_path_factory.mktemp("uninterrupted")
    write_config(workdir, tiny_config(tiny_mirror[1], [http_mirror], model={"epochs": EPOCHS}))
    snakemake(workdir, "--cores", "2", "--until", "embed")
    return the_model_dir(workdir)


@pytest.mark.parametrize("how", ["SIGINT", "SIGTERM", "SIGKILL"])
def test_an_interrupted_training_resumes_and_completes(tmp_path, tiny_mirror, http_mirror, uninterrupted, how):
    _, files = tiny_mirror
    write_config(tmp_path, tiny_config(files, [http_mirror], model={"epochs": EPOCHS}))
    process = start(tmp_path)
    try:
        wait_for_epoch(tmp_path, 5)
        # To snakemake and its job together: Ctrl-C reaches the terminal's whole process group,
        # and SLURM signals every process of the job at a time limit (SIGKILL: a node failure).
        os.killpg(process.pid, getattr(signal, how))
        process.wait(timeout=120)
    finally:
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGKILL)
    assert process.returncode != 0
    model_dir = the_model_dir(tmp_path)
    # no final output, truncated or whole, survived the interruption; the checkpoint did
    assert not (model_dir / "autoencoder.keras").exists()
    assert not (model_dir / "history.csv").exists()
    assert list((model_dir / "checkpoint").glob("epoch*.json"))
    if how != "SIGKILL":  # a killed process cannot clean up; the next write sweeps its leftovers
        assert not [p for p in tmp_path.rglob(".tmp-*")]
    interrupted_at = int(re.findall(r"epoch (\d+)/", train_log(tmp_path).read_text())[-1])

    if how == "SIGKILL":
        snakemake(tmp_path, "--unlock")
    snakemake(tmp_path, "--cores", "2", "--rerun-incomplete", "--until", "embed")
    log = train_log(tmp_path).read_text()
    resumed_after = int(re.search(r"resuming from the checkpoint .* after epoch (\d+)", log).group(1))
    assert 5 <= resumed_after <= interrupted_at
    assert f"epoch {resumed_after + 1}/{EPOCHS}" in log and "epoch 1/" not in log
    history = pd.read_csv(model_dir / "history.csv")
    assert list(history["epoch"]) == list(range(1, EPOCHS + 1))
    assert not (model_dir / "checkpoint").exists()
    # the same epochs, the same weights: the same losses, and the same codes, byte for byte
    for path in ["history.csv", "embeddings/train.npy", "embeddings/test.npy"]:
        assert (model_dir / path).read_bytes() == (uninterrupted / path).read_bytes(), path
    snakemake(tmp_path, "--cores", "2", "--until", "embed")  # the model loads and encodes


def test_a_killed_training_with_its_newest_checkpoint_cut_short_resumes_from_the_one_before(
        tmp_path, tiny_mirror, http_mirror):
    """As a crashed node or a full disk leaves it: the newest checkpoint's model file cut short."""
    _, files = tiny_mirror
    write_config(tmp_path, tiny_config(files, [http_mirror], model={"epochs": EPOCHS}))
    process = start(tmp_path)
    try:
        wait_for_epoch(tmp_path, 5)
        os.killpg(process.pid, signal.SIGKILL)
        process.wait(timeout=120)
    finally:
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGKILL)
    folder = the_model_dir(tmp_path) / "checkpoint"
    newest = max(folder.glob("model-epoch*.keras"), key=lambda p: int(re.search(r"\d+", p.name).group()))
    newest.write_bytes(newest.read_bytes()[:1000])
    damaged_epoch = int(re.search(r"\d+", newest.name).group())

    snakemake(tmp_path, "--unlock")
    snakemake(tmp_path, "--cores", "2", "--rerun-incomplete", "--until", "embed")
    log = train_log(tmp_path).read_text()
    assert f"discarding a damaged checkpoint: {newest.relative_to(tmp_path)}: damaged" in log
    assert f"after epoch {damaged_epoch - 1}" in log and "Traceback" not in log
    history = pd.read_csv(the_model_dir(tmp_path) / "history.csv")
    assert list(history["epoch"]) == list(range(1, EPOCHS + 1))
