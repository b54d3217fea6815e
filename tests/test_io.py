"""tinygen.io: safe checkpoints. Round trips, type errors that name the key path, refusal of
every kind of bad file with a ValueError naming the file, and atomic writes."""
from __future__ import annotations

import json
import math
import os
import pickle
import stat
import struct

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings, strategies as st
from hypothesis.extra import numpy as hnp

from tinygen import io as tio
from tinygen.io import CheckpointError, load, save


# --------------------------------------------------------------------------------------------
# helpers
# --------------------------------------------------------------------------------------------

def assert_same(saved, loaded, path="obj"):
    """Exact equality, types included: arrays bit for bit in native byte order, floats by bits."""
    if isinstance(saved, np.ndarray):
        assert type(loaded) is np.ndarray, path
        native = saved.dtype.newbyteorder("=")
        assert loaded.dtype == native, (path, loaded.dtype, native)
        assert loaded.shape == saved.shape, path
        assert loaded.flags.c_contiguous and loaded.flags.writeable, path
        assert np.ascontiguousarray(saved.astype(native)).tobytes() == loaded.tobytes(), path
    elif isinstance(saved, np.generic):
        assert type(loaded) is type(saved), (path, type(loaded), type(saved))
        assert np.asarray(saved).astype(saved.dtype.newbyteorder("=")).tobytes() == \
            np.asarray(loaded).tobytes(), path
    elif isinstance(saved, float):
        assert type(loaded) is float, path
        assert struct.pack("<d", saved) == struct.pack("<d", loaded) or (
            math.isnan(saved) and math.isnan(loaded)), (path, saved, loaded)
    elif isinstance(saved, dict):
        assert type(loaded) is dict, path
        assert list(saved) == list(loaded), path            # same keys, same order
        for k in saved:
            assert type(k) is type(next(x for x in loaded if x == k and type(x) is type(k)))
            assert_same(saved[k], loaded[k], f"{path}[{k!r}]")
    elif isinstance(saved, (list, tuple)):
        assert type(loaded) is type(saved), path
        assert len(loaded) == len(saved), path
        for i, (a, b) in enumerate(zip(saved, loaded)):
            assert_same(a, b, f"{path}[{i}]")
    else:
        assert type(loaded) is type(saved) and loaded == saved, (path, saved, loaded)


def roundtrip(obj, path):
    save(obj, path)
    return load(path)


def write_raw(path, header, data=b"", version=tio.FORMAT_VERSION, header_len=None):
    """Write a file in the checkpoint layout with a hand-made header (for fault tests)."""
    text = header if isinstance(header, bytes) else json.dumps(header).encode()
    n = len(text) if header_len is None else header_len
    with open(path, "wb") as f:
        f.write(tio.SIGNATURE + struct.pack("<HQ", version, n) + text + data)


def leaf_header(kind="array", dtype="float32", shape=(2,), offset=0, nbytes=8, data_nbytes=8,
                **extra):
    meta = {"dtype": dtype, "shape": list(shape), "offset": offset, "nbytes": nbytes}
    meta.update({"requires_grad": False} if kind == "tensor" else {"scalar": False})
    meta.update(extra)
    return {"format": "tinygen-checkpoint", "data_nbytes": data_nbytes,
            "root": {"dict": [["w", {kind: meta}]]}}


def refused(path, *words):
    """load(path) raises a ValueError naming the file and each of ``words``."""
    with pytest.raises(ValueError) as info:
        load(path)
    msg = str(info.value)
    assert os.fspath(path) in msg, msg
    for w in words:
        assert w in msg, (w, msg)
    return msg


SAMPLE = {
    "model": {"layers.0.weight": np.arange(12, dtype=np.float32).reshape(3, 4),
              "layers.0.bias": np.zeros(3, np.float32)},
    "optimizer": {"state": {0: {"step": 7, "exp_avg": np.ones((3, 4))}},
                  "param_groups": [{"lr": 1e-3, "betas": (0.9, 0.999), "params": [0, 1]}]},
    "rng": np.array([1, 2, 3], dtype=np.uint64),
    "epoch": 3, "best": float("inf"), "done": False, "note": None, "name": "vae",
}


# --------------------------------------------------------------------------------------------
# round trips
# --------------------------------------------------------------------------------------------

def test_roundtrip_checkpoint_like_structure(tmp_path):
    assert_same(SAMPLE, roundtrip(SAMPLE, tmp_path / "ckpt"))


def test_roundtrip_keeps_key_types_order_and_tuples(tmp_path):
    obj = {"b": 1, "a": 2, 1: "int key", "1": "str key", 0: (1, [2, (3,)]), "empty": {},
           "el": [], "et": ()}
    out = roundtrip(obj, tmp_path / "c")
    assert_same(obj, out)
    assert list(out) == ["b", "a", 1, "1", 0, "empty", "el", "et"]
    assert out[1] == "int key" and out["1"] == "str key"


def test_roundtrip_special_numbers_and_strings(tmp_path):
    obj = [float("nan"), float("inf"), float("-inf"), -0.0, 5e-324, 1.7976931348623157e308,
           0.1, 2 ** 100, -(2 ** 70), True, None, "", "héllo ✓ 漢字", "lone \udc80 surrogate",
           'quotes " and \\ and \n']
    assert_same(obj, roundtrip(obj, tmp_path / "c"))


def test_numpy_scalars_come_back_as_numpy_scalars(tmp_path):
    obj = [np.float32(1.5), np.float64(-0.0), np.int64(-3), np.uint8(255), np.bool_(True),
           np.float16(np.nan)]
    assert_same(obj, roundtrip(obj, tmp_path / "c"))


@pytest.mark.parametrize("dtype", tio.DTYPES)
def test_every_whitelisted_dtype_roundtrips(tmp_path, dtype):
    a = (np.arange(24) % 7).astype(dtype).reshape(2, 3, 4)
    out = roundtrip({"a": a, "zero_d": a[1, 2, 3].reshape(()), "empty": a[:0]}, tmp_path / "c")
    assert_same(a, out["a"])
    assert out["zero_d"].shape == () and out["empty"].shape == (0, 3, 4)


def test_noncontiguous_and_big_endian_inputs_are_normalized(tmp_path):
    base = np.arange(60, dtype=np.float64).reshape(6, 10)
    obj = {"strided": base[::2, ::3], "transposed": base.T, "neg": base[::-1],
           "big": np.arange(5, dtype=">i4"), "big_f16": np.linspace(0, 1, 5).astype(">f2"),
           "big_0d": np.array(2.5, dtype=">f8")}
    out = roundtrip(obj, tmp_path / "c")
    assert_same(obj, out)
    assert out["big"].dtype == np.dtype("int32") and out["big"].dtype.isnative
    np.testing.assert_array_equal(out["big"], [0, 1, 2, 3, 4])


def test_file_layout_is_documented_format(tmp_path):
    p = tmp_path / "c"
    save({"x": np.array([1.0, 2.0], np.float32)}, p)
    raw = p.read_bytes()
    sig, version, hlen = struct.unpack("<6sHQ", raw[:16])
    assert sig == b"TGCKPT" and version == tio.FORMAT_VERSION
    assert (16 + hlen) % tio.ALIGN == 0                     # data section is aligned
    header = json.loads(raw[16:16 + hlen])
    meta = header["root"]["dict"][0][1]["array"]
    assert meta == {"dtype": "float32", "shape": [2], "offset": 0, "nbytes": 8, "scalar": False}
    assert raw[16 + hlen:] == struct.pack("<2f", 1.0, 2.0)  # raw little-endian buffer, no pickle


def test_loaded_arrays_are_independent_writable_copies(tmp_path):
    p = tmp_path / "c"
    save({"a": np.zeros(3), "b": np.zeros(3)}, p)
    out = load(p)
    out["a"][0] = 1.0
    assert out["b"][0] == 0.0 and load(p)["a"][0] == 0.0


_dtypes = st.sampled_from(tio.DTYPES).flatmap(
    lambda name: st.sampled_from(["<", ">", "="]).map(lambda order: np.dtype(name).newbyteorder(order)))
_arrays = _dtypes.flatmap(lambda dt: hnp.arrays(
    dt, hnp.array_shapes(min_dims=0, max_dims=3, min_side=0, max_side=4)))


def _views(a):
    """The array itself, or a non-contiguous view of it."""
    return st.sampled_from([a, a.T, a[::2] if a.ndim else a, a[..., ::-1] if a.ndim else a])


_leaves = (st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=8)
           | _arrays.flatmap(_views) | _arrays.map(lambda a: a.reshape(-1)[:1].reshape(())[()]
                                                      if a.size else np.float32(0)))
_trees = st.recursive(
    _leaves,
    lambda children: (st.lists(children, max_size=4)
                      | st.lists(children, max_size=4).map(tuple)
                      | st.dictionaries(st.text(max_size=6) | st.integers(), children, max_size=4)),
    max_leaves=12)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(obj=_trees)
def test_random_nested_structures_roundtrip(tmp_path_factory, obj):
    p = tmp_path_factory.mktemp("rt") / "c"
    assert_same(obj, roundtrip(obj, p))


@pytest.mark.slow
@settings(max_examples=1500, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(obj=_trees)
def test_random_nested_structures_roundtrip_many(tmp_path_factory, obj):
    p = tmp_path_factory.mktemp("rt") / "c"
    assert_same(obj, roundtrip(obj, p))


# --------------------------------------------------------------------------------------------
# what save refuses
# --------------------------------------------------------------------------------------------

class _Model:
    def state_dict(self):
        return {}


@pytest.mark.parametrize("obj, where, words", [
    ({"model": {"layers": [1, 2, {1, 2}]}}, "obj['model']['layers'][2]", ["set", "sorted list"]),
    ({"model": _Model()}, "obj['model']", ["state_dict()", "obj['model'].state_dict()"]),
    ([object()], "obj[0]", ["object"]),
    ({"z": 1 + 2j}, "obj['z']", ["complex"]),
    ({"b": b"raw"}, "obj['b']", ["bytes", "np.frombuffer"]),
    ({"o": np.array([1, "a"], dtype=object)}, "obj['o']", ["dtype object", "float32"]),
    ({"c": np.zeros(2, np.complex64)}, "obj['c']", ["complex64"]),
    ({"s": np.array(["abc"])}, "obj['s']", ["<U3"]),
    ({"r": np.zeros(2, dtype=[("a", "f4")])}, "obj['r']", ["cannot hold"]),
    ({"t": np.datetime64("2020-01-01")}, "obj['t']", ["datetime64"]),
    ({"m": np.ma.array([1, 2], mask=[0, 1])}, "obj['m']", ["mask"]),
    ({5: {(1, 2): 3}}, "obj[5]", ["key (1, 2)", "str or int"]),
    ({True: 1}, "obj", ["key True"]),
    (_Model(), "obj", ["state_dict()"]),
])
def test_save_refuses_unsupported_values_naming_the_key_path(tmp_path, obj, where, words):
    with pytest.raises(TypeError) as info:
        save(obj, tmp_path / "c")
    msg = str(info.value)
    assert where in msg, msg
    for w in words:
        assert w in msg, (w, msg)
    assert os.listdir(tmp_path) == []                       # nothing written, no temp file


def test_save_refuses_cycles_and_absurd_depth(tmp_path):
    loop = [1]
    loop.append(loop)
    with pytest.raises(ValueError, match=r"obj\[1\] contains itself"):
        save(loop, tmp_path / "c")
    deep = 0
    for _ in range(tio.MAX_DEPTH + 1):
        deep = [deep]
    with pytest.raises(ValueError, match="nested more than"):
        save(deep, tmp_path / "c")
    shared = [1, 2]                                         # shared, not circular: fine
    assert roundtrip({"a": shared, "b": shared}, tmp_path / "c") == {"a": [1, 2], "b": [1, 2]}


def test_save_needs_an_existing_folder_and_a_path(tmp_path):
    with pytest.raises(FileNotFoundError, match="does not exist"):
        save({}, tmp_path / "missing" / "c")
    with pytest.raises(IsADirectoryError):
        save({}, tmp_path)
    with pytest.raises(TypeError, match="file path"):
        save({}, 3)


def test_save_refuses_a_header_over_the_limit(tmp_path, monkeypatch):
    monkeypatch.setattr(tio, "MAX_HEADER_BYTES", 1000)
    with pytest.raises(ValueError, match="limit"):
        save({"s": "x" * 2000}, tmp_path / "c")
    assert os.listdir(tmp_path) == []


# --------------------------------------------------------------------------------------------
# what load refuses: every bad file is a ValueError naming the file and the problem
# --------------------------------------------------------------------------------------------

@pytest.fixture
def small_file(tmp_path):
    p = tmp_path / "small.tg"
    save({"w": np.arange(6, dtype=np.float32), "b": [np.int64(2), 1.5, "x"], 7: np.zeros(0)}, p)
    return p


def test_every_truncation_point_is_refused(small_file, tmp_path):
    raw = small_file.read_bytes()
    cut = tmp_path / "cut.tg"
    for n in range(len(raw)):
        cut.write_bytes(raw[:n])
        with pytest.raises(ValueError) as info:
            load(cut)
        assert str(cut) in str(info.value), (n, info.value)
        assert isinstance(info.value, CheckpointError)


def test_trailing_bytes_are_refused(small_file):
    with open(small_file, "ab") as f:
        f.write(b"\0")
    refused(small_file, "truncated or corrupt")


def test_empty_file(tmp_path):
    p = tmp_path / "empty.tg"
    p.write_bytes(b"")
    refused(p, "empty")


def test_random_garbage(tmp_path):
    rng = np.random.default_rng(0)
    p = tmp_path / "garbage.bin"
    for n in [1, 5, 15, 16, 17, 100, 5000]:
        p.write_bytes(rng.integers(0, 256, n, dtype=np.uint8).tobytes())
        refused(p, "not a tinygen checkpoint")


@settings(max_examples=80, deadline=None)
@given(tail=st.binary(max_size=200))
def test_garbage_after_a_valid_signature(tmp_path_factory, tail):
    p = tmp_path_factory.mktemp("g") / "g.tg"
    p.write_bytes(tio.SIGNATURE + tail)
    with pytest.raises(CheckpointError, match="g.tg"):
        load(p)


@settings(max_examples=150, deadline=None)
@given(data=st.data())
def test_corrupted_bytes_never_crash_differently(tmp_path_factory, data):
    """Any single corrupted byte either still loads or gives a CheckpointError, never another
    exception (IndexError, MemoryError, KeyError, ...)."""
    d = tmp_path_factory.mktemp("flip")
    p = d / "f.tg"
    save({"w": np.arange(6, dtype=np.float32), "b": [np.int64(2), 1.5, "x"], 7: np.zeros(0),
          "t": (True, None)}, p)
    raw = bytearray(p.read_bytes())
    i = data.draw(st.integers(0, len(raw) - 1))
    raw[i] = data.draw(st.integers(0, 255))
    p.write_bytes(bytes(raw))
    try:
        load(p)
    except CheckpointError as exc:
        assert str(p) in str(exc)


def test_newer_format_version(small_file):
    raw = bytearray(small_file.read_bytes())
    raw[6:8] = struct.pack("<H", tio.FORMAT_VERSION + 1)
    small_file.write_bytes(bytes(raw))
    refused(small_file, "version 2", "upgrade tinygen")


def test_header_length_larger_than_file(tmp_path):
    p = tmp_path / "h.tg"
    write_raw(p, leaf_header(), b"\0" * 8, header_len=10_000)
    refused(p, "header", "10000")


def test_oversized_header_is_refused_before_reading_it(tmp_path):
    p = tmp_path / "big.tg"
    write_raw(p, b"{}", header_len=tio.MAX_HEADER_BYTES + 1)
    refused(p, "limit")


def test_header_over_a_lowered_limit(tmp_path, monkeypatch):
    p = tmp_path / "c"
    save({"s": "x" * 500}, p)
    monkeypatch.setattr(tio, "MAX_HEADER_BYTES", 100)
    refused(p, "limit")


@pytest.mark.parametrize("header, data, words", [
    (leaf_header(offset=8, data_nbytes=8), b"\0" * 8, ["bytes 8..16", "holds only 8"]),
    (leaf_header(offset=0, nbytes=8, data_nbytes=100), b"\0" * 8, ["100 bytes of data"]),
    (leaf_header(nbytes=4, data_nbytes=8), b"\0" * 8, ["nbytes=4", "needs 8"]),
    (leaf_header(shape=(3,), data_nbytes=8), b"\0" * 8, ["needs 12"]),
    (leaf_header(dtype="object"), b"\0" * 8, ["'object'", "refuses"]),
    (leaf_header(dtype="complex64"), b"\0" * 8, ["'complex64'"]),
    (leaf_header(dtype="<f4"), b"\0" * 8, ["'<f4'"]),
    (leaf_header(shape=(-1, -2), nbytes=8), b"\0" * 8, ["invalid shape"]),
    (leaf_header(shape=(2.0,)), b"\0" * 8, ["invalid shape"]),
    (leaf_header(offset=-8), b"\0" * 8, ["invalid offset"]),
    (leaf_header(kind="tensor", requires_grad="yes"), b"\0" * 8, ["non-boolean"]),
    (leaf_header(pickle="cos\nsystem"), b"\0" * 8, ["exactly the fields"]),
    ({"format": "tinygen-checkpoint", "data_nbytes": 0, "root": {"pickle": "x"}}, b"",
     ["unknown kind 'pickle'"]),
    ({"format": "tinygen-checkpoint", "data_nbytes": 0, "root": [1, 2]}, b"", ["not a valid node"]),
    ({"format": "tinygen-checkpoint", "data_nbytes": 0, "root": {"dict": [["a", 1], ["a", 2]]}},
     b"", ["key 'a' twice"]),
    ({"format": "tinygen-checkpoint", "data_nbytes": 0, "root": {"dict": [[1.5, 1]]}},
     b"", ["not a string or an integer"]),
    ({"format": "tinygen-checkpoint", "data_nbytes": 0, "root": {"float": "1e5"}}, b"",
     ["'nan', 'inf'"]),
    ({"format": "other", "data_nbytes": 0, "root": None}, b"", ["format="]),
    ({"data_nbytes": 0, "root": None}, b"", ["format="]),
    (b'{"format": "tinygen-checkpoint", "data_nbytes": 0, "root": NaN}', b"", ["not valid JSON"]),
    (b'{"format": "tinygen-checkpoint", "format": "x", "data_nbytes": 0, "root": 1}', b"",
     ["duplicate key"]),
    (b"\xff\xfe{}", b"", ["not valid JSON"]),
    (b"[" * 100_000 + b"]" * 100_000, b"", ["header"]),
])
def test_corrupt_headers_are_refused(tmp_path, header, data, words):
    p = tmp_path / "bad.tg"
    write_raw(p, header, data)
    refused(p, *words)


def test_overlapping_buffers_are_refused(tmp_path):
    meta = {"dtype": "float32", "shape": [2], "nbytes": 8, "scalar": False}
    header = {"format": "tinygen-checkpoint", "data_nbytes": 12, "root": {"list": [
        {"array": dict(meta, offset=0)}, {"array": dict(meta, offset=4)}]}}
    p = tmp_path / "overlap.tg"
    write_raw(p, header, b"\0" * 12)
    refused(p, "overlap", "obj[0]", "obj[1]")


def test_deeply_nested_header_is_refused(tmp_path):
    node = 1
    for _ in range(tio.MAX_DEPTH + 5):
        node = {"list": [node]}
    p = tmp_path / "deep.tg"
    write_raw(p, {"format": "tinygen-checkpoint", "data_nbytes": 0, "root": node})
    refused(p, "nested")


def test_a_valid_hand_written_file_loads(tmp_path):
    """The fault tests above are refused for their fault, not because write_raw is wrong."""
    p = tmp_path / "ok.tg"
    write_raw(p, leaf_header(), struct.pack("<2f", 1.0, 2.0))
    np.testing.assert_array_equal(load(p)["w"], [1.0, 2.0])


class _Exploit:
    """Unpickling this would create a marker file: the classic pickle code-execution attack."""

    def __init__(self, marker):
        self.marker = marker

    def __reduce__(self):
        return (open, (self.marker, "w"))


def test_pickle_files_are_refused_without_running_code(tmp_path):
    p = tmp_path / "model.pkl"
    with open(p, "wb") as f:
        pickle.dump({"w": np.ones(3)}, f)
    refused(p, "pickle")
    marker = tmp_path / "pwned"
    with open(p, "wb") as f:
        pickle.dump({"x": _Exploit(str(marker))}, f)
    refused(p, "pickle", "arbitrary code")
    assert not marker.exists()
    p.write_bytes(pickle.dumps({"a": 1}, protocol=0))      # text protocol: no 0x80 opcode
    refused(p, "not a tinygen checkpoint", "pickle")


def test_numpy_object_array_files_are_refused(tmp_path):
    p = tmp_path / "obj.npy"
    np.save(p, np.array([{"a": 1}, None], dtype=object), allow_pickle=True)
    refused(p, ".npy")
    z = tmp_path / "arrs.npz"
    np.savez(z, a=np.array([None], dtype=object))
    refused(z, "zip")


def test_load_errors_for_paths_and_devices(tmp_path, small_file):
    with pytest.raises(FileNotFoundError):
        load(tmp_path / "nope")
    with pytest.raises(TypeError, match="file path"):
        load(None)
    with pytest.raises(ValueError, match="unknown device"):
        load(small_file, device="tpu")
    with pytest.raises(ValueError, match="aliases"):
        load(small_file, device="cpu", map_location="cuda")
    with pytest.raises(TypeError, match="string"):
        load(small_file, map_location={"cuda:0": "cpu"})
    assert_same(load(small_file), load(small_file, map_location="cpu"))
    assert_same(load(small_file), load(str(small_file), device="cpu"))


# --------------------------------------------------------------------------------------------
# atomic writes
# --------------------------------------------------------------------------------------------

OLD = {"epoch": 1, "w": np.arange(4.0)}
NEW = {"epoch": 2, "w": np.arange(4.0) * 10, "extra": np.ones((50, 50))}


def _boom(*args, **kwargs):
    raise OSError("simulated crash")


@pytest.mark.parametrize("where", ["replace", "fsync", "write_buffer", "interrupt"])
def test_crash_during_save_keeps_previous_file_and_leaves_no_temp(tmp_path, monkeypatch, where):
    p = tmp_path / "ckpt"
    save(OLD, p)
    before = p.read_bytes()
    if where == "replace":
        monkeypatch.setattr(os, "replace", _boom)
    elif where == "fsync":
        monkeypatch.setattr(os, "fsync", _boom)
    elif where == "write_buffer":                           # dies after writing part of the data
        real = tio._host_little_endian
        calls = []

        def flaky(a):
            calls.append(a)
            if len(calls) == 2:
                raise OSError("disk full")
            return real(a)
        monkeypatch.setattr(tio, "_host_little_endian", flaky)
    else:
        def interrupt(*args):
            raise KeyboardInterrupt
        monkeypatch.setattr(os, "replace", interrupt)
    with pytest.raises((OSError, KeyboardInterrupt)):
        save(NEW, p)
    monkeypatch.undo()
    assert os.listdir(tmp_path) == ["ckpt"]                 # no temporary file left behind
    assert p.read_bytes() == before
    assert_same(OLD, load(p))


def test_crash_on_first_save_leaves_nothing(tmp_path, monkeypatch):
    monkeypatch.setattr(os, "replace", _boom)
    with pytest.raises(OSError):
        save(NEW, tmp_path / "ckpt")
    assert os.listdir(tmp_path) == []


def test_overwrite_replaces_and_keeps_permissions(tmp_path):
    p = tmp_path / "ckpt"
    save(OLD, p)
    mask = os.umask(0o022)
    os.umask(mask)
    assert stat.S_IMODE(os.stat(p).st_mode) == 0o666 & ~mask   # not mkstemp's 0600
    os.chmod(p, 0o640)
    save(NEW, p)
    assert stat.S_IMODE(os.stat(p).st_mode) == 0o640
    assert_same(NEW, load(p))
    assert os.listdir(tmp_path) == ["ckpt"]


# --------------------------------------------------------------------------------------------
# tensors
# --------------------------------------------------------------------------------------------

def test_tensors_keep_dtype_shape_and_requires_grad(tmp_path):
    from tinygen.tensor import Tensor
    w = Tensor(np.arange(6, dtype=np.float64).reshape(2, 3), requires_grad=True)
    b = Tensor(np.zeros(3, np.float32))
    idx = Tensor(np.array([3, 1], dtype=np.int64))
    s = Tensor(np.array(2.5, dtype=np.float32), requires_grad=True)
    obj = {"model": {"weight": w, "bias": b}, "idx": [idx], "scalar": (s,),
           "arr": np.ones(2, np.float16)}
    p = tmp_path / "c"
    save(obj, p)
    for out in (load(p), load(p, device="cpu"), load(p, map_location="cpu")):
        pairs = [(w, out["model"]["weight"]), (b, out["model"]["bias"]), (idx, out["idx"][0]),
                 (s, out["scalar"][0])]
        for saved, got in pairs:
            assert isinstance(got, Tensor)
            assert got.device == "cpu"
            assert got.dtype == saved.dtype and got.shape == saved.shape
            assert got.requires_grad == saved.requires_grad
            np.testing.assert_array_equal(got.numpy(), saved.numpy())
        assert type(out["arr"]) is np.ndarray and out["arr"].dtype == np.float16
        assert isinstance(out["scalar"], tuple)


def test_loaded_tensor_is_independent_of_the_saved_one(tmp_path):
    from tinygen.tensor import Tensor
    t = Tensor(np.zeros(3, np.float32), requires_grad=True)
    p = tmp_path / "c"
    save({"t": t}, p)
    got = load(p)["t"]
    got.data[0] = 5.0
    assert t.numpy()[0] == 0.0
    assert got.grad is None and got.is_leaf


def test_tensor_in_unsupported_container_names_path(tmp_path):
    from tinygen.tensor import Tensor
    with pytest.raises(TypeError, match=r"obj\['params'\]"):
        save({"params": {Tensor(np.zeros(1))}}, tmp_path / "c")


def test_device_tensors_are_saved_through_the_host(tmp_path):
    from tinygen import backend
    from tinygen.tensor import Tensor
    if not backend.cuda_available():
        pytest.skip(f"no cuda device: {backend.cuda_unavailable_reason()}")
    t = Tensor(np.arange(4, dtype=np.float32), requires_grad=True, device="cuda")
    p = tmp_path / "c"
    save({"t": t}, p)
    on_cpu, on_gpu = load(p)["t"], load(p, device="cuda")["t"]
    assert on_cpu.device == "cpu" and on_gpu.device == "cuda"
    assert on_gpu.requires_grad and on_gpu.dtype == np.float32
    np.testing.assert_array_equal(on_gpu.numpy(), [0, 1, 2, 3])
