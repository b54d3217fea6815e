"""The CuPy stand-in behind TINYGEN_FAKE_CUDA=1: device semantics on top of NumPy."""
import copy
import math
import operator
import pickle
import warnings

import numpy as np
import pytest
from hypothesis import given, settings, strategies as st
from hypothesis.extra import numpy as hnp

from tinygen.testing import fake_cuda as xp

CUPY_MSG = ("Implicit conversion to a NumPy array is not allowed. "
            "Please use `.get()` to construct a NumPy array explicitly.")


def dev(a, dtype=None):
    return xp.asarray(np.asarray(a, dtype=dtype))


def assert_dev_equal(d, expected, **kw):
    assert type(d) is xp.ndarray
    got = d.get()
    assert got.dtype == np.asarray(expected).dtype
    np.testing.assert_allclose(got, expected, **kw)


@pytest.fixture
def host():
    return np.arange(12, dtype=np.float64).reshape(3, 4) - 5.0


@pytest.fixture
def d(host):
    return xp.asarray(host)


# --------------------------------------------------------------------------- implicit conversion

@pytest.mark.parametrize("convert", [np.asarray, np.array, lambda a: np.array([a, a]),
                                     lambda a: np.asarray(a, dtype=np.float32),
                                     lambda a: np.testing.assert_allclose(a, 0)])
def test_implicit_host_conversion_raises_cupy_message(d, convert):
    with pytest.raises(TypeError) as exc:
        convert(d)
    assert str(exc.value) == CUPY_MSG


def test_not_a_numpy_array(d):
    assert not isinstance(d, np.ndarray)
    assert isinstance(d, xp.ndarray)
    assert xp.IS_FAKE_CUDA is True


def test_numba_refuses_device_arrays(d):
    numba = pytest.importorskip("numba")

    @numba.njit
    def total(x):
        return x.sum()

    with pytest.raises((TypeError, numba.core.errors.TypingError)):
        total(d)


# --------------------------------------------------------------------------- host/device mixing

MIXERS = {
    "dev+host": lambda d, h: d + h,
    "host+dev": lambda d, h: h + d,
    "host*dev": lambda d, h: h * d,
    "dev<host": lambda d, h: d < h,
    "dev@host": lambda d, h: d @ h.T,
    "xp.add": lambda d, h: xp.add(d, h),
    "xp.maximum": lambda d, h: xp.maximum(h, d),
    "xp.where": lambda d, h: xp.where(d > 0, d, h),
    "xp.concatenate": lambda d, h: xp.concatenate([d, h]),
    "np.concatenate": lambda d, h: np.concatenate([d, h]),
    "np.add": lambda d, h: np.add(d, h),
    "dev.dot": lambda d, h: d.dot(h.T),
    "out=host": lambda d, h: xp.exp(d, out=h),
    "0-d host": lambda d, h: d + np.asarray(2.0),
    "zeros_like": lambda d, h: xp.zeros_like(h),
}


@pytest.mark.parametrize("mix", list(MIXERS.values()), ids=list(MIXERS))
def test_mixing_host_array_raises_naming_both_types(d, host, mix):
    with pytest.raises(TypeError) as exc:
        mix(d, host)
    msg = str(exc.value)
    assert "Unsupported type <class 'numpy.ndarray'>" in msg
    assert "numpy.ndarray" in msg and "fake_cuda.ndarray" in msg


def test_inplace_with_host_array_raises(d, host):
    before = d.get()
    with pytest.raises(TypeError, match="numpy.ndarray"):
        d += host
    np.testing.assert_array_equal(d.get(), before)


def test_sequences_where_cupy_wants_arrays_raise(d):
    with pytest.raises(TypeError, match="Unsupported type <class 'list'>"):
        xp.exp([1.0, 2.0])
    with pytest.raises(TypeError, match="Unsupported type <class 'tuple'>"):
        xp.prod((2, 3))            # cupy.prod needs an ndarray; use math.prod for shapes
    with pytest.raises(TypeError):
        d + [1.0, 2.0, 3.0, 4.0]


def test_ufunc_keywords_are_cupys(d):
    with pytest.raises(TypeError, match="Wrong arguments"):
        xp.divide(d, 2.0, where=d > 0)
    assert_dev_equal(xp.divide(d, 2.0, dtype=np.float32), (d.get() / 2.0).astype(np.float32))


def test_names_cupy_lacks_are_missing():
    with pytest.raises(AttributeError, match="errstate"):
        xp.errstate
    with pytest.raises(AttributeError):
        xp.ElementwiseKernel
    assert not hasattr(xp, "RandomState") and not hasattr(xp, "default_rng")


# --------------------------------------------------------------------------- scalars and operators

BINOPS = [operator.add, operator.sub, operator.mul, operator.truediv, operator.floordiv,
          operator.mod, operator.pow, operator.lt, operator.le, operator.gt, operator.ge,
          operator.eq, operator.ne]


@pytest.mark.parametrize("op", BINOPS, ids=lambda f: f.__name__)
@pytest.mark.parametrize("scalar", [3, 2.5, np.float32(2.0), np.int64(3), True])
def test_scalar_operands_both_sides(host, op, scalar):
    d = xp.asarray(host)
    with np.errstate(all="ignore"):
        left, right = op(host, scalar), op(scalar, host)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        assert_dev_equal(op(d, scalar), left)
        assert_dev_equal(op(scalar, d), right)


@pytest.mark.parametrize("op", BINOPS + [operator.matmul], ids=lambda f: f.__name__)
def test_device_device_operators_match_numpy(op):
    rng = np.random.default_rng(0)
    h1, h2 = rng.normal(size=(4, 4)), rng.normal(size=(4, 4)) + 3.0
    with np.errstate(all="ignore"):
        expected = op(h1, h2)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        assert_dev_equal(op(xp.asarray(h1), xp.asarray(h2)), expected)


def test_bitwise_unary_and_divmod():
    hi = np.arange(-4, 4)
    di = xp.asarray(hi)
    for op in (operator.and_, operator.or_, operator.xor):
        assert_dev_equal(op(di, 3), op(hi, 3))
        assert_dev_equal(op(3, di), op(3, hi))
    assert_dev_equal(di << 1, hi << 1)
    assert_dev_equal(-di, -hi)
    assert_dev_equal(abs(di), abs(hi))
    assert_dev_equal(~di, ~hi)
    assert +di is di
    q, r = divmod(di, 3)
    assert_dev_equal(q, hi // 3)
    assert_dev_equal(r, hi % 3)


def test_numpy_scalar_on_the_left_returns_device(d, host):
    out = np.float32(2.0) * d
    assert type(out) is xp.ndarray
    np.testing.assert_array_equal(out.get(), np.float32(2.0) * host)


@pytest.mark.parametrize("op", ["__iadd__", "__isub__", "__imul__", "__itruediv__", "__ipow__"])
def test_inplace_operators_keep_identity_and_buffers(host, op):
    d = xp.asarray(host)
    view = d[1:]
    expected = host.copy()
    getattr(expected, op)(2.0)
    res = getattr(d, op)(2.0)
    assert res is d
    np.testing.assert_allclose(d.get(), expected)
    np.testing.assert_allclose(view.get(), expected[1:])   # views share device memory


def test_inplace_on_view_writes_through(d, host):
    v = d[:, 1]
    v += 100
    host[:, 1] += 100
    np.testing.assert_array_equal(d.get(), host)


def test_unknown_operands_defer_to_reflected_operators(d):
    class Other:
        def __radd__(self, other):
            return "radd"

        def __rmul__(self, other):
            return "rmul"

    assert d + Other() == "radd"
    assert d * Other() == "rmul"
    with pytest.raises(TypeError):
        d += Other()


# --------------------------------------------------------------------------- conversions, protocol

def test_size_one_conversions_and_no_index():
    s = xp.asarray(3.0)
    assert float(s) == 3.0 and int(s) == 3 and bool(s) is True and complex(s) == 3 + 0j
    assert bool(xp.asarray([2.5])) is True
    try:                      # size-1, ndim 1: whatever float(host.get()) does, as in CuPy
        expected = float(np.array([2.5]))
    except TypeError:
        with pytest.raises(TypeError):
            float(xp.asarray([2.5]))
    else:
        assert float(xp.asarray([2.5])) == expected
    assert f"{s:.2f}" == "3.00"
    assert s.item() == 3.0 and isinstance(s.item(), float)
    with pytest.raises(TypeError):
        range(xp.asarray(3))            # CuPy arrays have no __index__
    with pytest.raises(TypeError):
        [1, 2, 3][xp.asarray(1)]


def test_truthiness_of_larger_arrays_raises(d):
    with pytest.raises(ValueError, match="ambiguous"):
        bool(d)
    with pytest.raises(ValueError):
        bool(xp.zeros(0))


def test_container_protocol(d, host):
    assert len(d) == 3
    rows = list(d)
    assert len(rows) == 3 and all(type(r) is xp.ndarray for r in rows)
    np.testing.assert_array_equal(rows[1].get(), host[1])
    with pytest.raises(TypeError):
        len(xp.asarray(1.0))
    with pytest.raises(TypeError):
        iter(xp.asarray(1.0))


def test_repr_hash_device_flags(d, host):
    assert repr(d) == repr(host) and str(d) == str(host)
    assert xp.ndarray.__hash__ is None
    with pytest.raises(TypeError):
        hash(d)
    assert d.device.id == 0
    assert d.flags.c_contiguous and not d.T.flags.c_contiguous and d.flags["C_CONTIGUOUS"]
    assert isinstance(d.data.ptr, int)


def test_attributes_match_numpy(d, host):
    for name in ("shape", "ndim", "size", "dtype", "itemsize", "nbytes", "strides"):
        assert getattr(d, name) == getattr(host, name), name
    assert_dev_equal(d.T, host.T)
    assert_dev_equal(d.mT, host.mT)


def test_shape_setter_is_in_place(d, host):
    alias = d
    d.shape = (4, 3)
    assert alias.shape == (4, 3)
    np.testing.assert_array_equal(d.get(), host.reshape(4, 3))
    with pytest.raises(AttributeError):
        d.T.shape = (12,)   # would need a copy


def test_get_is_an_independent_host_copy(d, host):
    h = d.get()
    assert type(h) is np.ndarray
    h[...] = 0
    np.testing.assert_array_equal(d.get(), host)
    assert xp.asnumpy(d).tolist() == host.tolist()
    out = np.empty_like(host)
    assert d.get(out=out) is out
    np.testing.assert_array_equal(out, host)
    np.testing.assert_array_equal(xp.asnumpy(host), host)


def test_asarray_copies_host_data_and_keeps_device_arrays(host):
    d = xp.asarray(host)
    host[0, 0] = 1234.0
    assert d.get()[0, 0] != 1234.0           # a transfer, not a view
    assert xp.asarray(d) is d
    assert xp.asarray(d, dtype=d.dtype) is d
    assert xp.asarray(d, dtype=np.float32).dtype == np.float32
    e = xp.array(d)
    assert e is not d
    assert_dev_equal(xp.asarray([1, 2, 3]), np.array([1, 2, 3]))
    assert_dev_equal(xp.asarray(2.5), np.asarray(2.5))
    assert_dev_equal(xp.asarray([d[0, 0], d[1, 1]]), np.array([-5.0, 0.0]))


def test_set_copies_host_into_device(d, host):
    d.set(np.ones_like(host))
    np.testing.assert_array_equal(d.get(), np.ones_like(host))
    with pytest.raises(TypeError):
        d.set(np.ones_like(host, dtype=np.float32))


def test_pickle_and_copy(d, host):
    for c in (pickle.loads(pickle.dumps(d)), copy.copy(d), copy.deepcopy(d)):
        assert type(c) is xp.ndarray and c is not d
        np.testing.assert_array_equal(c.get(), host)


def test_get_array_module(d, host):
    assert xp.get_array_module(d) is xp
    assert xp.get_array_module(host, 1.0) is np


# --------------------------------------------------------------------------- indexing

@pytest.mark.parametrize("key", [
    0, -1, (1, 2), (slice(None), 1), slice(1, None), (Ellipsis, 0), (None, 0), [2, 0],
    ([0, 2], [1, 3]), (slice(None), [3, 0, 0]), (0, slice(None, None, -1)), ()])
def test_getitem_matches_numpy(d, host, key):
    got = d[key]
    assert type(got) is xp.ndarray        # scalars come back as 0-d device arrays
    np.testing.assert_array_equal(got.get(), np.asarray(host[key]))


def test_getitem_with_device_and_host_index_arrays(d, host):
    idx = np.array([2, 0])
    np.testing.assert_array_equal(d[xp.asarray(idx)].get(), host[idx])
    np.testing.assert_array_equal(d[idx].get(), host[idx])   # CuPy converts host indices
    mask = host > 0
    np.testing.assert_array_equal(d[d > 0].get(), host[mask])
    np.testing.assert_array_equal(d[:, xp.asarray([True, False, True, False])].get(),
                                  host[:, [True, False, True, False]])
    np.testing.assert_array_equal(d[xp.asarray(1), 2].get(), host[1, 2])


def test_basic_slices_are_views(d, host):
    v = d[1:, ::2]
    v[...] = 7.0
    host[1:, ::2] = 7.0
    np.testing.assert_array_equal(d.get(), host)


@pytest.mark.parametrize("key,value", [
    ((0, 0), 9.0), (slice(None), 1.5), ((slice(None), 1), np.float32(4)),
    ([0, 2], -1.0), (([0, 1], [3, 3]), 5.0), ((Ellipsis, 0), np.asarray(2.0)), (1, np.int64(3))])
def test_setitem_scalars(d, host, key, value):
    d[key] = value
    host[key] = value
    np.testing.assert_array_equal(d.get(), host)


def test_setitem_device_values_masks_and_index_arrays(d, host):
    d[d < 0] = 0.0
    host[host < 0] = 0.0
    d[xp.asarray([0, 2]), 1] = xp.asarray([10.0, 20.0])
    host[[0, 2], 1] = [10.0, 20.0]
    d[1] = xp.arange(4.0)
    host[1] = np.arange(4.0)
    d[d > 5] = d[d > 5] * 2
    host[host > 5] = host[host > 5] * 2
    np.testing.assert_array_equal(d.get(), host)


def test_setitem_follows_cupy_for_host_values(d, host):
    with pytest.raises(ValueError, match="non-scalar numpy.ndarray cannot be used for fill"):
        d[...] = host
    with pytest.raises(ValueError, match="non-scalar numpy.ndarray cannot be used for fill"):
        d[0] = host[0]
    with pytest.raises(TypeError, match="list"):
        d[0] = [1.0, 2.0, 3.0, 4.0]
    # advanced indexing converts the value with cupy.array(), as CuPy does
    d[[0, 1]] = host[[1, 0]]
    np.testing.assert_array_equal(d.get()[:2], host[[1, 0]])


def test_fill(d):
    d.fill(2.0)
    np.testing.assert_array_equal(d.get(), np.full((3, 4), 2.0))
    with pytest.raises(ValueError):
        d.fill(np.ones(4))


# --------------------------------------------------------------------------- methods, functions

REDUCTIONS = ["sum", "mean", "max", "min", "argmax", "argmin", "var", "std", "prod", "any",
              "all", "cumsum", "cumprod"]


@pytest.mark.parametrize("name", REDUCTIONS)
@pytest.mark.parametrize("kw", [{}, {"axis": 0}, {"axis": 1}, {"axis": -1, "keepdims": True}])
def test_reductions_match_numpy(d, host, name, kw):
    if name in ("cumsum", "cumprod", "argmax", "argmin") and "keepdims" in kw:
        kw = {"axis": kw["axis"]}
    got = getattr(d, name)(**kw)
    assert type(got) is xp.ndarray           # 0-d device arrays, never NumPy scalars
    np.testing.assert_allclose(got.get(), getattr(host, name)(**kw))
    fn = getattr(xp, name)(d, **kw)
    np.testing.assert_allclose(fn.get(), getattr(np, name)(host, **kw))


def test_reduction_out_returns_the_out_array(d, host):
    out = xp.empty(4)
    assert d.sum(axis=0, out=out) is out
    np.testing.assert_allclose(out.get(), host.sum(axis=0))
    out2 = xp.empty((3, 4))
    assert xp.exp(d, out=out2) is out2
    assert np.exp(d, out=out2) is out2
    np.testing.assert_allclose(out2.get(), np.exp(host))


def test_shape_methods(d, host):
    cases = {
        "reshape": ((4, 3),), "transpose": (), "swapaxes": (0, 1), "ravel": (), "flatten": (),
        "copy": (), "repeat": (2,), "take": ([0, 2],), "diagonal": (), "round": (1,),
        "clip": (-1.0, 2.0), "astype": (np.float32,), "view": (), "squeeze": (),
        "nonzero": (), "argsort": (),
    }
    for name, args in cases.items():
        got, exp = getattr(d, name)(*args), getattr(host, name)(*args)
        if isinstance(exp, tuple):
            assert all(type(g) is xp.ndarray for g in got)
            for g, e in zip(got, exp):
                np.testing.assert_array_equal(g.get(), e)
        else:
            assert type(got) is xp.ndarray, name
            np.testing.assert_array_equal(got.get(), exp)
    assert d.reshape(2, 6).shape == (2, 6)
    assert d.astype(d.dtype, copy=False) is d
    assert d.tolist() == host.tolist()


def test_inplace_sort_and_dot(d, host):
    e = d[:, ::-1].copy()
    e.sort(axis=1)
    np.testing.assert_array_equal(e.get(), np.sort(host[:, ::-1], axis=1))
    np.testing.assert_allclose(d.dot(d.T).get(), host.dot(host.T))
    with pytest.raises(TypeError):
        d.dot(2.0)


@pytest.mark.parametrize("name,args", [
    ("exp", ()), ("log1p", ()), ("tanh", ()), ("sqrt", ()), ("abs", ()), ("sign", ()),
    ("maximum", (0.0,)), ("clip", (-1.0, 1.0)), ("expand_dims", (0,)), ("transpose", ()),
    ("cumsum", ()), ("sort", ()), ("flip", (1,)), ("square", ()), ("isfinite", ()),
    ("pad", (((1, 0), (0, 2)),)), ("tile", ((2, 1),)), ("moveaxis", (0, 1)),
    ("broadcast_to", ((2, 3, 4),)), ("diff", ()), ("triu", ()), ("around", (1,)),
    ("nan_to_num", ()), ("log", ())])
def test_namespace_functions_match_numpy(d, host, name, args):
    pos = np.abs(host) + 1.0
    src, dsrc = (pos, xp.asarray(pos)) if name in ("log1p", "sqrt", "log") else (host, d)
    got = getattr(xp, name)(dsrc, *args)
    assert type(got) is xp.ndarray
    np.testing.assert_allclose(got.get(), getattr(np, name)(src, *args))


def test_multi_array_functions(d, host):
    assert_dev_equal(xp.concatenate([d, d], axis=1), np.concatenate([host, host], axis=1))
    assert_dev_equal(xp.stack([d, d]), np.stack([host, host]))
    assert_dev_equal(xp.where(d > 0, d, 0.0), np.where(host > 0, host, 0.0))
    assert_dev_equal(xp.einsum("ij,kj->ik", d, d), np.einsum("ij,kj->ik", host, host))
    assert_dev_equal(xp.matmul(d, d.T), host @ host.T)
    assert_dev_equal(xp.outer(d[0], d[1]), np.outer(host[0], host[1]))
    vals, counts = xp.unique(xp.asarray([3, 1, 3]), return_counts=True)
    assert type(vals) is xp.ndarray and counts.get().tolist() == [1, 2]
    parts = xp.split(d, 2, axis=1)
    assert isinstance(parts, list) and all(type(p) is xp.ndarray for p in parts)
    assert bool(xp.allclose(d, d)) and type(xp.allclose(d, d)) is xp.ndarray
    assert xp.shape(d) == (3, 4) and xp.ndim(d) == 2
    assert xp.result_type(d, np.float32) == np.float64


def test_creation_functions_return_device_arrays(d):
    made = [xp.zeros((2, 3)), xp.ones(3, dtype=np.int32), xp.full((2,), 7.0), xp.arange(5),
            xp.linspace(0, 1, 5), xp.eye(3), xp.identity(2), xp.zeros_like(d), xp.ones_like(d),
            xp.full_like(d, 2), xp.empty((2, 2)), xp.empty_like(d), xp.tri(3),
            *xp.meshgrid(xp.arange(2), xp.arange(3)), xp.random.random((2,))]
    assert all(type(m) is xp.ndarray for m in made)
    assert xp.ones(3, dtype=np.int32).dtype == np.int32
    # "uninitialised" float memory is NaN so code that reads empty() data fails loudly
    assert bool(xp.isnan(xp.empty(4)).all())
    assert bool(xp.isnan(xp.empty_like(d)).all())


def test_numpy_functions_dispatch_to_the_device(d, host):
    for got, exp in [(np.exp(d), np.exp(host)), (np.sum(d, axis=0), np.sum(host, axis=0)),
                     (np.mean(d), np.mean(host)), (np.linalg.norm(d), np.linalg.norm(host)),
                     (np.concatenate([d, d]), np.concatenate([host, host])),
                     (np.maximum(d, 0), np.maximum(host, 0)), (np.where(d > 0, d, 1.0),
                                                              np.where(host > 0, host, 1.0)),
                     (np.fft.rfft(d), np.fft.rfft(host))]:
        assert type(got) is xp.ndarray
        np.testing.assert_allclose(got.get(), exp)


def test_ufunc_methods(d, host):
    assert_dev_equal(xp.add.reduce(d, axis=0), np.add.reduce(host, axis=0))
    assert_dev_equal(xp.maximum.accumulate(d, axis=1), np.maximum.accumulate(host, axis=1))
    assert_dev_equal(xp.multiply.outer(d[0], d[1]), np.multiply.outer(host[0], host[1]))
    assert_dev_equal(np.add.reduce(d, axis=1), np.add.reduce(host, axis=1))
    acc = xp.zeros(3)
    xp.add.at(acc, xp.asarray([0, 0, 2]), xp.asarray([1.0, 2.0, 3.0]))
    np.add.at(acc, [1], 5.0)
    np.testing.assert_array_equal(acc.get(), [3.0, 5.0, 3.0])
    assert xp.exp.nin == 1 and xp.add.nout == 1 and xp.add.__name__ == "add"


def test_linalg_and_namedtuple_results():
    rng = np.random.default_rng(1)
    m = rng.normal(size=(4, 4))
    spd = m @ m.T + 4 * np.eye(4)
    ds = xp.asarray(spd)
    assert_dev_equal(xp.linalg.inv(ds), np.linalg.inv(spd))
    assert_dev_equal(xp.linalg.cholesky(ds), np.linalg.cholesky(spd))
    assert_dev_equal(xp.linalg.det(ds), np.asarray(np.linalg.det(spd)))
    assert_dev_equal(xp.linalg.solve(ds, xp.ones(4)), np.linalg.solve(spd, np.ones(4)))
    sign, logdet = xp.linalg.slogdet(ds)
    assert type(logdet) is xp.ndarray
    np.testing.assert_allclose(logdet.get(), np.linalg.slogdet(spd)[1])
    res = xp.linalg.eigh(ds)
    assert type(res.eigenvalues) is xp.ndarray
    np.testing.assert_allclose(res.eigenvalues.get(), np.linalg.eigh(spd).eigenvalues)
    assert type(xp.linalg.norm(ds, axis=1)) is xp.ndarray
    with pytest.raises(TypeError):
        xp.linalg.norm([1.0, 2.0])
    with pytest.raises(xp.linalg.LinAlgError):
        xp.linalg.inv(xp.zeros((2, 2)))


def test_special_erf_is_exact_and_keeps_float32():
    h = np.linspace(-4, 4, 41)
    got = xp.special.erf(xp.asarray(h))
    np.testing.assert_array_equal(got.get(), np.array([math.erf(v) for v in h]))
    f32 = xp.special.erf(xp.asarray(h, dtype=np.float32))
    assert f32.dtype == np.float32
    assert xp.special.erf(xp.asarray([1, 2])).dtype == np.float64
    np.testing.assert_allclose(xp.special.erfc(xp.asarray(h)).get(), [math.erfc(v) for v in h])
    np.testing.assert_allclose(xp.special.ndtr(xp.asarray([0.0, 1.0])).get(),
                               [0.5, 0.5 * (1 + math.erf(1 / math.sqrt(2)))])
    np.testing.assert_allclose(xp.special.expit(xp.asarray([-800.0, 0.0, 800.0])).get(),
                               [0.0, 0.5, 1.0])
    assert float(xp.special.erf(0.5)) == math.erf(0.5)
    with pytest.raises(TypeError, match="numpy.ndarray"):
        xp.special.erf(h)


# --------------------------------------------------------------------------- random

def test_global_random_state_is_seeded_and_matches_numpy():
    xp.random.seed(123)
    a = xp.random.normal(size=(3, 2))
    b = xp.random.rand(4)
    xp.random.seed(123)
    assert_dev_equal(xp.random.normal(size=(3, 2)), a.get())
    ref = np.random.RandomState(123)
    np.testing.assert_array_equal(a.get(), ref.normal(size=(3, 2)))
    np.testing.assert_array_equal(b.get(), ref.random_sample(4))


def test_random_state_methods():
    rs = xp.random.RandomState(7)
    results = {
        "standard_normal": rs.standard_normal((2, 3)), "normal": rs.normal(1.0, 2.0, 5),
        "uniform": rs.uniform(-1, 1, size=4), "randn": rs.randn(2, 2), "rand": rs.rand(3),
        "random_sample": rs.random_sample(3), "randint": rs.randint(0, 5, size=6),
        "binomial": rs.binomial(10, 0.3, size=4), "choice": rs.choice(10, size=3),
        "permutation": rs.permutation(6), "exponential": rs.exponential(2.0, size=3),
    }
    for name, r in results.items():
        assert type(r) is xp.ndarray, name
    assert results["permutation"].dtype == np.int32          # as in CuPy
    assert sorted(results["permutation"].tolist()) == list(range(6))
    assert results["randint"].dtype == np.int64 and results["binomial"].dtype == np.int64
    assert rs.normal(size=3, dtype=np.float32).dtype == np.float32
    assert rs.normal(0.0, 1.0, (2,), np.float32).dtype == np.float32   # CuPy's positional dtype
    assert rs.randn(2, dtype=np.float32).dtype == np.float32
    scalar = rs.normal()
    assert type(scalar) is xp.ndarray and scalar.shape == ()
    loc = xp.asarray([0.0, 100.0])
    assert float(rs.normal(loc, 1e-9).get()[1]) == pytest.approx(100.0)
    with pytest.raises(TypeError, match="numpy.ndarray"):
        rs.normal(np.zeros(2), 1.0)
    with pytest.raises(TypeError):
        rs.normal(size=2, dtype=np.int32)
    with pytest.raises(NotImplementedError):
        rs.choice(5)                                          # CuPy needs an explicit size
    arr = xp.arange(10)
    rs.shuffle(arr)
    assert sorted(arr.tolist()) == list(range(10))
    perm = rs.permutation(xp.arange(5.0))
    assert sorted(perm.tolist()) == [0.0, 1.0, 2.0, 3.0, 4.0]
    p = xp.asarray([0.0, 0.0, 1.0])
    assert rs.choice(3, size=5, p=p).tolist() == [2] * 5


def test_default_rng_has_only_cupys_generator_methods():
    g = xp.random.default_rng(0)
    for r in (g.standard_normal((2, 2)), g.random(3), g.integers(0, 5, size=4),
              g.standard_normal(3, dtype=np.float32), g.exponential(2.0, size=2),
              g.poisson(3.0, size=2), g.gamma(2.0, size=2), g.beta(1.0, 2.0, size=2)):
        assert type(r) is xp.ndarray
    assert g.standard_normal(3, dtype=np.float32).dtype == np.float32
    assert g.integers(10).shape == ()
    np.testing.assert_array_equal(xp.random.default_rng(5).random(4).get(),
                                  xp.random.default_rng(5).random(4).get())
    out = xp.empty((2, 2), dtype=np.float32)
    assert g.standard_normal(dtype=np.float32, out=out) is out
    for missing in ("normal", "uniform", "choice", "permutation", "binomial", "shuffle"):
        with pytest.raises(AttributeError, match="CuPy's Generator only implements"):
            getattr(g, missing)
    assert xp.random.default_rng(g) is g


# --------------------------------------------------------------------------- cuda stub

def test_cuda_stub_supports_sync_and_timing():
    assert xp.cuda.runtime.getDeviceCount() == 1
    xp.cuda.Stream.null.synchronize()
    xp.cuda.Device().synchronize()
    xp.cuda.runtime.deviceSynchronize()
    with xp.cuda.Device(0) as dev0:
        assert dev0.id == 0
    start, end = xp.cuda.Event(), xp.cuda.Event()
    start.record()
    end.record()
    end.synchronize()
    assert xp.cuda.get_elapsed_time(start, end) >= 0.0
    assert xp.get_default_memory_pool().used_bytes() == 0
    with pytest.raises(RuntimeError):
        xp.cuda.Device(1)


def test_cupy_testing_helpers_take_device_arrays(d, host):
    xp.testing.assert_allclose(d, host)
    xp.testing.assert_array_equal(d, d)


# --------------------------------------------------------------------------- backend wiring

@pytest.fixture
def fake_backend(monkeypatch):
    from tinygen import backend
    monkeypatch.setenv("TINYGEN_FAKE_CUDA", "1")
    monkeypatch.delenv("TINYGEN_DEVICE", raising=False)
    monkeypatch.setattr(backend, "_cuda_module", None)
    monkeypatch.setattr(backend, "_cuda_error", None)
    monkeypatch.setattr(backend, "_default_device", None)
    return backend


def test_backend_resolves_cuda_to_the_fake(fake_backend, host):
    b = fake_backend
    assert b.cuda_available() and b.is_fake_cuda()
    assert b.xp_for("cuda") is xp
    assert b.normalize_device("cuda:0") == "cuda"
    d = b.to_device(host, "cuda")
    assert type(d) is xp.ndarray and b.device_of(d) == "cuda"
    assert b.get_array_module(d) is xp and b.get_array_module(host) is np
    back = b.to_numpy(d)
    assert type(back) is np.ndarray
    np.testing.assert_array_equal(back, host)
    assert b.to_device(d, "cpu").tolist() == host.tolist()
    assert b.to_device(d, "cuda") is d


# --------------------------------------------------------------------------- properties

arrays = hnp.arrays(np.float64, hnp.array_shapes(min_dims=1, max_dims=3, max_side=4),
                    elements=st.floats(-100, 100, allow_nan=False))


@settings(max_examples=40, deadline=None)
@given(h=arrays, s=st.floats(-10, 10, allow_nan=False),
       op=st.sampled_from([operator.add, operator.sub, operator.mul, operator.lt]))
def test_property_elementwise_and_reductions_agree_with_numpy(h, s, op):
    d = xp.asarray(h)
    np.testing.assert_array_equal(op(d, s).get(), op(h, s))
    np.testing.assert_array_equal(op(s, d).get(), op(s, h))
    np.testing.assert_allclose(d.sum(axis=-1).get(), h.sum(axis=-1))
    np.testing.assert_array_equal(d.max().get(), h.max())
    np.testing.assert_array_equal(d[..., ::-1].get(), h[..., ::-1])
