import numpy as np

from saepipe.data import scale_and_flatten, validation_mask


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
