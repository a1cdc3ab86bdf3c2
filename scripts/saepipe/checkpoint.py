"""Resumable training: after each epoch, the model (with its optimizer state), the history so far
and the early-stopping state go to a side folder; a restarted job resumes from there.

A checkpoint is only resumed under the settings it was made with: its fingerprint (a hash of the
model settings, the seed and the training data) must match, or it is discarded.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import shutil
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import keras
import numpy as np

from .atomic import atomic_path, save_json

log = logging.getLogger(__name__)

STATE = "state.json"
BEST = "best.weights.h5"


def fingerprint(settings: dict[str, Any], data_path: str | os.PathLike) -> str:
    """A hash of the settings and the bytes of the training data."""
    digest = hashlib.sha256(json.dumps(settings, sort_keys=True).encode())
    with open(data_path, "rb") as handle:
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


def load(folder: Path, expected: str) -> tuple[keras.Model, TrainingState] | None:
    """The checkpointed model and state, or None; a checkpoint from other settings is discarded."""
    state_path = folder / STATE
    if not state_path.exists():
        return None
    state = TrainingState(**json.loads(state_path.read_text()))
    if state.fingerprint != expected:
        log.warning("discarding the checkpoint in %s: it was made under other settings or data", folder)
        discard(folder)
        return None
    model = keras.saving.load_model(folder / state.model_file)
    log.info("resuming from the checkpoint in %s after epoch %d", folder, state.epochs_done)
    return model, state


def discard(folder: str | os.PathLike) -> None:
    shutil.rmtree(folder, ignore_errors=True)


class Checkpointer(keras.callbacks.Callback):
    """Early stopping that survives restarts, and (with a folder) a checkpoint after each epoch.

    Stops when `monitor` has not improved for `patience` epochs (0: never); at the end of
    training the best weights are restored.
    """

    def __init__(self, state: TrainingState, monitor: str, patience: int, folder: Path | None):
        super().__init__()
        self.state = state
        self.monitor = monitor
        self.patience = patience
        self.folder = folder
        self.best_weights: list[np.ndarray] | None = None

    def on_train_begin(self, logs: dict | None = None) -> None:
        if self.folder is not None and (self.folder / BEST).exists():
            current = self.model.get_weights()
            self.model.load_weights(self.folder / BEST)
            self.best_weights = self.model.get_weights()
            self.model.set_weights(current)

    def on_epoch_end(self, epoch: int, logs: dict | None = None) -> None:
        logs = logs or {}
        state = self.state
        for key, value in logs.items():
            state.history.setdefault(key, []).append(float(value))
        state.epochs_done = epoch + 1
        current = float(logs[self.monitor])
        if current < state.best:
            state.best, state.best_epoch, state.wait = current, epoch + 1, 0
            self.best_weights = self.model.get_weights()
            if self.folder is not None:
                with atomic_path(self.folder / BEST) as tmp:
                    self.model.save_weights(tmp)
        else:
            state.wait += 1
            if self.patience and state.wait >= self.patience:
                log.info("early stopping: no better %s for %d epochs (best %.6f at epoch %d)",
                         self.monitor, state.wait, state.best, state.best_epoch)
                self.model.stop_training = True
        if self.folder is not None:
            self._save()

    def _save(self) -> None:
        # The model under its epoch's name first, then the state that names it: a kill between
        # the two leaves the previous state and its model, and that epoch is redone on resume.
        name = f"model-epoch{self.state.epochs_done}.keras"
        with atomic_path(self.folder / name) as tmp:
            self.model.save(tmp)
        self.state.model_file = name
        save_json(self.folder / STATE, asdict(self.state))
        for old in self.folder.glob("model-epoch*.keras"):
            if old.name != name:
                old.unlink()

    def on_train_end(self, logs: dict | None = None) -> None:
        if self.patience and self.best_weights is not None and self.state.best_epoch != self.state.epochs_done:
            log.info("restoring the weights of epoch %d (best %s %.6f)",
                     self.state.best_epoch, self.monitor, self.state.best)
            self.model.set_weights(self.best_weights)
