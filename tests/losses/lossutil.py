"""Shared strategies and helpers for the property tests of tinygen.losses.

Every property test draws its dtype (float32 or float64), its shape and its values. Default
runs use FAST (a few dozen examples per property) so the whole losses suite stays well under a
minute on two cores; tests marked ``@pytest.mark.slow`` use SLOW (``pytest -m slow``).
"""
from __future__ import annotations

import numpy as np
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

import tinygen as tg

_SUPPRESS = [HealthCheck.too_slow, HealthCheck.function_scoped_fixture]
FAST = settings(max_examples=30, deadline=None, suppress_health_check=_SUPPRESS)
FEW = settings(max_examples=15, deadline=None, suppress_health_check=_SUPPRESS)
SLOW = settings(max_examples=500, deadline=None, suppress_health_check=_SUPPRESS)

DTYPES = (np.float32, np.float64)
dtypes = st.sampled_from(DTYPES)
REDUCTIONS = ("mean", "sum", "none")
reductions = st.sampled_from(REDUCTIONS)

# small shapes: gradcheck perturbs every element, twice per element
shapes = st.lists(st.integers(1, 4), min_size=1, max_size=3).map(tuple)
batch_shapes = st.lists(st.integers(1, 4), min_size=2, max_size=3).map(tuple)   # (batch..., latent)


def _elements(dtype, lo, hi):
    width = 32 if np.dtype(dtype) == np.float32 else 64
    return st.floats(lo, hi, allow_nan=False, allow_infinity=False, width=width)


def arr(dtype, shape, lo=-10.0, hi=10.0):
    """A strategy for arrays of ``dtype`` and ``shape`` with values in [lo, hi]."""
    return arrays(dtype, shape, elements=_elements(dtype, lo, hi))


@st.composite
def arrays_like(draw, n, lo=-10.0, hi=10.0, dtype=None, shape=None):
    """(dtype, [n arrays of one drawn shape])."""
    dt = dtype if dtype is not None else draw(dtypes)
    sh = shape if shape is not None else draw(shapes)
    return dt, [draw(arr(dt, sh, lo, hi)) for _ in range(n)]


def T(a, dtype=None, grad=False):
    """A leaf Tensor holding a copy of ``a``."""
    return tg.Tensor(np.array(a, dtype=dtype if dtype is not None else np.asarray(a).dtype), requires_grad=grad)


def T64(a, grad=True):
    return T(a, np.float64, grad)


def tol(dtype):
    """(rtol, atol) for comparing two ways of computing one value in ``dtype``."""
    return (2e-5, 1e-6) if np.dtype(dtype) == np.float32 else (1e-11, 1e-13)


def close(a, b, dtype, scale=1.0):
    rtol, atol = tol(dtype)
    a = a.numpy() if isinstance(a, tg.Tensor) else np.asarray(a)
    b = b.numpy() if isinstance(b, tg.Tensor) else np.asarray(b)
    np.testing.assert_allclose(np.asarray(a, np.float64), np.asarray(b, np.float64),
                               rtol=rtol * scale, atol=atol * scale)


def grads(loss, *tensors):
    """Gradients of a scalar (or summed) loss with respect to ``tensors`` as NumPy arrays (zeros if unused)."""
    s = loss if loss.size == 1 else loss.sum()
    gs = tg.grad(s.reshape(()), list(tensors), allow_unused=True)
    return [np.zeros(t.shape, t.dtype) if g is None else g.numpy() for g, t in zip(gs, tensors)]


def all_finite(*xs):
    return all(np.all(np.isfinite(x.numpy() if isinstance(x, tg.Tensor) else x)) for x in xs)


def sigmoid_np(x):
    x = np.asarray(x, np.float64)
    return np.where(x >= 0, 1 / (1 + np.exp(-np.abs(x))), np.exp(-np.abs(x)) / (1 + np.exp(-np.abs(x))))


def softplus_np(x):
    x = np.asarray(x, np.float64)
    return np.maximum(x, 0) + np.log1p(np.exp(-np.abs(x)))
