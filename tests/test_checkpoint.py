import json
import logging

import keras
import numpy as np
import pytest

from saepipe import checkpoint
from saepipe.augment import augmenter
from conftest import fit_autoencoder
from saepipe import model as sae
from saepipe import training


def data():
    # images that lie near a 3-D subspace: the loss falls steadily, so each epoch is the best so far
    rng = np.random.default_rng(4)
    x = (1 / (1 + np.exp(-rng.normal(size=(96, 3)) @ rng.normal(size=(3, 16))))).astype("float32")
    return x[:80], x[80:]


def train(folder, epochs, fingerprint="a", patience=0, augment=None, precision="float32"):
    x, x_val = data()
    # the same numbers whichever tests ran before in this process
    keras.utils.set_random_seed(0)
    # with input noise: a resume must also continue its random draws
    autoencoder, _, _ = sae.build_autoencoder(16, [8], 3, input_noise=0.2, precision=precision)
    return fit_autoencoder(autoencoder, x, x_val, sae.make_optimizer("adam", 0.01), batch_size=16,
                                 epochs=epochs, patience=patience, checkpoint_dir=folder,
                                 fingerprint=fingerprint, seed=3, augment=augment)


def newest_state(folder):
    return checkpoint.state_files(folder)[0]


def test_each_epoch_is_checkpointed_with_its_model_history_and_checksums(tmp_path):
    folder = tmp_path / "ckpt"
    _, history = train(folder, epochs=3)
    state = json.loads((folder / "epoch3.json").read_text())
    assert state["epochs_done"] == 3
    assert state["history"]["loss"] == history["loss"]
    assert state["model_file"] == "model-epoch3.keras"
    for name in filter(None, (state["model_file"], state["best_file"])):
        assert state["sha256"][name] == checkpoint.file_sha256(folder / name)


def test_the_last_two_checkpoints_and_only_their_files_are_kept(tmp_path):
    folder = tmp_path / "ckpt"
    train(folder, epochs=4)
    states = [checkpoint.read_state(path) for path in checkpoint.state_files(folder)]
    assert [state.epochs_done for state in states] == [4, 3]
    named = {"epoch4.json", "epoch3.json"} | {n for st in states for n in (st.model_file, st.best_file) if n}
    assert {path.name for path in folder.iterdir()} == named


def test_a_restarted_run_resumes_after_the_last_checkpointed_epoch(tmp_path, caplog):
    caplog.set_level(logging.INFO)
    _, first = train(tmp_path / "ckpt", epochs=2)
    _, history = train(tmp_path / "ckpt", epochs=5)
    assert "resuming from the checkpoint" in caplog.text and "after epoch 2" in caplog.text
    assert len(history["loss"]) == 5
    assert history["loss"][:2] == first["loss"]


@pytest.mark.parametrize("interrupted_after", [1, 2, 4])
@pytest.mark.parametrize("patience", [0, 2])
def test_a_run_resumed_after_any_epoch_is_the_run_never_interrupted_byte_for_byte(tmp_path, interrupted_after,
                                                                                  patience):
    uninterrupted, expected = train(tmp_path / "whole", epochs=6, patience=patience)
    train(tmp_path / "cut", epochs=interrupted_after, patience=patience)
    resumed, history = train(tmp_path / "cut", epochs=6, patience=patience)
    assert history == expected
    for got, want in zip(resumed.get_weights(), uninterrupted.get_weights(), strict=True):
        np.testing.assert_array_equal(got, want)
    for got, want in zip(resumed.optimizer.variables, uninterrupted.optimizer.variables, strict=True):
        np.testing.assert_array_equal(got.numpy(), want.numpy())


def test_a_run_on_moved_copies_resumed_is_the_run_never_interrupted_byte_for_byte(tmp_path):
    # each epoch's copies are drawn from the seed, the epoch and the batch, not from a state
    augment = augmenter((4, 4, 1), shift=0.25, rotation=0.1)
    uninterrupted, expected = train(tmp_path / "whole", epochs=4, augment=augment)
    train(tmp_path / "cut", epochs=2, augment=augment)
    resumed, history = train(tmp_path / "cut", epochs=4, augment=augment)
    assert history == expected
    for got, want in zip(resumed.get_weights(), uninterrupted.get_weights(), strict=True):
        np.testing.assert_array_equal(got, want)


def test_a_bfloat16_run_resumed_is_the_run_never_interrupted_byte_for_byte(tmp_path):
    uninterrupted, expected = train(tmp_path / "whole", epochs=4, precision="bfloat16")
    train(tmp_path / "cut", epochs=2, precision="bfloat16")
    resumed, history = train(tmp_path / "cut", epochs=4, precision="bfloat16")
    assert history == expected
    assert resumed.get_layer("decoder").get_layer("reconstruction").dtype_policy.name == "mixed_bfloat16"
    for got, want in zip(resumed.get_weights(), uninterrupted.get_weights(), strict=True):
        np.testing.assert_array_equal(got, want)


def test_each_epoch_sees_the_images_in_an_order_drawn_from_the_seed_and_the_epoch():
    orders = [training.epoch_order(seed, epoch, 50) for seed, epoch in [(0, 0), (0, 1), (1, 0)]]
    assert all(sorted(order) == list(range(50)) for order in orders)
    assert len({tuple(order) for order in orders}) == 3
    np.testing.assert_array_equal(training.epoch_order(0, 1, 50), orders[1])


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
    state = checkpoint.read_state(newest_state(folder))
    state.wait = 2  # as if the last two epochs had not improved, with patience 2
    newest_state(folder).write_text(json.dumps(state.__dict__))
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


def cut_short(path):
    path.write_bytes(path.read_bytes()[: path.stat().st_size // 2])


@pytest.mark.parametrize("damage", ["cut-short model", "missing model", "foreign model", "bad JSON state",
                                    "damaged best weights"])
def test_a_damaged_checkpoint_is_discarded_and_the_one_before_resumed(tmp_path, caplog, damage):
    caplog.set_level(logging.INFO)
    folder = tmp_path / "ckpt"
    _, first = train(folder, epochs=3)
    state = checkpoint.read_state(folder / "epoch3.json")
    # epoch 3 was the best so far, so epoch 2's checkpoint names other best weights
    assert state.best_file == "best-epoch3.weights.h5", state
    damaged = {
        "cut-short model": folder / state.model_file,
        "missing model": folder / state.model_file,
        "foreign model": folder / state.model_file,
        "bad JSON state": folder / "epoch3.json",
        "damaged best weights": folder / state.best_file,
    }[damage]
    if damage == "missing model":
        damaged.unlink()
    elif damage == "foreign model":
        damaged.write_bytes(b"PK\x03\x04 not a keras file")
    elif damage == "bad JSON state":
        damaged.write_text('{"fingerprint": "a", "epochs_do')
    else:
        cut_short(damaged)
    _, history = train(folder, epochs=5)
    warnings = [r.getMessage() for r in caplog.records if "discarding a damaged checkpoint" in r.getMessage()]
    assert len(warnings) == 1 and str(damaged) in warnings[0], caplog.text
    assert "after epoch 2" in caplog.text
    # the resumed run redoes epoch 3 and goes on: every epoch once, the first two as before
    assert len(history["loss"]) == 5 and history["loss"][:2] == first["loss"][:2]


def test_with_no_whole_checkpoint_left_training_starts_afresh(tmp_path, caplog):
    caplog.set_level(logging.INFO)
    folder = tmp_path / "ckpt"
    train(folder, epochs=2)
    for path in folder.glob("model-epoch*.keras"):
        cut_short(path)
    _, history = train(folder, epochs=3)
    assert caplog.text.count("discarding a damaged checkpoint") == 2
    assert "training starts afresh" in caplog.text and "resuming" not in caplog.text
    assert len(history["loss"]) == 3
