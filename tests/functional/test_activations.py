"""Activations: values against independent formulas, gradients and second derivatives by finite
differences, stability at extreme inputs."""
from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given, settings, strategies as st
from hypothesis.extra import numpy as hnp

import tinygen as tg
import tinygen.functional as F
from futil import leaves_unmodified, t64

shapes = hnp.array_shapes(min_dims=1, max_dims=3, min_side=1, max_side=4)


def _data(shape, seed, scale=2.0):
    x = np.random.default_rng(seed).standard_normal(shape) * scale
    # keep clear of kinks (0 for leaky_relu/elu) so finite differences are meaningful
    return np.where(np.abs(x) < 1e-3, 0.5, x)


ELEMENTWISE = {
    "leaky_relu": (lambda x: F.leaky_relu(x, 0.1), lambda a: np.where(a > 0, a, 0.1 * a)),
    "elu": (lambda x: F.elu(x, 1.5), lambda a: np.where(a > 0, a, 1.5 * np.expm1(a))),
    "gelu": (F.gelu, lambda a: a * 0.5 * (1 + np.vectorize(math.erf)(a / math.sqrt(2)))),
    "gelu_tanh": (lambda x: F.gelu(x, approximate="tanh"),
                  lambda a: 0.5 * a * (1 + np.tanh(math.sqrt(2 / math.pi) * (a + 0.044715 * a ** 3)))),
    "softplus": (F.softplus, lambda a: np.log1p(np.exp(a))),
    "softplus_beta": (lambda x: F.softplus(x, beta=2.0, threshold=3.0),
                      lambda a: np.where(2 * a > 3.0, a, np.log1p(np.exp(2 * a)) / 2)),
    "log_sigmoid": (F.log_sigmoid, lambda a: -np.log1p(np.exp(-a))),
    "silu": (F.silu, lambda a: a / (1 + np.exp(-a))),
    "relu": (F.relu, lambda a: np.maximum(a, 0)),
    "sigmoid": (F.sigmoid, lambda a: 1 / (1 + np.exp(-a))),
    "tanh": (F.tanh, np.tanh),
}
SMOOTH = ["elu", "gelu", "gelu_tanh", "softplus", "log_sigmoid", "silu", "sigmoid", "tanh"]


@pytest.mark.parametrize("name", sorted(ELEMENTWISE))
@settings(max_examples=15, deadline=None)
@given(shape=shapes, seed=st.integers(0, 2**31 - 1))
def test_elementwise_value_and_grad(name, shape, seed):
    fn, ref = ELEMENTWISE[name]
    a = _data(shape, seed)
    if name == "softplus_beta":
        a = np.where(np.abs(2 * a - 3.0) < 1e-3, 0.5, a)
    out = leaves_unmodified(fn, a)
    np.testing.assert_allclose(out.numpy(), ref(a), rtol=1e-12, atol=1e-14)
    assert out.dtype == np.float64 and out.shape == a.shape
    assert tg.gradcheck(fn, [t64(a)])


@pytest.mark.parametrize("name", SMOOTH + ["leaky_relu"])
@settings(max_examples=10, deadline=None)
@given(shape=hnp.array_shapes(min_dims=1, max_dims=2, min_side=1, max_side=3), seed=st.integers(0, 2**31 - 1))
def test_elementwise_gradgrad(name, shape, seed):
    fn, _ = ELEMENTWISE[name]
    assert tg.gradgradcheck(fn, [t64(_data(shape, seed))])


def test_float32_keeps_dtype():
    x = tg.Tensor(np.linspace(-3, 3, 7, dtype=np.float32), requires_grad=True)
    for name, (fn, _) in ELEMENTWISE.items():
        y = fn(x)
        assert y.dtype == np.float32, name
        (g,) = tg.grad(y.sum(), [x])
        assert g.dtype == np.float32, name
    for fn in (F.softmax, F.log_softmax):
        assert fn(x).dtype == np.float32


def test_gelu_matches_math_erf_to_float64_accuracy():
    a = np.concatenate([np.linspace(-9, 9, 2001), [-40.0, -1e-300, 0.0, 1e-300, 40.0]])
    got = F.gelu(t64(a, False)).numpy()
    ref = np.array([v * 0.5 * math.erfc(-v / math.sqrt(2)) for v in a])
    scale = np.maximum(np.abs(ref), 1e-300)
    assert np.max(np.abs(got - ref) / scale) < 1e-13
    # derivative Φ(x) + xφ(x)
    x = t64(a)
    (g,) = tg.grad(F.gelu(x).sum(), [x])
    dref = np.array([0.5 * math.erfc(-v / math.sqrt(2)) + v * math.exp(-v * v / 2) / math.sqrt(2 * math.pi)
                     for v in a])
    np.testing.assert_allclose(g.numpy(), dref, rtol=1e-13, atol=1e-300)


@pytest.mark.parametrize("fn", [F.softplus, F.log_sigmoid, F.silu, F.gelu, F.elu, F.sigmoid,
                                lambda x: F.softplus(x, beta=0.5), lambda x: F.gelu(x, approximate="tanh")])
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_extreme_inputs_finite(fn, dtype):
    a = np.array([-1e4, -1e3, -100.0, -30.0, 0.0, 30.0, 100.0, 1e3, 1e4], dtype=dtype)
    x = tg.Tensor(a, requires_grad=True)
    y = fn(x)
    (g,) = tg.grad(y.sum(), [x])
    assert np.all(np.isfinite(y.numpy())) and np.all(np.isfinite(g.numpy()))


def test_softplus_log_sigmoid_extremes_exact():
    a = np.array([-1e4, -50.0, 50.0, 1e4])
    np.testing.assert_allclose(F.softplus(a).numpy(), [0.0, math.exp(-50.0), 50.0, 1e4], rtol=1e-15)
    np.testing.assert_allclose(F.log_sigmoid(a).numpy(), [-1e4, -50.0, -math.exp(-50.0), 0.0], rtol=1e-15)
    x = t64(a)
    (g,) = tg.grad(F.log_sigmoid(x).sum(), [x])
    np.testing.assert_allclose(g.numpy(), [1.0, 1.0, math.exp(-50.0), 0.0], rtol=1e-14)


# --------------------------------------------------------------------------- softmax family
axis_shapes = hnp.array_shapes(min_dims=1, max_dims=3, min_side=1, max_side=5)


def _lse_ref(a, axis):
    a = a.astype(np.longdouble)
    m = a.max(axis=axis, keepdims=True)
    return m + np.log(np.exp(a - m).sum(axis=axis, keepdims=True))


@settings(max_examples=20, deadline=None)
@given(shape=axis_shapes, seed=st.integers(0, 2**31 - 1), data=st.data())
def test_softmax_log_softmax_values_and_grads(shape, seed, data):
    axis = data.draw(st.integers(-len(shape), len(shape) - 1))
    a = np.random.default_rng(seed).standard_normal(shape) * 3
    ref_log = (a.astype(np.longdouble) - _lse_ref(a, axis)).astype(np.float64)
    ls = leaves_unmodified(lambda x: F.log_softmax(x, axis=axis), a)
    np.testing.assert_allclose(ls.numpy(), ref_log, rtol=1e-13, atol=1e-13)
    sm = F.softmax(a, dim=axis)
    np.testing.assert_allclose(sm.numpy(), np.exp(ref_log), rtol=1e-13, atol=1e-15)
    np.testing.assert_allclose(sm.numpy().sum(axis=axis), 1.0, rtol=1e-14)
    assert tg.gradcheck(lambda x: F.softmax(x, axis=axis), [t64(a)])
    assert tg.gradcheck(lambda x: F.log_softmax(x, dim=axis), [t64(a)])


@settings(max_examples=10, deadline=None)
@given(shape=hnp.array_shapes(min_dims=1, max_dims=2, min_side=1, max_side=4), seed=st.integers(0, 2**31 - 1))
def test_softmax_log_softmax_gradgrad(shape, seed):
    a = np.random.default_rng(seed).standard_normal(shape)
    assert tg.gradgradcheck(lambda x: F.softmax(x, axis=0), [t64(a)])
    assert tg.gradgradcheck(F.log_softmax, [t64(a)])


def test_log_softmax_extreme_logits():
    a = np.array([[1e4, -1e4, 0.0], [-1e30, 1e30, 5.0], [1000.0, 1000.0, 1000.0]])
    out = F.log_softmax(a).numpy()
    assert np.all(np.isfinite(out))
    np.testing.assert_allclose(out[0], [0.0, -2e4, -1e4])
    np.testing.assert_allclose(out[2], [-math.log(3)] * 3, rtol=1e-15)
    sm = F.softmax(a).numpy()
    np.testing.assert_allclose(sm.sum(-1), 1.0)
    x = t64(a)
    (g,) = tg.grad(F.log_softmax(x)[:, 0].sum(), [x])
    assert np.all(np.isfinite(g.numpy()))


def test_axis_dim_aliases_and_errors():
    a = np.arange(6.0).reshape(2, 3)
    np.testing.assert_allclose(F.softmax(a, 0).numpy(), F.softmax(a, dim=0).numpy())
    with pytest.raises(TypeError):
        F.softmax(a, axis=0, dim=1)
    with pytest.raises(ValueError, match="softmax"):
        F.softmax(a, axis=2)
    with pytest.raises(ValueError, match="gelu"):
        F.gelu(a, approximate="erf")


def test_numbers_and_lists_accepted():
    assert abs(F.softplus(0.0).item() - math.log(2)) < 1e-7
    assert F.log_softmax([1.0, 2.0]).shape == (2,)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("size", [100, 1 << 15, 40000])
def test_relu_large_arrays_take_the_fused_kernel_with_the_same_values(size, dtype):
    """From 32K values relu runs through the fused activation kernel; values and gradients must be
    those of max(x, 0) and g·[x > 0] on either side of the switch, zeros included (gradient 0)."""
    rng = np.random.default_rng(size)
    a = rng.standard_normal(size).astype(dtype)
    a[::7] = 0.0
    g = rng.standard_normal(size).astype(dtype)
    x = tg.tensor(a, requires_grad=True)
    y = F.relu(x)
    y.backward(tg.tensor(g))
    assert y.dtype == dtype and x.grad.dtype == dtype
    np.testing.assert_array_equal(y.numpy(), np.maximum(a, 0))
    np.testing.assert_array_equal(x.grad.numpy(), g * (a > 0))
