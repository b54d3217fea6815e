"""Properties of bce_with_logits and bce."""
from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from lossutil import (FAST, SLOW, T, arr, close, dtypes, grads, reductions, shapes, sigmoid_np,
                      softplus_np)

import tinygen.functional as F
import tinygen.losses as L


@st.composite
def logits_targets(draw, lo=-30.0, hi=30.0, hard=False, dtype=None):
    dt = dtype if dtype is not None else draw(dtypes)
    sh = draw(shapes)
    x = draw(arr(dt, sh, lo, hi))
    if hard:
        z = draw(arr(dt, sh, 0, 1)).round().astype(dt)
    else:
        z = draw(arr(dt, sh, 0, 1))
    return dt, x, z


def _rel_close(a, b, dt, rtol=None):
    """Relative comparison for losses that span many orders of magnitude (softplus of ±30)."""
    rtol = rtol if rtol is not None else (3e-6 if dt == np.float32 else 1e-13)
    a = np.asarray(a.numpy() if hasattr(a, "numpy") else a, np.float64)
    b = np.asarray(b, np.float64)
    np.testing.assert_allclose(a, b, rtol=rtol, atol=0)


@FAST
@given(logits_targets(), reductions)
def test_bce_with_logits_nonnegative_and_finite(data, reduction):
    dt, x, z = data
    loss = L.bce_with_logits(T(x), T(z), reduction).numpy()
    assert loss.dtype == dt
    assert np.all(np.isfinite(loss)) and np.all(loss >= 0)


@FAST
@given(logits_targets())
def test_bce_with_logits_is_softplus_at_hard_targets(data):
    """z = 1: ℓ = softplus(−x);  z = 0: ℓ = softplus(x), to relative accuracy (even e^{−30})."""
    dt, x, _ = data
    ones, zeros = np.ones_like(x), np.zeros_like(x)
    _rel_close(L.bce_with_logits(T(x), T(ones), "none"), softplus_np(-x), dt)
    _rel_close(L.bce_with_logits(T(x), T(zeros), "none"), softplus_np(x), dt)
    # and agrees with tinygen.functional.softplus
    close(L.bce_with_logits(T(x), T(ones), "sum"), F.softplus(T(-x)).sum(), dt, scale=10)


@FAST
@given(logits_targets(lo=-15, hi=15, dtype=np.float64))
def test_bce_with_logits_equals_bce_on_sigmoid_float64(data):
    dt, x, z = data
    p = sigmoid_np(x)
    close(L.bce_with_logits(T(x), T(z), "none"), L.bce(T(p), T(z), "none"), dt, scale=1e4)


@FAST
@given(logits_targets())
def test_bce_with_logits_gradients(data):
    """∂ℓ/∂x = σ(x) − z and ∂ℓ/∂z = −x (element-wise)."""
    dt, x, z = data
    xt, zt = T(x, grad=True), T(z, grad=True)
    gx, gz = grads(L.bce_with_logits(xt, zt, "none"), xt, zt)
    close(gx, sigmoid_np(x) - z, dt)
    close(gz, -x.astype(np.float64), dt)


@FAST
@given(logits_targets(lo=-8, hi=8))
def test_bce_with_logits_stationary_at_matching_probability(data):
    """For fixed z ∈ (0, 1), ℓ(x) is minimized where σ(x) = z; every other x costs more."""
    dt, x, z = data
    z64 = np.clip(z.astype(np.float64), 1e-3, 1 - 1e-3)
    x_opt = np.log(z64) - np.log1p(-z64)
    xt = T(x_opt, np.float64, grad=True)
    loss_opt = L.bce_with_logits(xt, T(z64), "none")
    (g,) = grads(loss_opt, xt)
    np.testing.assert_allclose(g, 0, atol=1e-12)
    other = L.bce_with_logits(T(x, np.float64), T(z64), "none").numpy()
    assert np.all(other >= loss_opt.numpy() - 1e-12)


@FAST
@given(logits_targets(lo=-20, hi=20), st.floats(0.1, 5.0))
def test_bce_with_logits_pos_weight(data, w):
    dt, x, z = data
    c = x.shape[-1]
    pw = np.linspace(w, 2 * w, c).astype(dt)
    got = L.bce_with_logits(T(x), T(z), "none", pos_weight=T(pw))
    x64, z64 = x.astype(np.float64), z.astype(np.float64)
    want = pw * z64 * softplus_np(-x64) + (1 - z64) * softplus_np(x64)
    close(got, want, dt, scale=10)
    # pos_weight = 1 is the unweighted loss
    close(L.bce_with_logits(T(x), T(z), "sum", pos_weight=np.ones(c, dt)),
          L.bce_with_logits(T(x), T(z), "sum"), dt, scale=10)


# ----------------------------------------------------------------------------- bce on probabilities
@st.composite
def probs_targets(draw):
    dt = draw(dtypes)
    sh = draw(shapes)
    return dt, draw(arr(dt, sh, 0, 1)), draw(arr(dt, sh, 0, 1))


@FAST
@given(probs_targets(), reductions)
def test_bce_nonnegative_finite_and_clamped(data, reduction):
    dt, p, z = data
    loss = L.bce(T(p), T(z), reduction).numpy()
    assert np.all(np.isfinite(loss)) and np.all(loss >= 0)
    per = L.bce(T(p), T(z), "none").numpy()
    assert np.all(per <= 100 * (1 + 1e-6))                   # each clamped log contributes at most 100


@FAST
@given(probs_targets())
def test_bce_zero_at_hard_targets_and_gradient(data):
    dt, p, z = data
    hard = z.round().astype(dt)
    np.testing.assert_array_equal(L.bce(T(hard), T(hard), "none").numpy(), 0)
    pt = T(p, grad=True)
    (gp,) = grads(L.bce(pt, T(z), "none"), pt)
    p64, z64 = p.astype(np.float64), z.astype(np.float64)
    assert np.all(np.isfinite(gp))
    ok = p64 * (1 - p64) > 1e-3
    close(gp[ok], ((p64 - z64) / np.where(ok, p64 * (1 - p64), 1.0))[ok], dt, scale=100)


@FAST
@given(dtypes, st.sampled_from([0.0, 1.0]))
def test_bce_extreme_probabilities_are_clamped_at_100(dt, p):
    z = 1.0 - p                     # the worst case: p = 0 for z = 1, p = 1 for z = 0
    pt = T(np.array([p, p], dt), grad=True)
    loss = L.bce(pt, T(np.array([z, z], dt)), "none")
    np.testing.assert_array_equal(loss.numpy(), 100.0)
    (g,) = grads(loss, pt)
    assert np.all(np.isfinite(g))


@pytest.mark.slow
@SLOW
@given(logits_targets())
def test_bce_with_logits_softplus_identity_many(data):
    test_bce_with_logits_is_softplus_at_hard_targets.hypothesis.inner_test(data)


@pytest.mark.slow
@SLOW
@given(logits_targets(lo=-15, hi=15, dtype=np.float64))
def test_bce_with_logits_vs_bce_many(data):
    test_bce_with_logits_equals_bce_on_sigmoid_float64.hypothesis.inner_test(data)
