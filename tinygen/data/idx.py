"""A strict reader (and a small writer) for the IDX format MNIST ships in.

IDX layout (big-endian throughout, http://yann.lecun.com/exdb/mnist/):

  bytes 0-1   zero
  byte  2     element type: 0x08 uint8, 0x09 int8, 0x0B int16, 0x0C int32, 0x0D float32, 0x0E float64
  byte  3     number of dimensions d
  then        d big-endian uint32 sizes
  then        prod(sizes) elements, row-major, nothing after them

The reader checks every one of these and says exactly what is wrong, naming the file, because a
half-downloaded or mislabelled file otherwise turns into a confusing reshape error much later.
Files may be gzip-compressed; that is detected from the gzip magic bytes, not the file name.
"""

from __future__ import annotations

import gzip
import os
import zlib

import numpy as np

IDX_TYPES = {
    0x08: np.dtype(">u1"),
    0x09: np.dtype(">i1"),
    0x0B: np.dtype(">i2"),
    0x0C: np.dtype(">i4"),
    0x0D: np.dtype(">f4"),
    0x0E: np.dtype(">f8"),
}
_GZIP_MAGIC = b"\x1f\x8b"


def _type_list() -> str:
    return ", ".join(f"0x{code:02X} ({dt.name})" for code, dt in IDX_TYPES.items())


def parse_idx(data: bytes, source: str = "<bytes>") -> np.ndarray:
    """Parse uncompressed IDX bytes into a native-endian array; ``source`` names it in errors."""
    data = memoryview(data).cast("B")
    size = len(data)
    if size < 4:
        raise ValueError(f"{source}: file is {size} bytes, too short to hold the 4-byte IDX header")
    head = bytes(data[:4])
    if head[0] != 0 or head[1] != 0:
        hint = ""
        if head[:1] in (b"<", b"{"):
            hint = " (it looks like an HTML/JSON page: a failed download saved as the file?)"
        raise ValueError(
            f"{source}: bad IDX magic number 0x{head.hex().upper()}: an IDX file starts with two zero "
            f"bytes{hint}; the file is not an IDX file or is corrupt, so replace it"
        )
    code, ndim = head[2], head[3]
    if code not in IDX_TYPES:
        raise ValueError(f"{source}: unknown IDX element type 0x{code:02X}; valid types are {_type_list()}")
    if ndim == 0:
        raise ValueError(f"{source}: IDX header declares 0 dimensions; an IDX array has at least one")
    header_size = 4 + 4 * ndim
    if size < header_size:
        raise ValueError(
            f"{source}: truncated IDX header: {ndim} dimensions need {header_size} header bytes, "
            f"the file has only {size} bytes"
        )
    dims = tuple(int(d) for d in np.frombuffer(data[4:header_size], dtype=">u4"))
    dtype = IDX_TYPES[code]
    expected = int(np.prod(dims, dtype=object)) * dtype.itemsize
    actual = size - header_size
    if actual != expected:
        what = "truncated" if actual < expected else "too long"
        raise ValueError(
            f"{source}: {what}: the header declares {dtype.name} data of shape {dims}, which is "
            f"{expected} bytes, but {actual} bytes follow the {header_size}-byte header; "
            f"the file is incomplete or corrupt, so download or copy it again"
        )
    array = np.frombuffer(data[header_size:], dtype=dtype).reshape(dims)
    return array.astype(dtype.newbyteorder("="))  # native byte order, writable copy


def read_idx(path) -> np.ndarray:
    """Read an IDX file, gzip-compressed or not, into a native-endian NumPy array.

    Raises ValueError naming the file for anything malformed: a corrupt or truncated gzip
    stream, a bad magic number, an unknown element type, or a byte count that does not match the
    declared shape.
    """
    path = os.fspath(path)
    with open(path, "rb") as f:
        raw = f.read()
    if raw[:2] == _GZIP_MAGIC:
        try:
            raw = gzip.decompress(raw)
        except (OSError, EOFError, zlib.error) as exc:
            raise ValueError(
                f"{path}: corrupt or truncated gzip data ({exc}); the file is damaged or "
                f"incompletely downloaded, so download or copy it again"
            ) from exc
    return parse_idx(raw, path)


def encode_idx(array) -> bytes:
    """Encode an array as IDX bytes (the inverse of ``parse_idx``)."""
    array = np.asarray(array)
    if array.ndim == 0 or array.ndim > 255:
        raise ValueError(f"IDX stores arrays with 1 to 255 dimensions, got {array.ndim}")
    for code, dt in IDX_TYPES.items():
        if dt.kind == array.dtype.kind and dt.itemsize == array.dtype.itemsize:
            break
    else:
        raise TypeError(f"IDX cannot store dtype {array.dtype}; it stores uint8, int8, int16, int32, float32, float64")
    header = bytes([0, 0, code, array.ndim]) + np.asarray(array.shape, dtype=">u4").tobytes()
    return header + np.ascontiguousarray(array, dtype=dt).tobytes()


def write_idx(path, array, compress=None) -> None:
    """Write ``array`` as an IDX file; gzip it if ``compress`` (default: the name ends in .gz)."""
    path = os.fspath(path)
    data = encode_idx(array)
    if compress is None:
        compress = path.endswith(".gz")
    if compress:
        data = gzip.compress(data, mtime=0)
    with open(path, "wb") as f:
        f.write(data)
