"""Properties of mse and gaussian_nll."""
from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from lossutil import FAST, SLOW, T, arr, arrays_like, close, dtypes, grads, reductions, shapes

import tinygen.losses as L


# ----------------------------------------------------------------------------- mse
@FAST
@given(arrays_like(2), reductions)
def test_mse_nonnegative_symmetric_and_zero_at_optimum(data, reduction):
    dt, (x, y) = data
    lxy = L.mse(T(x), T(y), reduction).numpy()
    lyx = L.mse(T(y), T(x), reduction).numpy()
    assert np.all(lxy >= 0)
    np.testing.assert_array_equal(lxy, lyx)                  # (x − y)² = (y − x)² bit for bit
    np.testing.assert_array_equal(L.mse(T(x), T(x), reduction).numpy(), 0)
    assert lxy.dtype == dt


@FAST
@given(arrays_like(2))
def test_mse_matches_formula_and_gradient(data):
    dt, (x, y) = data
    xt, yt = T(x, grad=True), T(y, grad=True)
    loss = L.mse(xt, yt)
    d = x.astype(np.float64) - y.astype(np.float64)
    close(loss, np.mean(d * d), dt, scale=10)
    gx, gy = grads(loss, xt, yt)
    close(gx, 2 * d / d.size, dt, scale=10)
    close(gy, -2 * d / d.size, dt, scale=10)


# ----------------------------------------------------------------------------- gaussian nll
@st.composite
def nll_inputs(draw):
    dt = draw(dtypes)
    sh = draw(shapes)
    x = draw(arr(dt, sh, -5, 5))
    v = draw(arr(dt, sh, -6, 6))
    delta = draw(arr(dt, sh, -3, 3))
    return dt, x, v, delta


@FAST
@given(nll_inputs())
def test_gaussian_nll_minimized_at_mean_equal_x(data):
    dt, x, v, delta = data
    m_opt = T(x, grad=True)
    at_opt = L.gaussian_nll(T(x), m_opt, T(v), "none")
    (g_opt,) = grads(at_opt, m_opt)
    np.testing.assert_array_equal(g_opt, 0)                  # stationary exactly at mean = x
    close(at_opt, 0.5 * (math.log(2 * math.pi) + v.astype(np.float64)), dt)
    m_other = T((x + delta).astype(dt), grad=True)
    other = L.gaussian_nll(T(x), m_other, T(v), "none")
    assert np.all(other.numpy() >= at_opt.numpy())           # larger (or equal after rounding) elsewhere
    d = (x + delta).astype(dt).astype(np.float64) - x
    bump = 0.5 * d * d * np.exp(-v.astype(np.float64))
    visible = bump > 1e-3 * np.abs(at_opt.numpy()) + 1e-3
    assert np.all(other.numpy()[visible] > at_opt.numpy()[visible])
    (g_other,) = grads(other, m_other)
    assert np.all(np.abs(g_other)[np.abs(d) > 1e-20] > 0)               # gradient non-zero away from the optimum


@FAST
@given(nll_inputs())
def test_gaussian_nll_matches_formula_and_gradients(data):
    dt, x, v, delta = data
    mean = (x + delta).astype(dt)
    xt, mt, vt = T(x, grad=True), T(mean, grad=True), T(v, grad=True)
    loss = L.gaussian_nll(xt, mt, vt, "sum")
    x64, m64, v64 = (a.astype(np.float64) for a in (x, mean, v))
    d = x64 - m64
    close(loss, np.sum(0.5 * (math.log(2 * math.pi) + v64 + d * d * np.exp(-v64))), dt, scale=10)
    gx, gm, gv = grads(loss, xt, mt, vt)
    close(gx, d * np.exp(-v64), dt, scale=10)
    close(gm, -d * np.exp(-v64), dt, scale=10)
    close(gv, 0.5 * (1 - d * d * np.exp(-v64)), dt, scale=10)


@FAST
@given(arrays_like(2, lo=-3, hi=3))
def test_gaussian_nll_logvar_optimum_is_log_squared_residual(data):
    """Over logvar, ½(v + d²e^{−v}) is minimized at e^v = d²: the gradient vanishes there."""
    dt, (x, m) = data
    d2 = (x.astype(np.float64) - m) ** 2
    keep = d2 > 1e-4
    if not keep.any():
        return
    v = np.where(keep, np.log(np.where(keep, d2, 1.0)), 0.0).astype(np.float64)
    vt = T(v, grad=True)
    loss = L.gaussian_nll(T(x, np.float64), T(m, np.float64), vt, "none")
    (gv,) = grads(loss, vt)
    np.testing.assert_allclose(gv[keep], 0, atol=1e-12)


@FAST
@given(dtypes, st.integers(1, 4), st.integers(1, 4), reductions)
def test_gaussian_nll_broadcast_logvar_equals_expanded(dt, n, d, reduction):
    rng = np.random.default_rng(n * 10 + d)
    x, m = rng.standard_normal((2, n, d)).astype(dt)
    v = rng.standard_normal(d).astype(dt)
    a = L.gaussian_nll(T(x), T(m), T(v), reduction)
    b = L.gaussian_nll(T(x), T(m), T(np.broadcast_to(v, (n, d))), reduction)
    close(a, b, dt)


@pytest.mark.slow
@SLOW
@given(arrays_like(2), reductions)
def test_mse_nonnegative_symmetric_zero_many(data, reduction):
    test_mse_nonnegative_symmetric_and_zero_at_optimum.hypothesis.inner_test(data, reduction)


@pytest.mark.slow
@SLOW
@given(nll_inputs())
def test_gaussian_nll_optimum_many(data):
    test_gaussian_nll_minimized_at_mean_equal_x.hypothesis.inner_test(data)
