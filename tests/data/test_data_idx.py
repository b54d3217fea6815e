"""The strict IDX reader: round trips, and a clear ValueError naming the file for each defect."""

import gzip
import os

import numpy as np
import pytest
from hypothesis import given, settings, strategies as st
from hypothesis.extra import numpy as hnp

from tinygen.data.idx import encode_idx, parse_idx, read_idx, write_idx

DTYPES = [np.uint8, np.int8, np.int16, np.int32, np.float32, np.float64]


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("gz", [False, True])
def test_round_trip(tmp_path, dtype, gz):
    a = (np.arange(2 * 3 * 5) - 7).astype(dtype).reshape(2, 3, 5)
    path = tmp_path / ("a.idx.gz" if gz else "a.idx")
    write_idx(path, a)
    assert (path.read_bytes()[:2] == b"\x1f\x8b") == gz
    b = read_idx(path)
    assert b.dtype == np.dtype(dtype) and b.dtype.isnative
    np.testing.assert_array_equal(a, b)
    b[0, 0, 0] = 1  # a writable copy, not a view of the file's bytes


def test_header_layout_is_big_endian():
    data = encode_idx(np.array([[1, 2, 3]], dtype=np.int16))
    assert data[:4] == b"\x00\x00\x0b\x02"
    assert data[4:12] == b"\x00\x00\x00\x01\x00\x00\x00\x03"
    assert data[12:] == b"\x00\x01\x00\x02\x00\x03"


def test_gzip_detected_by_content_not_name(tmp_path):
    path = tmp_path / "plain-name-idx1-ubyte"
    path.write_bytes(gzip.compress(encode_idx(np.arange(4, dtype=np.uint8))))
    np.testing.assert_array_equal(read_idx(path), np.arange(4))


@settings(max_examples=25, deadline=None)
@given(hnp.arrays(dtype=st.sampled_from(DTYPES), shape=hnp.array_shapes(min_dims=1, max_dims=4, min_side=0, max_side=4)))
def test_round_trip_property(a):
    b = parse_idx(encode_idx(a))
    assert b.shape == a.shape and b.dtype == a.dtype
    np.testing.assert_array_equal(a, b)


def _write(tmp_path, name, data):
    path = tmp_path / name
    path.write_bytes(data)
    return path


GOOD = encode_idx(np.arange(24, dtype=np.uint8).reshape(2, 3, 4))


@pytest.mark.parametrize(
    "data, message",
    [
        (GOOD[:-1], "truncated: the header declares uint8 data of shape (2, 3, 4), which is 24 bytes, but 23"),
        (GOOD + b"\x00", "too long"),
        (GOOD[:9], "truncated IDX header"),
        (b"\x00\x00", "too short"),
        (b"\x01\x00" + GOOD[2:], "bad IDX magic number"),
        (b"<html>404 not found</html>", "HTML"),
        (b"\x00\x00\x07\x01" + GOOD[4:], "unknown IDX element type 0x07"),
        (b"\x00\x00\x08\x00", "0 dimensions"),
    ],
)
def test_malformed_files_raise_naming_the_file(tmp_path, data, message):
    path = _write(tmp_path, "bad-idx3-ubyte", data)
    with pytest.raises(ValueError) as info:
        read_idx(path)
    assert message in str(info.value)
    assert str(path) in str(info.value)


def test_wrong_byte_count_in_gzipped_file(tmp_path):
    path = _write(tmp_path, "short.gz", gzip.compress(GOOD[:-4]))
    with pytest.raises(ValueError, match="truncated") as info:
        read_idx(path)
    assert str(path) in str(info.value)


def test_truncated_gzip(tmp_path):
    packed = gzip.compress(GOOD)
    path = _write(tmp_path, "cut.gz", packed[: len(packed) // 2])
    with pytest.raises(ValueError, match="corrupt or truncated gzip") as info:
        read_idx(path)
    assert str(path) in str(info.value)


def test_corrupt_gzip(tmp_path):
    packed = bytearray(gzip.compress(os.urandom(2000)))
    packed[20:40] = b"\xff" * 20
    path = _write(tmp_path, "corrupt.gz", bytes(packed))
    with pytest.raises(ValueError, match="corrupt or truncated gzip") as info:
        read_idx(path)
    assert str(path) in str(info.value)


def test_gzip_crc_mismatch(tmp_path):
    packed = bytearray(gzip.compress(GOOD))
    packed[-8] ^= 0xFF  # the CRC32 field of the trailer
    path = _write(tmp_path, "crc.gz", bytes(packed))
    with pytest.raises(ValueError, match="corrupt or truncated gzip"):
        read_idx(path)


def test_encode_rejects_unsupported_dtype():
    with pytest.raises(TypeError, match="uint16"):
        encode_idx(np.zeros(3, dtype=np.uint16))
    with pytest.raises(ValueError, match="dimensions"):
        encode_idx(np.float32(1.0))
