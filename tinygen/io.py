"""Checkpoints: ``save(obj, path)`` and ``load(path, device=None)`` in a format that cannot run code.

A checkpoint holds nested dicts, lists and tuples whose leaves are tinygen Tensors, NumPy arrays
(and NumPy scalars), Python numbers (int, float, bool), None and strings: model state dicts,
optimizer state, RNG state, epoch counters, config. Loading never unpickles anything; a file is
data, parsed and checked before a single array is allocated.

File layout (all integers little-endian)::

    bytes 0..5    b"TGCKPT"                        signature
    bytes 6..7    uint16 format version            (currently 1)
    bytes 8..15   uint64 header length H           (at most MAX_HEADER_BYTES)
    bytes 16..    H bytes of UTF-8 JSON            (padded with spaces so the data starts 64-aligned)
    then          the data section: raw C-order little-endian buffers, each 64-aligned

The JSON header is ``{"format": "tinygen-checkpoint", "data_nbytes": N, "root": NODE}``, where a
NODE is a JSON null, boolean, integer, float or string (the value itself), or an object with a
single key:

* ``{"dict": [[key, NODE], ...]}`` — keys are strings or integers, insertion order kept;
* ``{"list": [NODE, ...]}`` and ``{"tuple": [NODE, ...]}``;
* ``{"float": "nan" | "inf" | "-inf"}`` — the floats JSON cannot spell;
* ``{"tensor": {"dtype", "shape", "offset", "nbytes", "requires_grad"}}`` — a tinygen Tensor;
* ``{"array": {"dtype", "shape", "offset", "nbytes", "scalar"}}`` — a NumPy array
  (``scalar: true`` for a NumPy scalar such as ``np.float32(1.5)``).

``offset`` counts from the start of the data section; ``nbytes`` must equal the product of the
shape times the item size, buffers may not overlap, and the data section must end exactly at the
end of the file, so a truncated or padded file is refused. Only the dtypes in ``DTYPES`` exist.

Files are written atomically: into a temporary file in the same folder, flushed and fsynced, then
``os.replace``-d over the target, so a crash leaves either the old file or the new one, never half.
"""
from __future__ import annotations

import json
import math
import os
import struct
import sys
import tempfile

import numpy as np

__all__ = ["save", "load", "CheckpointError", "DTYPES", "FORMAT_VERSION", "MAX_HEADER_BYTES"]

SIGNATURE = b"TGCKPT"
FORMAT_VERSION = 1
_PREFIX = struct.Struct("<6sHQ")          # signature, version, header length
PREFIX_BYTES = _PREFIX.size               # 16
FORMAT_NAME = "tinygen-checkpoint"
MAX_HEADER_BYTES = 100 * 1024 * 1024      # 100 MiB of JSON is far beyond any real checkpoint
MAX_DEPTH = 100                           # nesting of dicts/lists/tuples
ALIGN = 64

#: The only dtypes a checkpoint may hold, by their NumPy names.
DTYPES = ("bool", "int8", "int16", "int32", "int64", "uint8", "uint16", "uint32", "uint64",
          "float16", "float32", "float64")
_DTYPE_SET = frozenset(DTYPES)
_WRITE_CHUNK = 64 * 1024 * 1024           # write/read big buffers in slices of this many bytes
_LITTLE = np.little_endian


class CheckpointError(ValueError):
    """A file is not a valid tinygen checkpoint (bad magic, truncated, corrupt header, ...)."""


# --------------------------------------------------------------------------------------------
# Helpers shared by save and load
# --------------------------------------------------------------------------------------------

def _tensor_class():
    """tinygen.tensor.Tensor, imported lazily (it imports much of tinygen), or None if absent."""
    try:
        from .tensor import Tensor
    except ModuleNotFoundError as exc:
        if exc.name in (__package__ + ".tensor", __package__):
            return None
        raise
    return Tensor


def _key_str(key) -> str:
    return f"[{key!r}]"


def _align(n: int) -> int:
    return -(-n // ALIGN) * ALIGN


def _dtype_name(dtype) -> str | None:
    """The whitelisted name of a NumPy dtype (any byte order), or None if it is not allowed."""
    dtype = np.dtype(dtype)
    if dtype.fields is not None or dtype.subdtype is not None:
        return None
    name = dtype.newbyteorder("=").name
    return name if name in _DTYPE_SET else None


# --------------------------------------------------------------------------------------------
# save
# --------------------------------------------------------------------------------------------

class _Encoder:
    """Walks an object, building the JSON header and the list of buffers to write."""

    def __init__(self):
        self.buffers = []        # (offset, nbytes, source array: numpy, cupy or a Tensor's data)
        self.offset = 0
        self.active = set()      # ids of the containers on the current path (cycle detection)
        # An object can only be a Tensor if tinygen.tensor was imported, so don't import it here.
        self.Tensor = getattr(sys.modules.get(__package__ + ".tensor"), "Tensor", None)

    def buffer(self, array, path):
        name = _dtype_name(array.dtype)
        if name is None:
            raise TypeError(
                f"{path} has dtype {array.dtype}, which a tinygen checkpoint cannot hold; "
                f"supported dtypes: {', '.join(DTYPES)} (convert it first, e.g. with .astype)")
        shape = [int(d) for d in array.shape]
        nbytes = int(np.dtype(name).itemsize) * math.prod(shape)
        offset = _align(self.offset)
        self.buffers.append((offset, nbytes, array))
        self.offset = offset + nbytes
        return {"dtype": name, "shape": shape, "offset": offset, "nbytes": nbytes}

    def encode(self, obj, path, depth):
        Tensor = self.Tensor
        if Tensor is not None and isinstance(obj, Tensor):
            meta = self.buffer(obj.data, path)
            meta["requires_grad"] = bool(obj.requires_grad)
            return {"tensor": meta}
        if isinstance(obj, np.ndarray):
            if isinstance(obj, np.ma.MaskedArray):
                raise TypeError(f"{path} is a NumPy masked array; its mask would be lost: "
                                "save .data and .mask as two arrays")
            meta = self.buffer(obj, path)
            meta["scalar"] = False
            return {"array": meta}
        if isinstance(obj, np.generic) and not isinstance(obj, (str, bytes)):
            meta = self.buffer(np.asarray(obj), path)
            meta["scalar"] = True
            return {"array": meta}
        if _is_device_array(obj):            # a bare CuPy array: stored, and loaded, as NumPy
            meta = self.buffer(obj, path)
            meta["scalar"] = False
            return {"array": meta}
        if obj is None or isinstance(obj, (bool, str)):
            return str(obj) if isinstance(obj, str) else obj
        if isinstance(obj, int):
            return int(obj)
        if isinstance(obj, float):
            obj = float(obj)
            return obj if math.isfinite(obj) else {"float": repr(obj)}
        if callable(getattr(obj, "state_dict", None)):
            raise TypeError(
                f"{path} is a {type(obj).__module__}.{type(obj).__qualname__}, an object with a "
                f"state_dict() method; tinygen.save stores data, not objects: save "
                f"{path}.state_dict() instead and restore it with load_state_dict()")
        if isinstance(obj, (dict, list, tuple)):
            return self.container(obj, path, depth)
        hint = ""
        if isinstance(obj, (bytes, bytearray)):
            hint = " (store bytes as np.frombuffer(b, dtype=np.uint8))"
        elif isinstance(obj, (set, frozenset)):
            hint = " (store a set as a sorted list)"
        elif isinstance(obj, complex):
            hint = " (store complex numbers as [real, imag])"
        raise TypeError(
            f"{path} is a {type(obj).__module__}.{type(obj).__qualname__}, which a tinygen checkpoint "
            f"cannot hold{hint}; supported: dict, list, tuple, Tensor, numpy array, int, float, "
            f"bool, None, str")

    def container(self, obj, path, depth):
        if depth >= MAX_DEPTH:
            raise ValueError(f"{path} is nested more than {MAX_DEPTH} levels deep; flatten the "
                             "structure before saving it")
        if id(obj) in self.active:
            raise ValueError(f"{path} contains itself (a circular reference); a checkpoint must "
                             "be a tree")
        self.active.add(id(obj))
        try:
            if isinstance(obj, dict):
                items = []
                for key, value in obj.items():
                    if isinstance(key, bool) or not isinstance(key, (str, int)):
                        raise TypeError(
                            f"{path} has a key {key!r} of type {type(key).__name__}; checkpoint "
                            "dict keys must be str or int")
                    key = str(key) if isinstance(key, str) else int(key)
                    items.append([key, self.encode(value, path + _key_str(key), depth + 1)])
                return {"dict": items}
            kind = "tuple" if isinstance(obj, tuple) else "list"
            return {kind: [self.encode(v, f"{path}[{i}]", depth + 1) for i, v in enumerate(obj)]}
        finally:
            self.active.discard(id(obj))


def _is_device_array(obj) -> bool:
    from . import backend
    return backend._cuda_module is not None and isinstance(obj, backend._cuda_module.ndarray)


def _host_little_endian(array):
    """A C-contiguous little-endian host copy (or view) of a NumPy or device array."""
    from .backend import to_numpy
    host = np.ascontiguousarray(to_numpy(array))
    if host.dtype.byteorder == ">" or (host.dtype.byteorder == "=" and not _LITTLE):
        host = host.astype(host.dtype.newbyteorder("<"))
    return host


def _file_mode(path: str) -> int:
    """Permissions for the new file: the old file's, else what open() would give (0666 & ~umask)."""
    try:
        return os.stat(path).st_mode & 0o7777
    except OSError:
        pass
    try:
        with open("/proc/self/status") as f:
            for line in f:
                if line.startswith("Umask:"):
                    return 0o666 & ~int(line.split()[1], 8)
    except (OSError, ValueError):
        pass
    mask = os.umask(0o022)
    os.umask(mask)
    return 0o666 & ~mask


def _fsync_directory(directory: str) -> None:
    """Make the rename durable; not possible on every platform (e.g. Windows), so best effort."""
    try:
        fd = os.open(directory, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def save(obj, path) -> None:
    """Write ``obj`` to ``path`` as a tinygen checkpoint, atomically.

    ``obj`` is a nested structure of dicts (str or int keys), lists and tuples whose leaves are
    tinygen Tensors, NumPy arrays or scalars, Python ints, floats, bools, None and strings.
    Tensors are stored through the host with their dtype, shape and ``requires_grad`` (not their
    gradient). Modules and optimizers are not saved implicitly: pass their ``state_dict()``.

    Raises TypeError naming the key path (e.g. ``obj['model']['layers'][2]``) of any value that
    cannot be stored. On any error the previous file at ``path``, if any, is left untouched.
    """
    if not isinstance(path, (str, os.PathLike)):
        raise TypeError(f"tinygen.save needs a file path (str or os.PathLike), got "
                        f"{type(path).__name__}")
    path = os.fspath(path)
    if isinstance(path, bytes):
        path = os.fsdecode(path)

    encoder = _Encoder()
    root = encoder.encode(obj, "obj", 0)        # every TypeError surfaces before any file exists
    header = {"format": FORMAT_NAME, "data_nbytes": encoder.offset, "root": root}
    text = json.dumps(header, ensure_ascii=True, allow_nan=False, separators=(",", ":"))
    header_bytes = text.encode("ascii")
    if len(header_bytes) > MAX_HEADER_BYTES:
        raise ValueError(
            f"the checkpoint header for {path!r} would be {len(header_bytes)} bytes, over the "
            f"{MAX_HEADER_BYTES}-byte limit: store long strings or long lists of numbers as arrays")
    header_bytes += b" " * (_align(PREFIX_BYTES + len(header_bytes)) - PREFIX_BYTES - len(header_bytes))

    directory = os.path.dirname(os.path.abspath(path))
    if not os.path.isdir(directory):
        raise FileNotFoundError(f"cannot save to {path!r}: the folder {directory!r} does not exist "
                                "(create it first, e.g. with os.makedirs)")
    if os.path.isdir(path):
        raise IsADirectoryError(f"cannot save to {path!r}: it is a folder; give a file name")
    mode = _file_mode(path)

    fd, tmp = tempfile.mkstemp(prefix="." + os.path.basename(path) + ".", suffix=".tmp",
                               dir=directory)
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(_PREFIX.pack(SIGNATURE, FORMAT_VERSION, len(header_bytes)))
            f.write(header_bytes)
            written = 0
            for offset, nbytes, source in encoder.buffers:
                if offset > written:
                    f.write(b"\0" * (offset - written))
                if nbytes:
                    raw = _host_little_endian(source).reshape(-1).view(np.uint8)
                    if raw.size != nbytes:   # an array changed shape while we were saving
                        raise RuntimeError(f"a buffer of {nbytes} bytes turned out to hold "
                                           f"{raw.size} bytes while saving {path!r}")
                    for start in range(0, nbytes, _WRITE_CHUNK):
                        f.write(memoryview(raw[start:start + _WRITE_CHUNK]))
                written = offset + nbytes
            f.flush()
            if hasattr(os, "fchmod"):            # mkstemp makes 0600 files; give the usual mode
                os.fchmod(f.fileno(), mode)
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        raise
    _fsync_directory(directory)


# --------------------------------------------------------------------------------------------
# load
# --------------------------------------------------------------------------------------------

class _Buffer:
    """A validated leaf that still has to be read from the data section."""
    __slots__ = ("kind", "dtype", "shape", "offset", "nbytes", "requires_grad", "scalar")

    def __init__(self, kind, dtype, shape, offset, nbytes, requires_grad=False, scalar=False):
        self.kind, self.dtype, self.shape = kind, dtype, shape
        self.offset, self.nbytes = offset, nbytes
        self.requires_grad, self.scalar = requires_grad, scalar


def _is_int(x) -> bool:
    return isinstance(x, int) and not isinstance(x, bool)


class _Decoder:
    """Checks a parsed header node by node, turning it into containers with _Buffer leaves."""

    _LEAF_KEYS = {
        "tensor": {"dtype", "shape", "offset", "nbytes", "requires_grad"},
        "array": {"dtype", "shape", "offset", "nbytes", "scalar"},
    }

    def __init__(self, filename, data_nbytes):
        self.filename = filename
        self.data_nbytes = data_nbytes
        self.buffers = []

    def fail(self, path, what):
        raise CheckpointError(f"{self.filename!r} is a corrupt tinygen checkpoint: header entry "
                              f"{path} {what}")

    def decode(self, node, path, depth):
        if node is None or isinstance(node, (bool, int, float, str)):
            return node
        if not isinstance(node, dict) or len(node) != 1:
            self.fail(path, f"is not a valid node (expected a value or a one-key object, got "
                            f"{type(node).__name__})")
        (kind, body), = node.items()
        if kind in ("dict", "list", "tuple"):
            if depth >= MAX_DEPTH:
                self.fail(path, f"is nested more than {MAX_DEPTH} levels deep")
            if not isinstance(body, list):
                self.fail(path, f"has a {kind!r} entry that is not a JSON list")
            if kind == "list":
                return [self.decode(v, f"{path}[{i}]", depth + 1) for i, v in enumerate(body)]
            if kind == "tuple":
                return tuple(self.decode(v, f"{path}[{i}]", depth + 1) for i, v in enumerate(body))
            out = {}
            for item in body:
                if not (isinstance(item, list) and len(item) == 2):
                    self.fail(path, "has a dict item that is not a [key, value] pair")
                key, value = item
                if not (isinstance(key, str) or _is_int(key)):
                    self.fail(path, f"has a dict key {key!r} that is not a string or an integer")
                if key in out:
                    self.fail(path, f"has the key {key!r} twice")
                out[key] = self.decode(value, path + _key_str(key), depth + 1)
            return out
        if kind == "float":
            if body not in ("nan", "inf", "-inf"):
                self.fail(path, f"has a float {body!r}; expected 'nan', 'inf' or '-inf'")
            return float(body)
        if kind in self._LEAF_KEYS:
            return self.leaf(kind, body, path)
        self.fail(path, f"has an unknown kind {kind!r}")

    def leaf(self, kind, meta, path):
        if not isinstance(meta, dict) or set(meta) != self._LEAF_KEYS[kind]:
            self.fail(path, f"is a {kind} whose description must have exactly the fields "
                            f"{sorted(self._LEAF_KEYS[kind])}")
        dtype = meta["dtype"]
        if not isinstance(dtype, str) or dtype not in _DTYPE_SET:
            self.fail(path, f"has dtype {dtype!r}, which tinygen refuses to load; allowed: "
                            f"{', '.join(DTYPES)}")
        shape = meta["shape"]
        if (not isinstance(shape, list) or len(shape) > 64
                or not all(_is_int(d) and 0 <= d < 2 ** 62 for d in shape)):
            self.fail(path, f"has an invalid shape {shape!r} (a list of at most 64 non-negative "
                            "integers)")
        offset, nbytes = meta["offset"], meta["nbytes"]
        if not (_is_int(offset) and _is_int(nbytes) and offset >= 0 and nbytes >= 0):
            self.fail(path, f"has an invalid offset/nbytes {offset!r}/{nbytes!r}")
        expected = np.dtype(dtype).itemsize * math.prod(shape)
        if nbytes != expected:
            self.fail(path, f"says nbytes={nbytes}, but dtype {dtype} with shape {tuple(shape)} "
                            f"needs {expected} bytes")
        if offset + nbytes > self.data_nbytes:
            self.fail(path, f"points at bytes {offset}..{offset + nbytes} of the data section, "
                            f"which holds only {self.data_nbytes} bytes")
        flag = meta["requires_grad" if kind == "tensor" else "scalar"]
        if not isinstance(flag, bool):
            self.fail(path, f"has a non-boolean flag {flag!r}")
        if kind == "array" and flag and shape:
            self.fail(path, f"is marked as a scalar but has shape {tuple(shape)}")
        buf = _Buffer(kind, dtype, tuple(shape), offset, nbytes,
                      requires_grad=flag if kind == "tensor" else False,
                      scalar=flag if kind == "array" else False)
        self.buffers.append((buf, path))
        return buf

    def check_overlaps(self):
        spans = sorted((b.offset, b.offset + b.nbytes, p) for b, p in self.buffers if b.nbytes)
        for (_, end, p1), (start, _, p2) in zip(spans, spans[1:]):
            if start < end:
                raise CheckpointError(f"{self.filename!r} is a corrupt tinygen checkpoint: the "
                                      f"buffers of {p1} and {p2} overlap")


def _reject_constant(name):
    raise ValueError(f"the JSON literal {name} is not allowed in a tinygen checkpoint header")


def _unique_object(pairs):
    obj = {}
    for key, value in pairs:
        if key in obj:
            raise ValueError(f"duplicate key {key!r} in a JSON object")
        obj[key] = value
    return obj


def _sniff(head: bytes) -> str:
    """A hint about what a file that is not a checkpoint might be."""
    if len(head) >= 2 and head[0] == 0x80 and 2 <= head[1] <= 5:
        return ("; it looks like a pickle file (pickle.dump, or a torch.save / joblib file): "
                "tinygen never loads pickles, since loading one can run arbitrary code")
    if head.startswith(b"PK\x03\x04"):
        return ("; it is a zip archive (a torch.save checkpoint or a NumPy .npz?): tinygen never "
                "loads pickles, since loading one can run arbitrary code")
    if head.startswith(b"\x93NUMPY"):
        return ("; it is a NumPy .npy file: read it with numpy.load(path) (tinygen never "
                "loads pickled object arrays)")
    return "; a pickle file? tinygen never loads pickles, only files written by tinygen.save"


def _read_header(f, filename, size):
    """Check the fixed prefix and return (parsed header dict, data section start)."""
    if size == 0:
        raise CheckpointError(f"{filename!r} is empty (0 bytes), not a tinygen checkpoint; was "
                              "the save interrupted or the file created by something else?")
    head = f.read(PREFIX_BYTES)
    n = min(len(head), len(SIGNATURE))
    if head[:n] != SIGNATURE[:n]:
        raise CheckpointError(f"{filename!r} is not a tinygen checkpoint (bad magic "
                              f"{head[:8]!r}, expected {SIGNATURE!r}){_sniff(head)}")
    if len(head) < PREFIX_BYTES:
        raise CheckpointError(f"{filename!r} is truncated: {size} bytes, shorter than the "
                              f"{PREFIX_BYTES}-byte tinygen checkpoint prefix")
    _, version, header_len = _PREFIX.unpack(head)
    if version != FORMAT_VERSION:
        newer = " written by a newer tinygen; upgrade tinygen" if version > FORMAT_VERSION else ""
        raise CheckpointError(f"{filename!r} has checkpoint format version {version}, but this "
                              f"tinygen reads only version {FORMAT_VERSION}{newer}")
    if header_len > MAX_HEADER_BYTES:
        raise CheckpointError(f"{filename!r} declares a {header_len}-byte header, over the "
                              f"{MAX_HEADER_BYTES}-byte limit: the file is corrupt or not a "
                              "tinygen checkpoint")
    if PREFIX_BYTES + header_len > size:
        raise CheckpointError(f"{filename!r} is truncated or corrupt: it declares a "
                              f"{header_len}-byte header but the whole file is {size} bytes")
    raw = f.read(header_len)
    if len(raw) != header_len:
        raise CheckpointError(f"{filename!r} is truncated: the header ends early")
    try:
        header = json.loads(raw.decode("utf-8"), parse_constant=_reject_constant,
                            object_pairs_hook=_unique_object)
    except (UnicodeDecodeError, ValueError, RecursionError) as exc:
        raise CheckpointError(f"{filename!r} is a corrupt tinygen checkpoint: its header is not "
                              f"valid JSON ({type(exc).__name__}: {exc})") from None
    if (not isinstance(header, dict) or set(header) != {"format", "data_nbytes", "root"}
            or header["format"] != FORMAT_NAME or not _is_int(header["data_nbytes"])
            or header["data_nbytes"] < 0):
        raise CheckpointError(f"{filename!r} is a corrupt tinygen checkpoint: the header must be "
                              f"an object with format={FORMAT_NAME!r}, data_nbytes and root")
    data_start = PREFIX_BYTES + header_len
    if data_start + header["data_nbytes"] != size:
        raise CheckpointError(
            f"{filename!r} is truncated or corrupt: the header describes "
            f"{header['data_nbytes']} bytes of data after byte {data_start}, but the file is "
            f"{size} bytes ({size - data_start} bytes of data)")
    return header, data_start


def _read_array(f, filename, buf: _Buffer, data_start: int):
    dtype = np.dtype(buf.dtype).newbyteorder("<")
    array = np.empty(buf.shape, dtype=dtype)
    if buf.nbytes:
        raw = array.reshape(-1).view(np.uint8)
        f.seek(data_start + buf.offset)
        done = 0
        while done < buf.nbytes:
            n = f.readinto(memoryview(raw[done:done + _WRITE_CHUNK]))
            if not n:
                raise CheckpointError(f"{filename!r} ended early while reading data (was it "
                                      "changed while loading?)")
            done += n
    if not _LITTLE:
        array = array.astype(dtype.newbyteorder("="))
    return array


def _materialize(node, make):
    if isinstance(node, _Buffer):
        return make(node)
    if isinstance(node, dict):
        return {k: _materialize(v, make) for k, v in node.items()}
    if isinstance(node, list):
        return [_materialize(v, make) for v in node]
    if isinstance(node, tuple):
        return tuple(_materialize(v, make) for v in node)
    return node


def load(path, device=None, *, map_location=None):
    """Read a checkpoint written by :func:`save`; never runs code from the file.

    Tensors come back as ``tinygen.tensor.Tensor`` on ``device`` (``"cpu"`` when None; any
    spelling accepted by ``tinygen.backend.normalize_device``) with their dtype, shape and
    ``requires_grad``; NumPy arrays come back as NumPy arrays. ``map_location`` is an alias of
    ``device`` for PyTorch users.

    Raises CheckpointError (a ValueError) naming the file and the problem when the file is not
    a valid checkpoint: empty, truncated, garbage, a pickle, an oversized header, buffers outside
    the file, an unknown dtype, ...
    """
    if map_location is not None:
        if device is not None and str(device) != str(map_location):
            raise ValueError(f"tinygen.load got device={device!r} and map_location="
                             f"{map_location!r}; they are aliases, give only one")
        device = map_location
    if device is not None and not isinstance(device, str):
        raise TypeError(f"tinygen.load: device must be a string such as 'cpu' or 'cuda', got "
                        f"{type(device).__name__} (mapping functions/dicts are not supported)")
    from .backend import normalize_device
    device = "cpu" if device is None else normalize_device(device)
    if not isinstance(path, (str, os.PathLike)):
        raise TypeError(f"tinygen.load needs a file path (str or os.PathLike), got "
                        f"{type(path).__name__}")
    filename = os.fsdecode(os.fspath(path))

    with open(filename, "rb") as f:
        size = os.fstat(f.fileno()).st_size
        header, data_start = _read_header(f, filename, size)
        decoder = _Decoder(filename, header["data_nbytes"])
        try:
            tree = decoder.decode(header["root"], "obj", 0)
        except RecursionError:
            raise CheckpointError(f"{filename!r} is a corrupt tinygen checkpoint: its structure "
                                  "is nested too deeply") from None
        decoder.check_overlaps()
        Tensor = None
        if any(b.kind == "tensor" for b, _ in decoder.buffers):
            Tensor = _tensor_class()
            if Tensor is None:
                raise ImportError(f"{filename!r} holds tensors, but tinygen.tensor is not "
                                  "available in this installation")

        def make(buf):
            array = _read_array(f, filename, buf, data_start)
            if buf.kind == "tensor":
                return Tensor(array, requires_grad=buf.requires_grad, device=device)
            return array[()] if buf.scalar else array

        return _materialize(tree, make)
