"""Bad input and faults in real runs: a clear error in the step's log, and no output left behind."""

import gzip
import os
import subprocess
import sys

import pandas as pd
import pytest

from conftest import REPO, model_dirs, place_raw_files, planned_rules, snakemake, the_model_dir, tiny_config, write_config
from saepipe import checkpoint


def failed_run(workdir, *targets):
    result = snakemake(workdir, "--cores", "2", *targets, check=False)
    assert result.returncode != 0, result.stdout + result.stderr
    return result.stdout + result.stderr


def test_a_wrong_hand_placed_file_is_a_checksum_error_in_preprocess(tmp_path, tiny_mirror):
    folder, files = tiny_mirror
    raw = place_raw_files(tmp_path, folder)
    name = files["test_labels"]["name"]
    (raw / name).write_bytes(gzip.compress(b"something else"))
    write_config(tmp_path, tiny_config(files, ["http://127.0.0.1:9/unused/"]))
    output = failed_run(tmp_path, "preprocess")
    assert "Error in rule preprocess" in output
    log = (tmp_path / "logs" / "tiny" / "preprocess.log").read_text()
    assert f"ChecksumError: {name}: MD5 of the decompressed bytes is" in log
    assert files["test_labels"]["md5"] in log
    assert not (tmp_path / "results" / "tiny" / "data").exists() or not any(
        (tmp_path / "results" / "tiny" / "data").iterdir()
    )
    # the fix: put the right file there; the rerun succeeds
    place_raw_files(tmp_path, folder)
    snakemake(tmp_path, "--cores", "2", "preprocess")
    assert (tmp_path / "results" / "tiny" / "data" / "test.npz").exists()


def test_every_mirror_failing_fails_download_listing_each_and_leaves_no_raw_file(
    tmp_path, tiny_mirror, http_mirror
):
    _, files = tiny_mirror
    mirrors = ["http://127.0.0.1:9/closed/", str(tmp_path / "no-such-folder")]
    write_config(tmp_path, tiny_config(files, mirrors))
    output = failed_run(tmp_path, "download")
    assert "Error in rule download" in output
    log = (tmp_path / "logs" / "tiny" / "download.log").read_text()
    assert "could not fetch" in log
    for mirror in mirrors:
        assert mirror in log
    raw = tmp_path / "results" / "tiny" / "raw"
    assert not raw.exists() or list(raw.iterdir()) == []
    write_config(tmp_path, tiny_config(files, [*mirrors, http_mirror]))
    snakemake(tmp_path, "--cores", "2", "download")
    assert len(list(raw.iterdir())) == 4


def test_labels_outside_the_declared_classes_stop_preprocess_naming_the_file(tmp_path, tiny_mirror, http_mirror):
    _, files = tiny_mirror
    config = tiny_config(files, [http_mirror])
    config["dataset"]["class_names"] = ["a", "b", "c"]  # the tiny data has 4 classes
    write_config(tmp_path, config)
    failed_run(tmp_path, "preprocess")
    log = (tmp_path / "logs" / "tiny" / "preprocess.log").read_text()
    assert f"IdxError: {files['train_labels']['name']}: labels [3] lie outside the 3 declared classes" in log
    write_config(tmp_path, tiny_config(files, [http_mirror]))
    snakemake(tmp_path, "--cores", "2", "preprocess")


def test_a_nan_loss_stops_training_and_writes_no_model(tmp_path, tiny_mirror, http_mirror):
    _, files = tiny_mirror
    # A learning rate this far off makes the weights overflow within a batch or two.
    write_config(tmp_path, tiny_config(files, [http_mirror], model={"learning_rate": 1.0e30}))
    output = failed_run(tmp_path, "--until", "train")
    assert "Error in rule train" in output
    log = (the_model_dir(tmp_path, under="logs") / "train.log").read_text()
    assert "FloatingPointError: training loss became" in log and "learning rate" in log
    assert all(list(folder.iterdir()) == [] for folder in model_dirs(tmp_path))
    write_config(tmp_path, tiny_config(files, [http_mirror]))
    snakemake(tmp_path, "--cores", "2", "--until", "train")
    assert (the_model_dir(tmp_path) / "autoencoder.keras").exists()


def test_more_clusters_than_training_images_stops_the_run_before_any_job(tmp_path, tiny_mirror, http_mirror):
    _, files = tiny_mirror
    write_config(tmp_path, tiny_config(files, [http_mirror]))
    snakemake(tmp_path, "--cores", "1", "download")
    write_config(tmp_path, tiny_config(files, [http_mirror], clustering={"n_clusters": 500}))
    output = failed_run(tmp_path)
    assert "clustering.n_clusters is 500 but" in output and "holds only 320 training images" in output
    assert not (tmp_path / "results" / "tiny" / "data").exists()
    write_config(tmp_path, tiny_config(files, [http_mirror], clustering={"n_clusters": 5}))
    assert "preprocess" in planned_rules(tmp_path)


def test_a_cut_short_intermediate_file_is_one_clear_line_and_deleting_it_rebuilds_it(
        tmp_path, tiny_mirror, http_mirror):
    """As a file copied by hand or half-synced from another machine leaves it: newer than what
    was made from it, so the next run feeds it to the steps after it."""
    _, files = tiny_mirror
    write_config(tmp_path, tiny_config(files, [http_mirror]))
    snakemake(tmp_path, "--cores", "2", "--until", "cluster")
    codes = the_model_dir(tmp_path) / "embeddings" / "train.npy"
    codes.write_bytes(codes.read_bytes()[:100])
    output = failed_run(tmp_path, "--until", "cluster")
    relative = codes.relative_to(tmp_path)
    line = (f"DamagedInput: {relative}: cut short or not a NumPy .npy file")
    assert line in output and "delete it and run Snakemake again, which rebuilds it (rule embed)" in output
    assert "Traceback" not in output
    cluster_log = (tmp_path / "logs" / "tiny" / "default" / "seed0" / "cluster.log").read_text()
    assert [l for l in cluster_log.splitlines() if "ERROR" in l] == [
        l for l in cluster_log.splitlines() if line in l]
    codes.unlink()
    snakemake(tmp_path, "--cores", "2", "--until", "cluster")
    assert (tmp_path / "results" / "tiny" / "default" / "seed0" / "clusters" / "train.npy").exists()


@pytest.fixture
def small_disk():
    """Mounts a tmpfs of a given size on a folder (a full disk, made to order), and can resize
    it; unmounts everything at the end. Needs root: skipped without it, except under CI=true."""
    mounted = []

    def run(*command):
        return subprocess.run(command, capture_output=True, text=True, timeout=30)

    def mount(folder, size):
        folder.mkdir(parents=True, exist_ok=True)
        result = run("mount", "-t", "tmpfs", "-o", f"size={size}", "tmpfs", str(folder))
        if result.returncode != 0:
            reason = f"cannot mount a tmpfs (root and mount(8) needed): {result.stderr.strip()}"
            if os.environ.get("CI") == "true":
                pytest.fail(reason)
            pytest.skip(reason)
        mounted.append(folder)

    def resize(folder, size):
        assert run("mount", "-o", f"remount,size={size}", str(folder)).returncode == 0

    yield mount, resize
    for folder in reversed(mounted):
        run("umount", "-l", str(folder))


def test_a_full_disk_stops_training_saying_so_keeps_only_whole_files_and_the_rerun_completes(
        tmp_path, tiny_mirror, http_mirror, small_disk):
    mount, resize = small_disk
    _, files = tiny_mirror
    write_config(tmp_path, tiny_config(files, [http_mirror], model={"epochs": 6}))
    snakemake(tmp_path, "--cores", "2", "preprocess")
    # Room for the first epoch's checkpoint (a model file of about 180 kB and its best weights),
    # not for the next one beside it.
    models = tmp_path / "results" / "tiny" / "models"
    mount(models, "300k")
    output = failed_run(tmp_path, "--until", "train")
    model_dir = the_model_dir(tmp_path)
    relative = model_dir.relative_to(tmp_path)
    assert f"DiskFull: {relative}/checkpoint/" in output and "no space left on the device" in output
    assert "Traceback" not in output
    log = (the_model_dir(tmp_path, under="logs") / "train.log").read_text()
    assert log.splitlines()[-1].split(" ERROR saepipe: ")[1].startswith(f"DiskFull: {relative}/checkpoint/")
    # nothing half-written: no temporary file, no final output, only whole checkpoints
    assert not [p.name for p in models.rglob("*") if p.name.startswith(".tmp-")]
    assert not (model_dir / "autoencoder.keras").exists() and not (model_dir / "history.csv").exists()
    for path in checkpoint.state_files(model_dir / "checkpoint"):
        checkpoint.verify(model_dir / "checkpoint", checkpoint.read_state(path))

    resize(models, "16m")  # space freed
    snakemake(tmp_path, "--cores", "2", "--until", "train")
    history = pd.read_csv(model_dir / "history.csv")
    assert list(history["epoch"]) == list(range(1, 7))


SWALLOWED_SIGTERM = """
import os, signal, sys, time
from saepipe.atomic import atomic_path
from saepipe.logs import logged_step

with logged_step(sys.argv[1]):
    with atomic_path(sys.argv[2]) as tmp:
        tmp.write_text("half")
        try:  # as a library's bare `except:` would, wherever the signal's exception lands
            os.kill(os.getpid(), signal.SIGTERM)
            time.sleep(0.5)
        except BaseException:
            pass
        time.sleep(20)  # the step runs on
    print("ran to the end")
"""


def test_a_sigterm_whose_exception_a_library_swallows_still_stops_the_step(tmp_path):
    """The SIGTERM handler raises SystemExit wherever the main thread is; when library code with a
    bare `except:` swallows it, it is raised again, and the step stops within seconds, its
    temporary file removed, instead of running to its end."""
    log, output = tmp_path / "step.log", tmp_path / "out.txt"
    result = subprocess.run([sys.executable, "-c", SWALLOWED_SIGTERM, str(log), str(output)], capture_output=True,
                            text=True, timeout=60, env={**os.environ, "PYTHONPATH": str(REPO / "scripts")})
    assert result.returncode != 0 and "ran to the end" not in result.stdout
    assert "interrupted (stopped by signal SIGTERM)" in log.read_text()
    assert list(tmp_path.iterdir()) == [log]  # nothing half-written under any name
