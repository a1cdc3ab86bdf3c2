"""Reading a user's images: folders of image files and .npz archives, their checks and errors."""

import os

import numpy as np
import pytest
from PIL import Image

from conftest import balanced_labels, class_images, write_image_folder
from saepipe import sources
from saepipe.data import scale_and_flatten

CLASSES = ["circle", "cross", "dot", "line"]


def labelled_folder(root, shape=(20, 24), n=16, seed=0):
    labels = balanced_labels(n, seed)
    images = class_images(labels, shape, seed)
    paths = write_image_folder(root, images, labels, CLASSES)
    return images, labels, paths


def test_a_class_folder_gives_sorted_classes_and_each_image_its_class_index(tmp_path):
    images, labels, paths = labelled_folder(tmp_path / "train")
    listing = sources.list_folder(tmp_path / "train")
    assert listing.classes == CLASSES
    train, test = sources.read_folder_splits(listing, None, None)
    assert test is None and train.images.shape == (16, 20, 24) and train.images.dtype == np.uint8
    # listed by class, then by name: each read image is the one written at that path
    order = [paths.index(tmp_path / "train" / name) for name in listing.files]
    assert np.array_equal(train.images, images[order])
    assert np.array_equal(train.labels, labels[order])
    assert train.ids == [(tmp_path / "train" / name).as_posix() for name in listing.files]


def test_a_flat_folder_has_no_labels(tmp_path):
    write_image_folder(tmp_path, class_images(balanced_labels(6, 0), (10, 10), 0), None)
    listing = sources.list_folder(tmp_path)
    train, _ = sources.read_folder_splits(listing, None, None)
    assert listing.classes is None and train.labels is None and len(train.images) == 6


def test_colour_images_are_read_as_rgb_and_a_gray_one_among_them_too(tmp_path):
    rgb = class_images(balanced_labels(4, 0), (9, 11, 3), 0)
    paths = write_image_folder(tmp_path, rgb, None)
    Image.fromarray(rgb[0, :, :, 0]).save(paths[0])  # one grayscale file
    train, _ = sources.read_folder_splits(sources.list_folder(tmp_path), None, None)
    assert train.images.shape == (4, 9, 11, 3)
    assert np.array_equal(train.images[1:], rgb[1:])
    assert np.array_equal(train.images[0], np.repeat(rgb[0, :, :, :1], 3, axis=2))


def test_images_of_two_sizes_name_two_files_unless_image_size_is_set(tmp_path):
    images = class_images(balanced_labels(3, 0), (12, 12), 0)
    write_image_folder(tmp_path, images, None)
    Image.fromarray(np.zeros((14, 10), np.uint8)).save(tmp_path / "img00001.png")
    with pytest.raises(sources.DatasetError, match=r"img00000.png is 12x12 and .*img00001.png is 10x14.*image_size"):
        sources.read_folder_splits(sources.list_folder(tmp_path), None, None)
    train, _ = sources.read_folder_splits(sources.list_folder(tmp_path), None, [12, 12])
    assert train.images.shape == (3, 12, 12)
    assert np.array_equal(train.images[0], images[0])  # already that size: not resampled


@pytest.mark.parametrize("layout, message", [
    ("empty", "no image files in it"),
    ("empty class", "class folder 'cross' has no image files"),
    ("mixed", "holds both images"),
    ("missing", "no such folder"),
])
def test_a_folder_that_is_not_a_dataset_is_named(tmp_path, layout, message):
    root = tmp_path / "data"
    if layout != "missing":
        root.mkdir()
    if layout == "empty class":
        labelled_folder(root, n=4)
        for path in (root / "cross").iterdir():
            path.unlink()
    if layout == "mixed":
        labelled_folder(root, n=4)
        Image.fromarray(np.zeros((4, 4), np.uint8)).save(root / "stray.png")
    with pytest.raises(sources.DatasetError, match=message) as err:
        sources.list_folder(root)
    assert str(root) in str(err.value)


def test_a_truncated_image_is_named(tmp_path):
    _, _, paths = labelled_folder(tmp_path, n=4)
    paths[2].write_bytes(paths[2].read_bytes()[:60])
    with pytest.raises(sources.DatasetError, match="not a readable image") as err:
        sources.read_folder_splits(sources.list_folder(tmp_path), None, None)
    assert str(paths[2]) in str(err.value)


def test_the_test_folder_must_use_the_training_classes(tmp_path):
    labelled_folder(tmp_path / "train")
    labelled_folder(tmp_path / "test", n=4)
    os.rename(tmp_path / "test" / "dot", tmp_path / "test" / "dots")
    with pytest.raises(sources.DatasetError, match="class folder.*dots.*not among the training classes"):
        sources.read_folder_splits(sources.list_folder(tmp_path / "train"), sources.list_folder(tmp_path / "test"),
                                   None)


def test_the_digest_changes_with_an_image_but_not_with_a_touch(tmp_path):
    _, _, paths = labelled_folder(tmp_path / "train", n=8)
    cache = tmp_path / "cache.tsv"
    first = sources.folder_digest(tmp_path / "train", cache)
    os.utime(paths[0], ns=(1, 1))  # a touch: same bytes, another time
    assert sources.folder_digest(tmp_path / "train", cache) == first
    Image.fromarray(np.full((20, 24), 7, np.uint8)).save(paths[0])
    changed = sources.folder_digest(tmp_path / "train", cache)
    assert changed != first
    paths[1].unlink()
    assert sources.folder_digest(tmp_path / "train", cache) not in (first, changed)


def test_an_unchanged_file_is_not_read_again(tmp_path):
    _, _, paths = labelled_folder(tmp_path, n=4)
    listing = sources.list_folder(tmp_path)
    cache = {}
    sources.manifest(listing, cache)
    key = str(paths[0].resolve())
    size, mtime, _ = cache[key]
    cache[key] = (size, mtime, "kept")  # a stale hash stays in use while size and time match
    assert ("kept" in [md5 for _, _, md5 in sources.manifest(listing, cache)])


def test_an_npz_archive_is_read_with_or_without_labels(tmp_path):
    x = class_images(balanced_labels(8, 0), (16, 16, 3), 0)
    y = balanced_labels(8, 0)
    np.savez(tmp_path / "a.npz", x=x, y=y)
    np.savez(tmp_path / "b.npz", x=x[..., :1] / 255.0)  # (n, rows, cols, 1), float in [0, 1]
    data = sources.read_npz_split(tmp_path / "a.npz", 4)
    assert data.images.shape == (8, 16, 16, 3) and np.array_equal(data.labels, y)
    assert data.ids[3] == "a.npz[3]"
    gray = sources.read_npz_split(tmp_path / "b.npz", None)
    assert gray.images.shape == (8, 16, 16) and gray.labels is None
    assert np.allclose(scale_and_flatten(gray.images), scale_and_flatten(x[..., 0]), atol=1e-6)


@pytest.mark.parametrize("arrays, message", [
    ({"images": np.zeros((2, 4, 4), np.uint8)}, "holds no array named 'x'"),
    ({"x": np.zeros((3, 4, 4), np.uint8), "y": np.zeros(2, np.int64)}, "x holds 3 images but y holds 2 labels"),
    ({"x": np.zeros((2, 4, 4), np.uint8), "y": np.array([0, 7])}, r"labels \[7\] lie outside the 4 declared"),
    ({"x": np.full((2, 4, 4), 2.0)}, "a float x must lie in"),
    ({"x": np.zeros((2, 4, 4, 2), np.uint8)}, "expected \\(images, rows, cols\\)"),
])
def test_a_bad_npz_archive_is_named(tmp_path, arrays, message):
    np.savez(tmp_path / "bad.npz", **arrays)
    with pytest.raises(sources.DatasetError, match=message) as err:
        sources.read_npz_split(tmp_path / "bad.npz", 4)
    assert "bad.npz" in str(err.value)


def test_the_test_split_is_seeded_and_keeps_the_order(tmp_path):
    x = np.arange(50, dtype=np.uint8).reshape(50, 1, 1)
    data = sources.Split(x, np.arange(50) % 4, [f"i{i}" for i in range(50)])
    train, test = sources.split_off_test(data, 0.2, seed=3)
    again, _ = sources.split_off_test(data, 0.2, seed=3)
    other, _ = sources.split_off_test(data, 0.2, seed=4)
    assert len(test.images) == 10 and len(train.images) == 40
    assert sorted(train.ids + test.ids, key=lambda i: int(i[1:])) == data.ids
    assert train.ids == again.ids and train.ids != other.ids
    assert list(test.images.ravel()) == sorted(test.images.ravel())


def test_classes_come_from_the_config_the_labels_or_the_folders(tmp_path):
    labelled_folder(tmp_path / "f", n=4)
    np.savez(tmp_path / "l.npz", x=np.zeros((3, 8, 8), np.uint8), y=np.array([0, 2, 1]))
    np.savez(tmp_path / "u.npz", x=np.zeros((3, 8, 8), np.uint8))
    assert sources.class_names({"format": "folder", "train": tmp_path / "f"}) == CLASSES
    assert sources.class_names({"format": "npz", "train": tmp_path / "l.npz"}) == ["0", "1", "2"]
    assert sources.class_names({"format": "npz", "train": tmp_path / "l.npz", "class_names": ["a", "b", "c", "d"]}) \
        == ["a", "b", "c", "d"]
    assert sources.class_names({"format": "npz", "train": tmp_path / "u.npz"}) is None
    with pytest.raises(sources.DatasetError, match="holds no labels"):
        sources.class_names({"format": "npz", "train": tmp_path / "u.npz", "class_names": ["a", "b"]})
