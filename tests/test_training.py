"""Early stopping, the same for the autoencoder and the refine classifier: patience 0 turns it off."""

import numpy as np
import pytest

from saepipe.checkpoint import TrainingState
from saepipe.training import EarlyStopping, epoch_order


class Weights:
    """A stand-in for a model: weights to read and write."""

    def __init__(self):
        self.weights = [np.zeros(1)]

    def get_weights(self):
        return [w.copy() for w in self.weights]

    def set_weights(self, weights):
        self.weights = [w.copy() for w in weights]


def run(patience: int, losses: list[float]) -> tuple[EarlyStopping, Weights, int]:
    """Feed `losses` epoch by epoch (the model's weight is the epoch number) until it stops."""
    model, stopping = Weights(), EarlyStopping(TrainingState(fingerprint=""), "val_loss", patience)
    epochs = 0
    for epoch, loss in enumerate(losses):
        if stopping.stopped:
            break
        model.weights = [np.array([epoch + 1.0])]
        stopping.end_epoch(model, epoch, {"val_loss": loss, "loss": loss})
        epochs += 1
    return stopping, model, epochs


@pytest.mark.parametrize("patience, epochs", [(0, 6), (1, 3), (2, 4)])
def test_patience_counts_epochs_without_a_better_loss_and_zero_turns_it_off(patience, epochs):
    stopping, _, done = run(patience, [3.0, 2.0, 2.5, 2.6, 2.7, 2.8])
    assert done == epochs
    assert stopping.state.best_epoch == 2 and stopping.state.epochs_done == epochs
    assert stopping.state.history["val_loss"] == [3.0, 2.0, 2.5, 2.6, 2.7, 2.8][:epochs]


def test_the_best_weights_come_back_only_when_early_stopping_is_on():
    stopping, model, _ = run(2, [3.0, 2.0, 2.5, 2.6])
    stopping.restore_best(model)
    assert model.weights[0][0] == 2.0  # epoch 2's
    stopping, model, _ = run(0, [3.0, 2.0, 2.5, 2.6])
    stopping.restore_best(model)
    assert model.weights[0][0] == 4.0  # off: the last epoch's, as trained


def test_a_better_epoch_resets_the_wait():
    stopping, _, done = run(2, [3.0, 3.1, 2.0, 2.1, 1.0, 1.1, 1.2, 0.5])
    assert done == 7 and stopping.state.best_epoch == 5


def test_each_epochs_order_is_drawn_from_the_seed_and_the_epoch_alone():
    assert sorted(epoch_order(0, 3, 20)) == list(range(20))
    np.testing.assert_array_equal(epoch_order(0, 3, 20), epoch_order(0, 3, 20))
    assert not np.array_equal(epoch_order(0, 3, 20), epoch_order(0, 4, 20))
