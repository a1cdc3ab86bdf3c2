import json
import logging

import numpy as np

from saepipe import checkpoint
from saepipe import model as sae


def data():
    x = np.random.default_rng(4).random((96, 16)).astype("float32")
    return x[:80], x[80:]


def train(folder, epochs, fingerprint="a", patience=0):
    x, x_val = data()
    autoencoder, _, _ = sae.build_autoencoder(16, [8], 3)
    return sae.train_autoencoder(autoencoder, x, x_val, sae.make_optimizer("adam", 0.01), batch_size=16,
                                 epochs=epochs, patience=patience, checkpoint_dir=folder,
                                 fingerprint=fingerprint)


def test_each_epoch_is_checkpointed_with_its_model_and_history(tmp_path):
    _, history = train(tmp_path / "ckpt", epochs=3)
    state = json.loads((tmp_path / "ckpt" / "state.json").read_text())
    assert state["epochs_done"] == 3
    assert state["history"]["loss"] == history["loss"]
    assert [p.name for p in (tmp_path / "ckpt").glob("model-epoch*.keras")] == ["model-epoch3.keras"]


def test_a_restarted_run_resumes_after_the_last_checkpointed_epoch(tmp_path, caplog):
    caplog.set_level(logging.INFO)
    _, first = train(tmp_path / "ckpt", epochs=2)
    _, history = train(tmp_path / "ckpt", epochs=5)
    assert "resuming from the checkpoint" in caplog.text and "after epoch 2" in caplog.text
    assert len(history["loss"]) == 5
    assert history["loss"][:2] == first["loss"]


def test_a_checkpoint_made_under_other_settings_is_discarded(tmp_path, caplog):
    caplog.set_level(logging.INFO)
    train(tmp_path / "ckpt", epochs=2, fingerprint="old")
    _, history = train(tmp_path / "ckpt", epochs=3, fingerprint="new")
    assert "discarding the checkpoint" in caplog.text
    assert "resuming" not in caplog.text
    assert len(history["loss"]) == 3


def test_a_run_that_had_stopped_early_fits_no_more_epochs_on_restart(tmp_path):
    folder = tmp_path / "ckpt"
    train(folder, epochs=3)
    state = checkpoint.TrainingState(**json.loads((folder / "state.json").read_text()))
    state.wait = 2  # as if the last two epochs had not improved, with patience 2
    (folder / "state.json").write_text(json.dumps(state.__dict__))
    _, history = train(folder, epochs=10, patience=2)
    assert len(history["loss"]) == 3


def test_the_fingerprint_changes_with_settings_and_data(tmp_path):
    data_file = tmp_path / "d.bin"
    data_file.write_bytes(b"abc")
    a = checkpoint.fingerprint({"epochs": 3}, data_file)
    assert a == checkpoint.fingerprint({"epochs": 3}, data_file)
    assert a != checkpoint.fingerprint({"epochs": 4}, data_file)
    data_file.write_bytes(b"abd")
    assert a != checkpoint.fingerprint({"epochs": 3}, data_file)
