"""Properties of the GAN losses: gan_d/g, wgan_d/g, hinge_d/g, gradient_penalty."""
from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from lossutil import (FAST, FEW, SLOW, T, arr, close, dtypes, grads, reductions, shapes, sigmoid_np,
                      softplus_np)

import tinygen as tg
import tinygen.losses as L

RED = {"mean": np.mean, "sum": np.sum, "none": lambda a: a}


@st.composite
def real_fake(draw, lo=-40.0, hi=40.0, same=True):
    dt = draw(dtypes)
    sr = draw(shapes)
    sf = sr if same else draw(shapes)
    return dt, draw(arr(dt, sr, lo, hi)), draw(arr(dt, sf, lo, hi))


def _rel(a, b, dt):
    rtol = 3e-6 if dt == np.float32 else 1e-13
    np.testing.assert_allclose(np.asarray(a.numpy(), np.float64), np.asarray(b, np.float64), rtol=rtol, atol=0)


# ----------------------------------------------------------------------------- original GAN
@FAST
@given(real_fake(), reductions)
def test_gan_g_loss_is_softplus_of_minus_logit_and_saturating_is_minus_softplus(data, reduction):
    dt, f, _ = data
    _rel(L.gan_g_loss(T(f), reduction=reduction), RED[reduction](softplus_np(-f)), dt)
    _rel(L.gan_g_loss(T(f), saturating=True, reduction=reduction), RED[reduction](-softplus_np(f)), dt)
    # gradients: σ(f) − 1 and −σ(f)
    ft = T(f, grad=True)
    (g_ns,) = grads(L.gan_g_loss(ft, reduction="sum"), ft)
    (g_s,) = grads(L.gan_g_loss(ft, saturating=True, reduction="sum"), ft)
    close(g_ns, sigmoid_np(f) - 1, dt)
    close(g_s, -sigmoid_np(f), dt)
    close(g_ns + g_s, -np.ones_like(f), dt)                   # (σ − 1) + (−σ) = −1 everywhere


@FAST
@given(real_fake(same=False), st.floats(0.0, 0.5), st.sampled_from(["mean", "sum"]))
def test_gan_d_loss_is_sum_of_bce_terms_and_smoothing_touches_only_real(data, s, reduction):
    dt, r, f = data
    rt, ft = T(r, grad=True), T(f, grad=True)
    loss = L.gan_d_loss(rt, ft, label_smoothing=s, reduction=reduction)
    want = L.bce_with_logits(T(r), np.full_like(r, 1 - s), reduction) + L.bce_with_logits(T(f), np.zeros_like(f), reduction)
    close(loss, want, dt)
    assert loss.item() >= 0
    base = L.gan_d_loss(rt, ft, reduction=reduction)
    # the difference does not depend on the fake logits at all ...
    diff = loss.numpy().astype(np.float64) - base.numpy()
    real_diff = (L.bce_with_logits(T(r), np.full_like(r, 1 - s), reduction).numpy().astype(np.float64)
                 - L.bce_with_logits(T(r), np.ones_like(r), reduction).numpy())
    close(diff, real_diff, dt, scale=100)
    # ... and the gradient with respect to the fakes is identical with and without smoothing
    _, gf_s = grads(loss, rt, ft)
    _, gf_0 = grads(base, rt, ft)
    np.testing.assert_array_equal(gf_s, gf_0)


@FAST
@given(real_fake(), reductions)
def test_gan_d_loss_none_is_elementwise_sum(data, reduction):
    dt, r, f = data
    none = L.gan_d_loss(T(r), T(f), reduction="none")
    assert none.shape == r.shape
    close(L.gan_d_loss(T(r), T(f), reduction=reduction), RED[reduction](none.numpy().astype(np.float64)), dt, scale=10)


# ----------------------------------------------------------------------------- hinge and wasserstein
@FAST
@given(real_fake(same=False, lo=-5, hi=5))
def test_hinge_and_wgan_identities(data):
    dt, r, f = data
    r64, f64 = r.astype(np.float64), f.astype(np.float64)
    close(L.hinge_d_loss(T(r), T(f)), np.maximum(1 - r64, 0).mean() + np.maximum(1 + f64, 0).mean(), dt)
    assert L.hinge_d_loss(T(r), T(f)).item() >= 0
    close(L.hinge_g_loss(T(f)), -f64.mean(), dt)
    close(L.wgan_d_loss(T(r), T(f)), f64.mean() - r64.mean(), dt)
    close(L.wgan_g_loss(T(f)), -f64.mean(), dt)
    # a perfectly separated discriminator pays no hinge loss
    sep_r, sep_f = np.abs(r) + 1, -np.abs(f) - 1
    assert L.hinge_d_loss(T(sep_r), T(sep_f)).item() == 0
    # the generator's wgan and hinge losses coincide; the critic's wgan loss is antisymmetric
    np.testing.assert_array_equal(L.wgan_g_loss(T(f)).numpy(), L.hinge_g_loss(T(f)).numpy())
    close(L.wgan_d_loss(T(r), T(f)), -L.wgan_d_loss(T(f), T(r)).numpy(), dt)
    assert L.wgan_d_loss(T(r), T(r)).item() == 0


@FAST
@given(real_fake(lo=-5, hi=5))
def test_hinge_gradients(data):
    dt, r, f = data
    rt, ft = T(r, grad=True), T(f, grad=True)
    gr, gf = grads(L.hinge_d_loss(rt, ft, "sum"), rt, ft)
    np.testing.assert_array_equal(gr, -(r < 1).astype(dt))
    np.testing.assert_array_equal(gf, (f > -1).astype(dt))


# ----------------------------------------------------------------------------- gradient penalty
def linear_critic(w):
    return lambda x: x.reshape(x.shape[0], -1) @ w


@st.composite
def gp_inputs(draw):
    dt = draw(dtypes)
    n = draw(st.integers(1, 4))
    feat = tuple(draw(st.lists(st.integers(1, 3), min_size=1, max_size=3)))
    d = int(np.prod(feat))
    real = draw(arr(dt, (n,) + feat, -3, 3))
    fake = draw(arr(dt, (n,) + feat, -3, 3))
    w = draw(arr(dt, (d,), -2, 2))
    return dt, real, fake, w


@FAST
@given(gp_inputs(), st.integers(0, 2**31 - 1))
def test_gradient_penalty_zero_for_unit_norm_linear_critic(data, seed):
    dt, real, fake, w = data
    norm = np.linalg.norm(w.astype(np.float64))
    if norm < 1e-3:
        w = np.ones_like(w)
        norm = np.sqrt(w.size)
    wu = T((w / norm).astype(dt), grad=True)
    tg.manual_seed(seed)
    gp = L.gradient_penalty(linear_critic(wu), T(real), T(fake))
    assert gp.dtype == dt
    assert 0 <= gp.item() <= (1e-12 if dt == np.float32 else 1e-24)
    (gw,) = grads(gp, wu)
    assert np.all(np.abs(gw) <= (1e-5 if dt == np.float32 else 1e-11))


@FAST
@given(gp_inputs(), st.integers(0, 2**31 - 1), st.floats(0.5, 20.0), reductions)
def test_gradient_penalty_of_linear_critic_is_norm_minus_one_squared(data, seed, weight, reduction):
    """For C(x) = ⟨w, x⟩ the gradient is w at every x̂, so GP = weight·(‖w‖ − 1)² whatever ε."""
    dt, real, fake, w = data
    wt = T(w, grad=True)
    tg.manual_seed(seed)
    gp = L.gradient_penalty(linear_critic(wt), T(real), T(fake), weight=weight, reduction=reduction)
    w64 = w.astype(np.float64)
    nrm = np.sqrt(np.sum(w64 ** 2) + 1e-12)
    per = weight * (nrm - 1) ** 2 * np.ones(real.shape[0])
    close(gp, RED[reduction](per), dt, scale=10)
    (gw,) = grads(gp, wt)
    k = {"mean": 1.0, "sum": real.shape[0], "none": real.shape[0]}[reduction]
    close(gw, k * weight * 2 * (nrm - 1) * w64 / nrm, dt, scale=100)


@FAST
@given(gp_inputs(), st.integers(0, 2**31 - 1))
def test_gradient_penalty_finite_at_zero_gradient_norm(data, seed):
    """A constant critic has ∇ = 0: the safe norm keeps GP ≈ 1 and its gradient finite (0/0 otherwise)."""
    dt, real, fake, _ = data
    w0 = T(np.zeros(real[0].size, dt), grad=True)
    tg.manual_seed(seed)
    gp = L.gradient_penalty(linear_critic(w0), T(real), T(fake))
    (gw,) = grads(gp, w0)
    assert np.isfinite(gp.item()) and abs(gp.item() - 1) < 1e-5
    assert np.all(np.isfinite(gw))
    # a critic that ignores its input altogether
    b = T(np.array([0.5], dt), grad=True)
    gp2 = L.gradient_penalty(lambda x: b * 1.0, T(real), T(fake))
    assert np.isfinite(gp2.item()) and abs(gp2.item() - 1) < 1e-5


@FEW
@given(gp_inputs(), st.integers(0, 2**31 - 1))
def test_gradient_penalty_gradcheck_through_nonlinear_critic(data, seed):
    """GP of C(x) = Σ tanh(x ⊙ a)·b differentiates (second order) to a and b correctly."""
    _, real, fake, w = data
    # |a| ≥ 0.1 keeps ‖∇‖ well above the 1e-6 scale of sqrt(·+1e-12), where central differences
    # with step 1e-6 stop resolving the curvature (a conditioning limit of the check, not a bug)
    a0 = w.astype(np.float64) * 0.5
    a = T(np.where(np.abs(a0) < 0.1, 0.1, a0), np.float64, grad=True)
    b = T(np.linspace(-1, 1, w.size), np.float64, grad=True)

    def fn(a, b):
        tg.manual_seed(seed)
        critic = lambda x: (x.reshape(x.shape[0], -1) * a).tanh() @ b  # noqa: E731
        return L.gradient_penalty(critic, T(real, np.float64), T(fake, np.float64))

    assert tg.gradcheck(fn, [a, b], atol=1e-6, rtol=1e-4)


@FAST
@given(gp_inputs())
def test_gradient_penalty_is_reproducible_under_manual_seed(data):
    dt, real, fake, w = data
    critic = lambda x: (x.reshape(x.shape[0], -1) * T(w)).tanh().sum(axis=1)  # noqa: E731
    tg.manual_seed(7)
    a = L.gradient_penalty(critic, T(real), T(fake), reduction="none").numpy()
    tg.manual_seed(7)
    b = L.gradient_penalty(critic, T(real), T(fake), reduction="none").numpy()
    np.testing.assert_array_equal(a, b)
    assert a.shape == (real.shape[0],)


@pytest.mark.slow
@SLOW
@given(gp_inputs(), st.integers(0, 2**31 - 1))
def test_gradient_penalty_unit_norm_many(data, seed):
    test_gradient_penalty_zero_for_unit_norm_linear_critic.hypothesis.inner_test(data, seed)
