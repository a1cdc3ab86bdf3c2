import gzip
import hashlib

import numpy as np
import pytest

from saepipe.idx import (
    ChecksumError,
    IdxError,
    load_image_label_pair,
    md5_of_content,
    parse_idx,
    read_idx,
    verify_md5,
    write_idx,
)


def idx_bytes(array: np.ndarray) -> bytes:
    header = bytes([0, 0, 0x08, array.ndim]) + b"".join(int(n).to_bytes(4, "big") for n in array.shape)
    return header + array.astype(np.uint8).tobytes()


def test_parse_idx_reads_shape_and_values():
    images = np.arange(2 * 3 * 4, dtype=np.uint8).reshape(2, 3, 4)
    parsed = parse_idx(idx_bytes(images))
    assert parsed.shape == (2, 3, 4)
    np.testing.assert_array_equal(parsed, images)


def test_write_then_read_round_trips_gzip_and_plain(tmp_path):
    labels = np.array([3, 1, 4, 1, 5], dtype=np.uint8)
    write_idx(tmp_path / "a.gz", labels)
    write_idx(tmp_path / "b", labels, compress=False)
    assert (tmp_path / "a.gz").read_bytes()[:2] == b"\x1f\x8b"
    np.testing.assert_array_equal(read_idx(tmp_path / "a.gz"), labels)
    np.testing.assert_array_equal(read_idx(tmp_path / "b"), labels)


def test_wrong_magic_number_is_named():
    data = bytearray(idx_bytes(np.zeros((2, 2), np.uint8)))
    data[0] = 0x12
    with pytest.raises(IdxError, match=r"x\.idx: bad IDX magic number 0x12000802"):
        parse_idx(bytes(data), name="x.idx")


def test_unknown_type_code_is_rejected():
    data = bytearray(idx_bytes(np.zeros((2, 2), np.uint8)))
    data[2] = 0x07
    with pytest.raises(IdxError, match="magic"):
        parse_idx(bytes(data))


def test_dimensions_that_do_not_match_the_byte_count_are_reported():
    data = idx_bytes(np.zeros((4, 5), np.uint8))
    with pytest.raises(IdxError, match=r"dimensions \(4, 5\) need 32 bytes, but the file has 29"):
        parse_idx(data[:-3])


def test_truncated_gzip_is_an_idx_error(tmp_path):
    path = tmp_path / "t.gz"
    path.write_bytes(gzip.compress(idx_bytes(np.zeros((50, 5), np.uint8)))[:-10])
    with pytest.raises(IdxError, match="t.gz: corrupt or truncated gzip"):
        read_idx(path)


def test_image_and_label_counts_must_agree(tmp_path):
    write_idx(tmp_path / "img.gz", np.zeros((5, 3, 3), np.uint8))
    write_idx(tmp_path / "lab.gz", np.zeros(4, np.uint8))
    with pytest.raises(IdxError, match="img.gz holds 5 images but lab.gz holds 4 labels"):
        load_image_label_pair(tmp_path / "img.gz", tmp_path / "lab.gz", n_classes=10)


def test_labels_outside_the_declared_classes_are_rejected(tmp_path):
    write_idx(tmp_path / "img.gz", np.zeros((3, 3, 3), np.uint8))
    write_idx(tmp_path / "lab.gz", np.array([0, 1, 7], np.uint8))
    with pytest.raises(IdxError, match=r"lab.gz: labels \[7\] lie outside the 4 declared classes"):
        load_image_label_pair(tmp_path / "img.gz", tmp_path / "lab.gz", n_classes=4)


def test_images_must_have_three_dimensions(tmp_path):
    write_idx(tmp_path / "img.gz", np.zeros((3, 9), np.uint8))
    write_idx(tmp_path / "lab.gz", np.zeros(3, np.uint8))
    with pytest.raises(IdxError, match="img.gz: expected unsigned-byte images of 3 dimensions"):
        load_image_label_pair(tmp_path / "img.gz", tmp_path / "lab.gz", n_classes=4)


def test_md5_is_of_the_decompressed_bytes(tmp_path):
    payload = idx_bytes(np.arange(10, dtype=np.uint8))
    (tmp_path / "f.gz").write_bytes(gzip.compress(payload))
    assert md5_of_content(tmp_path / "f.gz") == hashlib.md5(payload).hexdigest()


def test_checksum_mismatch_names_file_source_and_both_sums(tmp_path):
    payload = b"not the real file"
    (tmp_path / "f.gz").write_bytes(gzip.compress(payload))
    actual = hashlib.md5(payload).hexdigest()
    with pytest.raises(ChecksumError) as err:
        verify_md5(tmp_path / "f.gz", "0" * 32, source="http://mirror/")
    message = str(err.value)
    assert "f.gz from http://mirror/" in message
    assert actual in message and "0" * 32 in message


def test_a_truncated_gzip_fails_the_checksum_with_a_clear_reason(tmp_path):
    (tmp_path / "f.gz").write_bytes(gzip.compress(b"x" * 1000)[:-8])
    with pytest.raises(ChecksumError, match=r"f.gz: corrupt or truncated gzip data .*expected the decompressed MD5 a{32}"):
        verify_md5(tmp_path / "f.gz", "a" * 32)
