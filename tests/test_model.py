import keras
import numpy as np
import pytest

from conftest import fit_autoencoder
from saepipe import model as sae
from saepipe import training
from saepipe.augment import augmenter
from saepipe.data import DamagedInput


def small(**kwargs):
    defaults = dict(input_dim=16, hidden_units=[12, 8], embedding_dim=3)
    return sae.build_autoencoder(**{**defaults, **kwargs})


def test_layer_sizes_follow_the_config_and_the_decoder_mirrors_the_encoder():
    autoencoder, encoder, decoder = small()
    dense = lambda m: [l.units for l in m.layers if isinstance(l, keras.layers.Dense)]
    assert dense(encoder) == [12, 8, 3]
    assert dense(decoder) == [8, 12, 16]
    assert autoencoder.output_shape == (None, 16)
    assert encoder.output_shape == (None, 3)


@pytest.mark.parametrize("kind, activation", [("l1", "linear"), ("kl", "sigmoid")])
def test_the_sparsity_penalty_adds_to_the_loss(kind, activation):
    x = np.random.default_rng(0).random((32, 16)).astype("float32")
    losses = {}
    for weight in (0.0, 0.5):
        training.seed_everything(0, threads=1)
        autoencoder, _, _ = small(sparsity=kind, sparsity_weight=weight, embedding_activation=activation)
        autoencoder.compile(optimizer="adam", loss="mse")
        losses[weight] = autoencoder.evaluate(x, x, verbose=0)
    assert losses[0.5] > losses[0.0] + 1e-4


def test_kl_penalty_is_zero_at_the_target_and_positive_elsewhere():
    penalty = sae.KLSparsity(rho=0.1, beta=2.0)
    at_target = np.full((4, 3), 0.1, dtype="float32")
    away = np.full((4, 3), 0.5, dtype="float32")
    assert float(penalty(at_target)) == pytest.approx(0.0, abs=1e-6)
    assert float(penalty(away)) > 0.1


def test_unknown_penalty_and_optimizer_are_clear_errors():
    with pytest.raises(ValueError, match="model.sparsity.kind"):
        sae.sparsity_regularizer("l3", 1.0, 0.05)
    with pytest.raises(ValueError, match="model.optimizer"):
        sae.make_optimizer("adagrad2", 0.01)


def train_steps(optimizer: keras.optimizers.Optimizer, steps: int = 20) -> list[np.ndarray]:
    """The weights of a small autoencoder, the same start and batches, after `steps` updates."""
    training.seed_everything(0, threads=1)
    autoencoder, _, _ = small()
    autoencoder.compile(optimizer=optimizer, loss="mse")
    x = np.random.default_rng(3).random((steps * 8, 16)).astype("float32")
    autoencoder.fit(x, x, batch_size=8, epochs=1, shuffle=False, verbose=0)
    return autoencoder.get_weights()


def test_the_fused_adam_follows_keras_adam_to_float32_rounding():
    # The same rule (moments, bias correction, epsilon): after 20 steps every weight agrees with
    # Keras' own Adam to float32 rounding (6e-6 measured), where a learning rate 10 % off moves
    # some weight by 0.1.
    fused, plain = train_steps(sae.make_optimizer("adam", 0.01)), train_steps(keras.optimizers.Adam(0.01))
    training.seed_everything(0, threads=1)
    start = small()[0].get_weights()
    for after_fused, after_plain in zip(fused, plain):
        np.testing.assert_allclose(after_fused, after_plain, rtol=0, atol=5e-5)
    assert max(np.abs(a - b).max() for a, b in zip(plain, start)) > 0.05  # the steps did move them
    assert isinstance(sae.make_optimizer("adam", 0.01), sae.FusedAdam)


def test_a_saved_model_keeps_the_fused_adam_and_its_moments(tmp_path):
    autoencoder, _, _ = small()
    autoencoder.compile(optimizer=sae.make_optimizer("adam", 0.01), loss="mse")
    x = np.random.default_rng(1).random((32, 16)).astype("float32")
    autoencoder.fit(x, x, batch_size=8, epochs=1, verbose=0)
    path = tmp_path / "m.keras"
    autoencoder.save(path)
    reloaded = sae.load_model(path)
    assert isinstance(reloaded.optimizer, sae.FusedAdam)
    assert int(reloaded.optimizer.iterations) == 4
    for saved, kept in zip(autoencoder.optimizer.variables, reloaded.optimizer.variables):
        np.testing.assert_array_equal(np.asarray(saved), np.asarray(kept))


def test_a_saved_model_with_the_kl_penalty_reloads(tmp_path):
    autoencoder, _, _ = small(sparsity="kl", sparsity_weight=0.1, embedding_activation="sigmoid")
    autoencoder.compile(optimizer="adam", loss="mse")
    path = tmp_path / "m.keras"
    autoencoder.save(path)
    reloaded = keras.saving.load_model(path)
    x = np.random.default_rng(1).random((4, 16)).astype("float32")
    np.testing.assert_allclose(sae.encode(reloaded, x), sae.encode(autoencoder, x), rtol=1e-6)
    assert isinstance(sae.encoder_of(reloaded).get_layer("code").activity_regularizer, sae.KLSparsity)


def test_training_reduces_the_loss_and_is_deterministic_for_a_seed():
    x = np.random.default_rng(2).random((128, 16)).astype("float32")

    def run():
        training.seed_everything(5, threads=1)
        autoencoder, _, _ = small()
        _, history = fit_autoencoder(autoencoder, x[:96], x[96:], sae.make_optimizer("adam", 0.01),
                                        batch_size=16, epochs=4, patience=0)
        return history, sae.encode(autoencoder, x)

    (h1, codes1), (h2, codes2) = run(), run()
    assert h1["loss"][-1] < h1["loss"][0]
    assert set(h1) == {"loss", "val_loss"}
    np.testing.assert_array_equal(codes1, codes2)
    assert h1 == h2


def test_a_nan_loss_stops_training_with_a_hint_at_the_learning_rate():
    x = np.random.default_rng(3).random((64, 16)).astype("float32")
    autoencoder, _, _ = small()
    with pytest.raises(FloatingPointError, match="learning rate"):
        fit_autoencoder(autoencoder, x, None, sae.make_optimizer("sgd", 1e12),
                              batch_size=16, epochs=3, patience=0)


def test_a_foreign_model_file_names_the_file_and_the_step_that_rebuilds_it(tmp_path):
    path = tmp_path / "autoencoder.keras"
    path.write_bytes(b"PK\x03\x04 half a zip")
    with pytest.raises(DamagedInput, match=r"autoencoder\.keras: cut short or not a Keras \.keras file .*\(rule train\)"):
        sae.load_model(path)


def stroke(shape=(4, 12, 10, 1)):
    """A batch of flattened images, each a vertical bar in the middle."""
    images = np.zeros(shape, dtype="float32")
    rows, cols = shape[1], shape[2]
    images[:, rows // 4:rows - rows // 4, cols // 2 - 1:cols // 2 + 1] = 1.0
    return images.reshape(len(images), -1)


def test_training_on_moved_copies_is_deterministic_for_a_seed_and_not_the_plain_training():
    x = stroke((64, 4, 4, 1)) * np.random.default_rng(6).random((64, 16)).astype("float32")

    def run(augment):
        training.seed_everything(5, threads=1)
        autoencoder, _, _ = small()
        _, history = fit_autoencoder(autoencoder, x[:48], x[48:], sae.make_optimizer("adam", 0.01),
                                        batch_size=16, epochs=3, patience=0, seed=2, augment=augment)
        return history, sae.encode(autoencoder, x)

    augment = augmenter((4, 4, 1), shift=0.25, rotation=0.1)
    (h1, codes1), (h2, codes2), (h3, codes3) = run(augment), run(augment), run(None)
    np.testing.assert_array_equal(codes1, codes2)
    assert h1 == h2 and h1["loss"] != h3["loss"]


def test_auto_precision_is_bfloat16_only_on_a_cpu_with_bfloat16_products_in_hardware():
    assert sae.resolve_precision("auto", {"avx2", "amx_bf16", "amx_tile"}, gpus=0) == "bfloat16"
    assert sae.resolve_precision("auto", {"avx2", "avx512f", "avx512_bf16"}, gpus=0) == "bfloat16"
    assert sae.resolve_precision("auto", {"avx2", "avx512f"}, gpus=0) == "float32"
    assert sae.resolve_precision("auto", {"amx_bf16"}, gpus=1) == "float32"
    assert sae.resolve_precision("bfloat16", set(), gpus=0) == "bfloat16"
    assert sae.resolve_precision("float32", {"amx_bf16"}, gpus=0) == "float32"
    with pytest.raises(ValueError, match="model.precision.*'half'"):
        sae.resolve_precision("half", set(), gpus=0)


def test_cpu_flags_reads_the_flags_line_and_none_without_the_file(tmp_path):
    cpuinfo = tmp_path / "cpuinfo"
    cpuinfo.write_text("processor\t: 0\nmodel name\t: Some CPU\nflags\t\t: fpu avx2 amx_bf16\n\n"
                       "processor\t: 1\nflags\t\t: fpu\n")
    assert sae.cpu_flags(cpuinfo) == {"fpu", "avx2", "amx_bf16"}
    assert sae.cpu_flags(tmp_path / "missing") == set()


def test_bfloat16_computes_the_hidden_layers_in_bfloat16_and_gives_float32_codes_and_images():
    autoencoder, encoder, decoder = small(precision="bfloat16")
    hidden = [l for m in (encoder, decoder) for l in m.layers
              if isinstance(l, keras.layers.Dense) and l.name != "code"]
    assert hidden and {l.dtype_policy.name for l in hidden} == {"mixed_bfloat16"}
    assert all(w.dtype == "float32" for w in autoencoder.weights)
    x = np.random.default_rng(0).random((8, 16)).astype("float32")
    assert str(sae.encode(autoencoder, x).dtype) == "float32"
    assert str(autoencoder.predict(x, verbose=0).dtype) == "float32"
    with pytest.raises(ValueError, match="resolve auto"):
        small(precision="auto")


def test_bfloat16_training_is_deterministic_for_a_seed_reloads_and_differs_from_float32(tmp_path):
    x = np.random.default_rng(2).random((128, 16)).astype("float32")

    def run(precision):
        training.seed_everything(5, threads=1)
        autoencoder, _, _ = small(precision=precision)
        _, history = fit_autoencoder(autoencoder, x[:96], x[96:], sae.make_optimizer("adam", 0.01),
                                        batch_size=16, epochs=4, patience=0)
        return autoencoder, history

    (model1, h1), (model2, h2), (_, h3) = run("bfloat16"), run("bfloat16"), run("float32")
    codes = sae.encode(model1, x)
    np.testing.assert_array_equal(codes, sae.encode(model2, x))
    assert h1 == h2 and h1["loss"][-1] < h1["loss"][0] and h1["loss"] != h3["loss"]
    model1.save(tmp_path / "bf16.keras")
    np.testing.assert_array_equal(sae.encode(sae.load_model(tmp_path / "bf16.keras"), x), codes)
