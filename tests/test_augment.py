"""The one augmentation (saepipe.augment): shifted, turned and zoomed copies, drawn from a seed."""

import numpy as np
import pytest

from saepipe.augment import augmenter, random_affine


def stroke(shape=(4, 12, 10, 1)):
    """A batch of flattened images, each a vertical bar in the middle."""
    images = np.zeros(shape, dtype="float32")
    rows, cols = shape[1], shape[2]
    images[:, rows // 4:rows - rows // 4, cols // 2 - 1:cols // 2 + 1] = 1.0
    return images.reshape(len(images), -1)


@pytest.mark.parametrize("shape", [(4, 12, 10, 1), (3, 9, 14, 3)])
def test_random_affine_moves_each_image_as_its_seed_says_and_keeps_its_ink(shape):
    flat = stroke(shape)
    moved = lambda seed: random_affine(flat, shape[1:], shift=0.2, rotation=0.05, seed=seed).numpy()  # noqa: E731
    first = moved([1, 2])
    assert first.shape == flat.shape
    np.testing.assert_array_equal(first, moved([1, 2]))
    assert np.abs(first - moved([1, 3])).max() > 0.5
    assert np.abs(first - flat).max(axis=1).min() > 0  # every image moved
    # a small move keeps the bar inside the image: its ink, to interpolation's rounding
    np.testing.assert_allclose(first.sum(axis=1), flat.sum(axis=1), rtol=0.05)


def test_no_shift_turn_or_zoom_is_the_image_and_the_augmenter_is_off():
    flat = stroke()
    np.testing.assert_array_equal(random_affine(flat, (12, 10, 1), shift=0.0, rotation=0.0, seed=[0, 0]).numpy(), flat)
    assert augmenter((12, 10, 1), shift=0.0, rotation=0.0) is None
    assert augmenter((12, 10, 1), shift=0.0, rotation=0.0, zoom=0.1) is not None


def test_a_shift_moves_the_image_by_that_share_of_its_size_at_most():
    flat = stroke((64, 12, 10, 1))
    moved = random_affine(flat, (12, 10, 1), shift=0.2, rotation=0.0, seed=[5, 6]).numpy().reshape(64, 12, 10)
    columns = (moved * np.arange(10)).sum(axis=(1, 2)) / moved.sum(axis=(1, 2))
    rows = (moved * np.arange(12)[:, None]).sum(axis=(1, 2)) / moved.sum(axis=(1, 2))
    # the bar's centre is at column 4.5, row 5.5; up to 2 columns and 2.4 rows each way
    assert np.all(np.abs(columns - 4.5) <= 2.0 + 1e-4) and np.all(np.abs(rows - 5.5) <= 2.4 + 1e-4)
    assert np.ptp(columns) > 2 and np.ptp(rows) > 2




def test_a_zoom_scales_the_image_about_its_centre_and_keeps_shifts_and_turns():
    flat = stroke((64, 12, 10, 1))
    plain = random_affine(flat, (12, 10, 1), shift=0.1, rotation=0.05, seed=[7, 8]).numpy()
    zoomed = random_affine(flat, (12, 10, 1), shift=0.1, rotation=0.05, zoom=0.3, seed=[7, 8]).numpy()
    only_zoom = random_affine(flat, (12, 10, 1), shift=0.0, rotation=0.0, zoom=0.3, seed=[7, 8]).numpy()
    assert not np.array_equal(plain, zoomed)
    # the bar stays centred; its length (rows with ink) grows or shrinks with the scale
    heights = (only_zoom.reshape(64, 12, 10).max(axis=2) > 0.5).sum(axis=1)
    assert heights.min() < 6 < heights.max()
    centres = (only_zoom.reshape(64, 12, 10) * np.arange(10)).sum(axis=(1, 2)) / only_zoom.reshape(64, 12, 10).sum(
        axis=(1, 2))
    np.testing.assert_allclose(centres, 4.5, atol=0.05)


def test_image_shaped_batches_come_back_in_their_shape_as_flat_ones_do():
    flat = stroke((4, 12, 10, 1))
    images = flat.reshape(4, 12, 10, 1)
    as_images = random_affine(images, (12, 10, 1), shift=0.2, rotation=0.05, zoom=0.1, seed=[1, 2]).numpy()
    as_flat = random_affine(flat, (12, 10, 1), shift=0.2, rotation=0.05, zoom=0.1, seed=[1, 2]).numpy()
    assert as_images.shape == (4, 12, 10, 1)
    np.testing.assert_array_equal(as_images.reshape(4, -1), as_flat)
