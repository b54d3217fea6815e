"""Fused activations: kernel vs reference, vs scalar math formulas, vs finite differences."""
import math

import numpy as np
import pytest
from hypothesis import given, strategies as st

import tinygen.kernels as K
from tinygen.kernels import activations as A

from .kutil import both, dtypes, edge_sizes, needs_numba, tol

SPECS = [
    ("relu", {}),
    ("leaky_relu", {"negative_slope": 0.2}),
    ("elu", {"alpha": 1.5}),
    ("gelu", {}),
    ("gelu", {"approximate": "tanh"}),
    ("sigmoid", {}),
    ("tanh", {}),
    ("softplus", {}),
    ("softplus", {"beta": 2.0, "threshold": 3.0}),
    ("silu", {}),
]
IDS = [n + ("-" + "-".join(f"{k}={v}" for k, v in p.items()) if p else "") for n, p in SPECS]


@needs_numba
@pytest.mark.parametrize("name, params", SPECS, ids=IDS)
@given(n=edge_sizes, dtype=dtypes, scale=st.sampled_from([0.1, 3.0, 30.0]),
       seed=st.integers(0, 2**16), give_y=st.booleans())
def test_kernel_matches_reference(name, params, n, dtype, scale, seed, give_y):
    rng = np.random.default_rng(seed)
    x = (rng.standard_normal(n) * scale).astype(dtype)
    g = rng.standard_normal(n).astype(dtype)
    y, y_ref = both(K.act_forward, name, x, **params)
    assert y.dtype == dtype and y.shape == x.shape
    big = float(np.max(np.abs(x), initial=1.0))
    np.testing.assert_allclose(y, y_ref, **tol(dtype, big))
    yy = y_ref if give_y else None
    dx, dx_ref = both(K.act_backward, name, x, yy, g, **params)
    assert dx.dtype == dtype and dx.shape == x.shape
    if params.get("approximate") == "tanh":
        # ½(1 + t) + ½ x (1 − t²) du cancels where t = tanh u ≈ −1: both sides carry an absolute
        # error ~ ulp(1) · |x| du (about 10⁻¹⁴ at x ≈ −7 in float64), as PyTorch's formula does
        a = min(big, 9.0)
        big = big * (1 + a * 0.8 * (1 + 0.134 * a * a)) * float(np.max(np.abs(g), initial=1.0))
    np.testing.assert_allclose(dx, dx_ref, **tol(dtype, big))


def _phi(x):
    return 0.5 * math.erfc(-x / math.sqrt(2))


SCALAR = {
    "relu": (lambda x: max(x, 0.0), lambda x: 1.0 if x > 0 else 0.0),
    "leaky_relu": (lambda x: x if x > 0 else 0.2 * x, lambda x: 1.0 if x > 0 else 0.2),
    "elu": (lambda x: x if x > 0 else 1.5 * math.expm1(x), lambda x: 1.0 if x > 0 else 1.5 * math.exp(x)),
    "gelu": (lambda x: x * _phi(x),
             lambda x: _phi(x) + x * math.exp(-x * x / 2) / math.sqrt(2 * math.pi)),
    "sigmoid": (lambda x: 1 / (1 + math.exp(-x)), lambda x: math.exp(-x) / (1 + math.exp(-x)) ** 2),
    "tanh": (math.tanh, lambda x: 1 - math.tanh(x) ** 2),
    "softplus": (lambda x: x if x > 20 else math.log1p(math.exp(x)),
                 lambda x: 1.0 if x > 20 else 1 / (1 + math.exp(-x))),
    "silu": (lambda x: x / (1 + math.exp(-x)),
             lambda x: 1 / (1 + math.exp(-x)) * (1 + x * (1 - 1 / (1 + math.exp(-x))))),
}


@needs_numba
@pytest.mark.parametrize("name", sorted(SCALAR))
def test_float64_kernel_matches_scalar_formulas(name):
    params = {"leaky_relu": {"negative_slope": 0.2}, "elu": {"alpha": 1.5}}.get(name, {})
    x = np.concatenate([np.linspace(-30, 30, 601), [-1e-9, 0.0, 1e-9, 19.999, 20.0, 20.001]])
    f, df = SCALAR[name]
    y = K.act_forward(name, x, **params)
    dx = K.act_backward(name, x, None, np.ones_like(x), **params)
    want = np.array([f(v) for v in x])
    # erfc(a) ~ e^(−a²) turns the rounding of its argument into a relative error ~2a²·ulp
    cond = 1 + x * x if name == "gelu" else 1.0
    assert np.all(np.abs(y - want) <= 2e-15 * cond * np.abs(want) + 1e-300), name
    # derivatives like σ(1 − σ) and Φ + xφ cancel: their error is absolute, relative to 1
    np.testing.assert_allclose(dx, [df(v) for v in x], rtol=5e-15, atol=5e-16)


@needs_numba
@pytest.mark.parametrize("name, params", SPECS, ids=IDS)
def test_backward_matches_finite_differences(name, params):
    rng = np.random.default_rng(3)
    x = rng.uniform(-4, 4, 257)
    x = x[np.abs(x) > 1e-3]                      # keep away from the kinks at 0
    if name == "softplus" and params:
        x = x[np.abs(2.0 * x - 3.0) > 1e-3]      # and from the threshold switch
    g = rng.standard_normal(x.size)
    h = 1e-6
    fd = (K.act_forward(name, x + h, **params) - K.act_forward(name, x - h, **params)) / (2 * h)
    np.testing.assert_allclose(K.act_backward(name, x, None, g, **params), g * fd, rtol=1e-6, atol=1e-7)


def test_pytorch_conventions():
    x = np.array([-1.0, 0.0, 1.0, 25.0])
    g = np.ones(4)
    np.testing.assert_array_equal(K.act_backward("relu", x, None, g), [0, 0, 1, 1])
    np.testing.assert_array_equal(K.act_backward("leaky_relu", x, None, g, negative_slope=0.1), [0.1, 0.1, 1, 1])
    assert K.act_backward("elu", x, None, g, alpha=2.0)[1] == 2.0          # x <= 0 branch at 0
    y = K.act_forward("softplus", x)
    assert y[3] == 25.0 and y[1] == pytest.approx(math.log(2))            # threshold 20
    assert K.act_backward("softplus", x, None, g)[3] == 1.0
    y = K.act_forward("softplus", np.array([3.0]), beta=2.0, threshold=5.0)
    assert y[0] == 3.0                                                      # beta*x = 6 > 5
    np.testing.assert_allclose(K.act_forward("gelu", np.array([1.0])), [0.8413447460685429], rtol=1e-15)
    np.testing.assert_allclose(K.act_forward("gelu", np.array([1.0]), approximate="tanh"),
                               [0.8411919906082768], rtol=1e-15)


@needs_numba
def test_y_is_optional_for_sigmoid_and_tanh():
    x = np.linspace(-5, 5, 101)
    g = np.cos(x)
    for name in ("sigmoid", "tanh"):
        y = K.act_forward(name, x)
        np.testing.assert_allclose(K.act_backward(name, x, y, g), K.act_backward(name, x, None, g),
                                   rtol=1e-14, atol=1e-16)


@needs_numba
def test_shapes_noncontiguous_and_mixed_gradient_dtype():
    rng = np.random.default_rng(4)
    x = rng.standard_normal((6, 7)).astype(np.float32).T          # non-contiguous
    g = rng.standard_normal((7, 6))                               # float64 gradient
    y, y_ref = both(K.act_forward, "silu", x)
    assert y.shape == (7, 6)
    np.testing.assert_allclose(y, y_ref, **tol(np.float32))
    dx, dx_ref = both(K.act_backward, "silu", x, None, g)
    assert dx.dtype == np.float32
    np.testing.assert_allclose(dx, dx_ref, **tol(np.float32))


def test_aliases():
    x = np.linspace(-3, 3, 13)
    np.testing.assert_array_equal(K.act_forward("gelu_tanh", x), K.act_forward("gelu", x, approximate="tanh"))
    np.testing.assert_array_equal(K.act_forward("swish", x), K.act_forward("silu", x))
    np.testing.assert_array_equal(K.act_forward("leaky_relu", x, slope=0.3),
                                  K.act_forward("leaky_relu", x, negative_slope=0.3))


def test_errors():
    x = np.zeros(3)
    with pytest.raises(ValueError, match="unknown activation 'mish'.*relu"):
        K.act_forward("mish", x)
    with pytest.raises(TypeError, match="'relu' got unexpected parameter.*alpha"):
        K.act_forward("relu", x, alpha=1.0)
    with pytest.raises(ValueError, match="approximate must be"):
        K.act_forward("gelu", x, approximate="fast")
    with pytest.raises(ValueError, match="beta must be non-zero"):
        K.act_forward("softplus", x, beta=0)
    with pytest.raises(ValueError, match=r"g has shape \(4,\) but x has shape \(3,\)"):
        K.act_backward("tanh", x, None, np.zeros(4))


def test_integer_input_uses_reference():
    x = np.array([-2, 0, 3])
    assert K.select_impl(x)[0] == "reference"
    np.testing.assert_array_equal(K.act_forward("relu", x), [0, 0, 3])
    assert set(A.ACTIVATIONS) >= {"relu", "gelu", "gelu_tanh", "silu", "softplus"}
