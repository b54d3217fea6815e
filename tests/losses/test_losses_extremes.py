"""Finite losses and finite gradients at extreme inputs, in float32 and float64:
|x| ∈ {20, 40, 120, 1e4} for logits/scores/means, logvar at both ends of [−30, 20]."""
from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from lossutil import FAST, SLOW, T, all_finite, dtypes, grads, reductions

import tinygen as tg
import tinygen.losses as L

MAGNITUDES = (20.0, 40.0, 120.0, 1e4)
LOGVARS = (-30.0, 20.0)


@st.composite
def extreme(draw, n=8):
    dt = draw(dtypes)
    mags = np.array(draw(st.lists(st.sampled_from(MAGNITUDES), min_size=n, max_size=n)))
    signs = np.array(draw(st.lists(st.sampled_from([-1.0, 1.0]), min_size=n, max_size=n)))
    lv = np.array(draw(st.lists(st.sampled_from(LOGVARS), min_size=n, max_size=n)))
    z = np.array(draw(st.lists(st.sampled_from([0.0, 0.5, 1.0]), min_size=n, max_size=n)))
    return dt, (mags * signs).reshape(2, n // 2).astype(dt), lv.reshape(2, n // 2).astype(dt), \
        z.reshape(2, n // 2).astype(dt)


def _check(loss, *leaves):
    assert all_finite(loss), loss
    assert all(all_finite(g) for g in grads(loss, *leaves))


@FAST
@given(extreme(), reductions)
def test_logit_losses_finite_at_extremes(data, reduction):
    dt, x, _, z = data
    xt, zt, ft = T(x, grad=True), T(z, grad=True), T(-x[:, ::-1].copy(), grad=True)
    _check(L.bce_with_logits(xt, zt, reduction), xt, zt)
    _check(L.bce_with_logits(xt, zt, reduction, pos_weight=np.full(x.shape[-1], 3.0, dt)), xt, zt)
    _check(L.bce(xt.sigmoid(), zt, reduction), xt, zt)           # σ(x) rounds to exactly 0 or 1 here
    _check(L.gan_d_loss(xt, ft, label_smoothing=0.1, reduction=reduction), xt, ft)
    _check(L.gan_g_loss(xt, reduction=reduction), xt)
    _check(L.gan_g_loss(xt, saturating=True, reduction=reduction), xt)
    _check(L.wgan_d_loss(xt, ft, reduction), xt, ft)
    _check(L.wgan_g_loss(xt, reduction), xt)
    _check(L.hinge_d_loss(xt, ft, reduction), xt, ft)
    _check(L.hinge_g_loss(xt, reduction), xt)
    _check(L.mse(xt, ft, reduction), xt, ft)


@FAST
@given(extreme(), reductions, st.floats(0.0, 1.0))
def test_cross_entropy_finite_at_extremes(data, reduction, eps):
    dt, x, _, _ = data
    xt = T(x, grad=True)
    labels = np.array([0, x.shape[1] - 1])
    loss = L.cross_entropy(xt, labels, reduction, label_smoothing=eps)
    _check(loss, xt)
    assert np.all(loss.numpy() >= 0)


@FAST
@given(extreme(), reductions)
def test_gaussian_losses_finite_at_extreme_logvar(data, reduction):
    dt, x, lv, _ = data
    mt, vt = T(x, grad=True), T(lv, grad=True)
    m2, v2 = T(-x[::-1].copy(), grad=True), T(lv[::-1].copy(), grad=True)
    _check(L.gaussian_nll(T(-x), mt, vt, reduction), mt, vt)
    _check(L.kl_normal(mt, vt, reduction), mt, vt)
    _check(L.kl_normal_normal(mt, vt, m2, v2, reduction), mt, vt, m2, v2)
    assert np.all(L.kl_normal_normal(mt, vt, m2, v2, "none").numpy() >= 0)
    assert np.all(L.kl_normal(mt, vt, "none").numpy() >= 0)


@FAST
@given(extreme(), st.integers(0, 1000))
def test_gradient_penalty_finite_at_extremes(data, seed):
    dt, x, _, _ = data
    w = T(np.sign(x[0]) * 1e3, grad=True)      # a steep critic on extreme inputs
    tg.manual_seed(seed)
    gp = L.gradient_penalty(lambda v: (v @ w).tanh() * 40, T(x), T(-x))
    _check(gp, w)


@pytest.mark.slow
@SLOW
@given(extreme(), reductions)
def test_logit_losses_finite_at_extremes_many(data, reduction):
    test_logit_losses_finite_at_extremes.hypothesis.inner_test(data, reduction)
