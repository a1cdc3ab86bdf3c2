"""Resumable training's files, which training.fit writes and reads: after each epoch, the model
(with its optimizer state), the history so far and the early-stopping state go to a side folder;
a restarted job resumes from there.

A checkpoint is only resumed under the settings it was made with: its fingerprint (a hash of the
model settings, the seed and the training data) must match, or it is discarded. It is only
resumed whole: each epoch's state file (epoch<k>.json) records the SHA-256 of the files it names
(model-epoch<k>.keras, best-epoch<j>.weights.h5); a missing, cut-short or unreadable piece, as a
crashed node, a full disk or a partial copy leaves it, is discarded with one log line, and
training falls back to the checkpoint before (the last two are kept) or starts afresh.

A resume is exact: with the optimizer's state (in the model file) the state records the input
noise generator's, which Keras does not save; the order of the images is drawn from the seed and
the epoch (training.epoch_order).
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import re
import shutil
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import keras
import numpy as np

from .atomic import atomic_path, save_json

log = logging.getLogger(__name__)

STATE = re.compile(r"epoch(\d+)\.json")
KEEP = 2  # checkpoints kept: the last one, and one to fall back to if it is damaged


def fingerprint(settings: dict[str, Any], data_path: str | os.PathLike) -> str:
    """A hash of the settings and the bytes of the training data."""
    return file_sha256(data_path, hashlib.sha256(json.dumps(settings, sort_keys=True).encode()))


def file_sha256(path: str | os.PathLike, digest: Any = None) -> str:
    """The SHA-256 of a file's bytes (after what `digest` already holds)."""
    digest = digest or hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 22), b""):
            digest.update(block)
    return digest.hexdigest()


@dataclass
class TrainingState:
    fingerprint: str
    epochs_done: int = 0
    history: dict[str, list[float]] = field(default_factory=dict)
    best: float = float("inf")
    best_epoch: int = 0
    wait: int = 0
    model_file: str = ""
    best_file: str = ""
    # file name -> SHA-256 of the files this state names, recorded when they were written
    sha256: dict[str, str] = field(default_factory=dict)
    # layer name -> state of its random generator after this epoch (see noise_states)
    noise: dict[str, list[int]] = field(default_factory=dict)


class DamagedCheckpoint(Exception):
    """A piece of a checkpoint is missing, cut short or unreadable; the message says which."""


def state_files(folder: Path) -> list[Path]:
    """The folder's state files, newest epoch first."""
    found = [(int(m.group(1)), p) for p in folder.glob("epoch*.json") if (m := STATE.fullmatch(p.name))]
    return [path for _, path in sorted(found, reverse=True)]


def read_state(path: Path) -> TrainingState:
    try:
        return TrainingState(**json.loads(path.read_text()))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError, TypeError) as err:
        raise DamagedCheckpoint(f"{path}: unreadable state file ({type(err).__name__}: {err})") from None


def verify(folder: Path, state: TrainingState) -> None:
    """Every file the state names is there, with the SHA-256 recorded when it was written."""
    for name in filter(None, (state.model_file, state.best_file)):
        path = folder / name
        if not path.exists():
            raise DamagedCheckpoint(f"{path}: missing")
        if state.sha256.get(name) != file_sha256(path):
            raise DamagedCheckpoint(f"{path}: damaged (its SHA-256 is not the one recorded when it was written)")


def load_model(path: Path) -> keras.Model:
    """The checkpoint's model (its custom layers registered by the module that built it)."""
    try:
        return keras.saving.load_model(path)
    except Exception as err:  # noqa: BLE001 - whatever Keras raises, the file is unusable
        raise DamagedCheckpoint(f"{path}: unreadable model ({type(err).__name__}: {err})") from None


def load(folder: Path, expected: str) -> tuple[keras.Model, TrainingState] | None:
    """The newest whole checkpoint's model and state, or None to start afresh.

    A checkpoint from other settings discards the folder; a damaged one is discarded with a log
    line naming the file and what is wrong, and the one before it is tried.
    """
    if not folder.exists():
        return None
    tried = False
    for path in state_files(folder):
        tried = True
        try:
            state = read_state(path)
            if state.fingerprint != expected:
                log.warning("discarding the checkpoint in %s: it was made under other settings or data", folder)
                discard(folder)
                return None
            verify(folder, state)
            model = load_model(folder / state.model_file)
            restore_noise_states(model, state.noise)
        except DamagedCheckpoint as err:
            log.warning("discarding a damaged checkpoint: %s", err)
            path.unlink(missing_ok=True)
            continue
        log.info("resuming from the checkpoint in %s after epoch %d", folder, state.epochs_done)
        return model, state
    if tried:
        log.warning("no usable checkpoint left in %s: training starts afresh", folder)
        discard(folder)
    return None


def discard(folder: str | os.PathLike) -> None:
    shutil.rmtree(folder, ignore_errors=True)


def noise_states(model: keras.Model) -> dict[str, list[int]]:
    """The state of each random generator the model draws from while training (the input noise).

    Keras does not save it with the model; without it a resumed run would draw other noise than
    the run it continues.
    """
    return {layer.name: [int(v) for v in keras.ops.convert_to_numpy(layer.seed_generator.state)]
            for layer in all_layers(model) if hasattr(layer, "seed_generator")}


def restore_noise_states(model: keras.Model, states: dict[str, list[int]]) -> None:
    for layer in all_layers(model):
        if layer.name in states and hasattr(layer, "seed_generator"):
            layer.seed_generator.state.assign(np.asarray(states[layer.name], dtype="int64"))


def all_layers(model: keras.Model):
    """Every layer of the model, those of its sub-models (the encoder, the decoder) included."""
    for layer in model.layers:
        yield layer
        if isinstance(layer, keras.Model):
            yield from all_layers(layer)


def best_weights(model: keras.Model, folder: Path, state: TrainingState) -> list[np.ndarray] | None:
    """The best epoch's weights of a resumed checkpoint (verified with the rest of it), leaving
    `model` and its optimizer as they are."""
    if not state.best_file:
        return None
    # load_weights also sets the optimizer's state to the best epoch's: put it all back.
    everything = [*model.variables, *model.optimizer.variables]
    current = [variable.numpy() for variable in everything]
    model.load_weights(folder / state.best_file)
    weights = model.get_weights()
    for variable, value in zip(everything, current):
        variable.assign(value)
    return weights


class Checkpoints:
    """Writes a checkpoint after each epoch into `folder`: the best epoch's weights when the
    epoch was the best so far, the model with its optimizer's state, and the state naming them;
    keeps the last KEEP."""

    def __init__(self, folder: Path):
        self.folder = folder

    def save(self, model: keras.Model, state: TrainingState, improved: bool) -> None:
        # The model under its epoch's name first, then the state that names it: a kill between
        # the two leaves the previous state and its files, and that epoch is redone on resume.
        if improved:
            state.best_file = self._write(state, f"best-epoch{state.epochs_done}.weights.h5", model.save_weights)
        state.model_file = self._write(state, f"model-epoch{state.epochs_done}.keras", model.save)
        state.sha256 = {name: digest for name, digest in state.sha256.items()
                        if name in (state.model_file, state.best_file)}
        state.noise = noise_states(model)
        save_json(self.folder / f"epoch{state.epochs_done}.json", asdict(state))
        self._prune(state)

    def _write(self, state: TrainingState, name: str, save) -> str:
        """Write a checkpoint file under a temporary name and record its SHA-256."""
        with atomic_path(self.folder / name) as tmp:
            save(tmp)
            state.sha256[name] = file_sha256(tmp)
        return name

    def _prune(self, state: TrainingState) -> None:
        """Keep the last KEEP states and the files they name."""
        kept = state_files(self.folder)[:KEEP]
        needed = {path.name for path in kept} | {state.model_file, state.best_file}
        for path in kept[1:]:
            try:
                older = read_state(path)
            except DamagedCheckpoint:
                continue
            needed.update((older.model_file, older.best_file))
        for path in self.folder.iterdir():
            if path.is_file() and path.name not in needed and not path.name.startswith(".tmp-"):
                path.unlink()
