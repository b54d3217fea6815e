"""Fused element-wise ufuncs (kernels.ufuncs): vs their NumPy references, at extremes, and the
fallbacks (fused off, other dtypes, Tensors under create_graph)."""
import numpy as np
import pytest
from hypothesis import given, strategies as st

import tinygen as tg
import tinygen.kernels as K
from tinygen.kernels import ufuncs as U

from .kutil import both, dtypes, edge_sizes, needs_numba, tol


@needs_numba
@given(n=edge_sizes, dtype=dtypes, scale=st.sampled_from([0.1, 3.0, 30.0, 300.0]), seed=st.integers(0, 2**16))
def test_ufuncs_match_references(n, dtype, scale, seed):
    rng = np.random.default_rng(seed)
    x = (rng.standard_normal(n) * scale).astype(dtype)
    g = rng.standard_normal(n).astype(dtype)
    s, s_ref = both(U.sigmoid, x)
    assert s.dtype == dtype and s.shape == x.shape
    np.testing.assert_allclose(s, s_ref, **tol(dtype))
    t = np.tanh(x)
    for fn, y in ((U.sigmoid_grad, s_ref), (U.tanh_grad, t)):
        out, ref = both(fn, g, y)
        assert out.dtype == dtype and out.shape == x.shape
        np.testing.assert_allclose(out, ref, **tol(dtype, 2.0))


@needs_numba
def test_ufuncs_are_real_numpy_ufuncs_and_used():
    with K.use_fused(True):
        U.sigmoid(np.zeros(2, np.float32))
        assert isinstance(U.ufunc("sigmoid"), np.ufunc)
        assert U.ufunc("tanh_grad").types == ["ff->f", "dd->d"]


@needs_numba
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_sigmoid_extremes(dtype):
    x = np.array([-1e4, -104.0, -88.0, -30.0, -1e-8, 0.0, 1e-8, 30.0, 88.0, 1e4, np.inf, -np.inf, np.nan], dtype)
    with K.use_fused(True):
        s = U.sigmoid(x)
    assert s.dtype == dtype
    exact = [1 / (1 + np.exp(-float(v))) if np.isfinite(v) and v > -700 else (0.0 if v < 0 else float("nan"))
             for v in x.astype(np.float64)]
    exact[-3], exact[-2] = 1.0, 0.0
    np.testing.assert_allclose(s[:-1], np.array(exact[:-1], dtype), rtol=2e-6 if dtype == np.float32 else 1e-15)
    assert np.isnan(s[-1])
    assert np.all((s[:-1] >= 0) & (s[:-1] <= 1))
    assert s[3] > 0 and s[2] > 0                      # no underflow to 0 where the value is representable


@needs_numba
def test_direct_path_follows_the_switch_once_built(monkeypatch):
    """The dispatchers call a built ufunc directly; switching fusing off must still reach the
    references (the ufunc is replaced by a spy to see which one ran)."""
    g, y = np.full(3, 2.0, np.float32), np.full(3, 0.5, np.float32)
    with K.use_fused(True):
        U.tanh_grad(g, y), U.sigmoid_grad(g, y), U.sigmoid(y)          # built
    calls = []
    for name in ("tanh_grad", "sigmoid_grad", "sigmoid"):
        real = U._built[name]
        monkeypatch.setitem(U._built, name, lambda *a, _real=real, _name=name: calls.append(_name) or _real(*a))
    with K.use_fused(True):
        np.testing.assert_allclose(U.tanh_grad(g, y), 1.5)
        np.testing.assert_allclose(U.sigmoid_grad(g, y), 0.5)
        np.testing.assert_allclose(U.sigmoid(y), 1 / (1 + np.exp(-0.5)), rtol=1e-6)
    assert calls == ["tanh_grad", "sigmoid_grad", "sigmoid"]
    with K.use_fused(False):
        np.testing.assert_allclose(U.tanh_grad(g, y), 1.5)
        np.testing.assert_allclose(U.sigmoid_grad(g, y), 0.5)
        np.testing.assert_allclose(U.sigmoid(y), 1 / (1 + np.exp(-0.5)), rtol=1e-6)
    assert calls == ["tanh_grad", "sigmoid_grad", "sigmoid"]      # the references ran


def test_fallbacks_keep_dtype_and_namespace():
    x16 = np.linspace(-3, 3, 7).astype(np.float16)
    assert U.sigmoid(x16).dtype == np.float16          # not a ufunc loop: the reference
    g32, y64 = np.ones(3, np.float32), np.full(3, 0.5)
    np.testing.assert_allclose(U.tanh_grad(g32, y64), 0.75)   # mixed dtypes: the reference
    with K.use_fused(False):
        np.testing.assert_array_equal(U.sigmoid_grad(np.ones(2), np.full(2, 0.5)), [0.25, 0.25])


def test_double_backward_through_tanh_and_sigmoid_still_recorded():
    """Under create_graph the dispatchers get Tensors and run the formula with recorded ops."""
    x = tg.tensor(np.array([-1.0, 0.3, 2.0]), requires_grad=True)
    for f, d2 in ((lambda t: t.tanh(), lambda v: -2 * np.tanh(v) * (1 - np.tanh(v) ** 2)),
                  (lambda t: t.sigmoid(), lambda v: (s := 1 / (1 + np.exp(-v))) * (1 - s) * (1 - 2 * s))):
        (g,) = tg.grad(f(x).sum(), [x], create_graph=True)
        (gg,) = tg.grad(g.sum(), [x])
        np.testing.assert_allclose(gg.numpy(), d2(x.numpy()), rtol=1e-12)


@needs_numba
def test_direct_bindings_follow_the_build_and_the_switch():
    """The engine calls Tanh/Sigmoid.host_backward and the recorder Sigmoid.direct_forward with no
    dispatcher: they must be the bare ufuncs only while those are built and fusing is on."""
    from tinygen.autograd.elementwise import Sigmoid, Tanh
    y = np.full(3, 0.5, np.float32)
    with K.use_fused(True):
        U.tanh_grad(y, y), U.sigmoid_grad(y, y), U.sigmoid(y)          # built
        assert Tanh.host_backward is U._built["tanh_grad"]
        assert Sigmoid.host_backward is U._built["sigmoid_grad"]
        assert Sigmoid.direct_forward is U._built["sigmoid"]
        with K.use_fused(False):
            assert Tanh.host_backward is None and Sigmoid.direct_forward is None
            x = tg.tensor(np.array([0.3, -1.2], np.float32), requires_grad=True)
            x.sigmoid().tanh().sum().backward()                      # the references, via dispatchers
            g_ref = x.grad.numpy()
        assert Tanh.host_backward is U._built["tanh_grad"]
        x.grad = None
        x.sigmoid().tanh().sum().backward()                          # the bare ufuncs
        np.testing.assert_allclose(x.grad.numpy(), g_ref, rtol=1e-6)


def test_float16_keeps_its_dtype_through_the_direct_paths():
    x = tg.tensor(np.array([0.3, -1.2], np.float16), requires_grad=True)
    y = x.sigmoid()
    assert y.dtype == np.float16                      # the forward ufunc takes float32/float64 only
    y.tanh().sum().backward()
    assert x.grad.dtype == np.float16
    s = 1 / (1 + np.exp(-x.numpy().astype(np.float64)))
    np.testing.assert_allclose(x.grad.numpy(), (1 - np.tanh(s) ** 2) * s * (1 - s), rtol=2e-3)
