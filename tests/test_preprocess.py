import numpy as np
import pytest

from saepipe.data import DamagedInput, load_npy, load_npz, scale_and_flatten, validation_mask
from saepipe.logs import logged_step


def test_scale_and_flatten_gives_float32_in_unit_range():
    images = np.array([[[0, 255], [128, 1]]], dtype=np.uint8)
    x = scale_and_flatten(images)
    assert x.dtype == np.float32
    assert x.shape == (1, 4)
    np.testing.assert_allclose(x[0], [0, 1, 128 / 255, 1 / 255], rtol=1e-6)


def test_validation_mask_has_the_requested_size_and_is_fixed_by_seed():
    a = validation_mask(1000, 0.1, seed=3)
    assert a.sum() == 100
    np.testing.assert_array_equal(a, validation_mask(1000, 0.1, seed=3))
    assert not np.array_equal(a, validation_mask(1000, 0.1, seed=4))


def test_zero_validation_fraction_holds_nothing_out():
    assert validation_mask(50, 0.0, seed=0).sum() == 0


def cut_short(path):
    path.write_bytes(path.read_bytes()[: path.stat().st_size // 2])


def test_a_cut_short_array_names_the_file_and_the_step_that_rebuilds_it(tmp_path):
    path = tmp_path / "embeddings" / "train.npy"
    path.parent.mkdir()
    np.save(path, np.ones((50, 4), dtype=np.float32))
    cut_short(path)
    with pytest.raises(DamagedInput) as caught:
        load_npy(path)
    assert str(caught.value).startswith(f"{path}: cut short or not a NumPy .npy file")
    assert "delete it and run Snakemake again, which rebuilds it (rule embed)" in str(caught.value)


@pytest.mark.parametrize("content", [b"", b"PK\x03\x04 not an archive", b"\x93NUMPY cut"])
def test_a_damaged_or_foreign_archive_is_a_clear_error(tmp_path, content):
    path = tmp_path / "data" / "train.npz"
    path.parent.mkdir()
    path.write_bytes(content)
    with pytest.raises(DamagedInput, match=r"train\.npz: cut short or not a NumPy \.npz file .*\(rule preprocess\)"):
        load_npz(path)


def test_a_whole_archive_loads_every_array(tmp_path):
    path = tmp_path / "x.npz"
    np.savez(path, x=np.arange(3), y=np.ones(2))
    loaded = load_npz(path)
    assert sorted(loaded) == ["x", "y"] and loaded["x"].tolist() == [0, 1, 2]


def test_a_step_error_is_logged_as_one_line_and_exits_without_a_traceback(tmp_path, capsys):
    log_file = tmp_path / "step.log"
    with pytest.raises(SystemExit) as exit_:
        with logged_step(log_file):
            raise DamagedInput("results/x.npy: cut short; delete it")
    assert exit_.value.code == 1
    lines = log_file.read_text().splitlines()
    assert len(lines) == 1 and lines[0].endswith("ERROR saepipe: DamagedInput: results/x.npy: cut short; delete it")
    assert "Traceback" not in capsys.readouterr().err
