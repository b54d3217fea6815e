"""Every loss, every reduction: "sum" = "none".sum(), "mean" = "none".mean() (per example for the
KLs), and float64 gradcheck; gradgradcheck for the losses used under create_graph."""
from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from lossutil import FAST, FEW, SLOW, T, close, dtypes, reductions

import tinygen as tg
import tinygen.losses as L


def _away_from(a, points, gap=0.05):
    """Move values that sit within ``gap`` of a kink (finite differences straddle it)."""
    for p in points:
        near = np.abs(a - p) < gap
        a = np.where(near, p + np.where(a >= p, gap, -gap) * 2, a)
    return a


def _labels(shape):
    """Integer labels for logits of ``shape`` (N, C, d...): (N, d...), cycling through the classes."""
    lab_shape = (shape[0],) + tuple(shape[2:])
    return (np.arange(int(np.prod(lab_shape))) * 7 % shape[1]).reshape(lab_shape)


def _linear_gp(reduction):
    def fn(real, fake, w):
        tg.manual_seed(3)
        return L.gradient_penalty(lambda x: (x.reshape(x.shape[0], -1) @ w).tanh(), real, fake,
                                  weight=2.0, reduction=reduction)
    return fn


# name -> (loss(*inputs, reduction), inputs(rng, dtype, shape) -> list of arrays, which inputs are differentiable)
CASES = {
    "mse": (lambda x, y, r: L.mse(x, y, r),
            lambda g, s: [g.normal(size=s) * 3, g.normal(size=s) * 3], (0, 1)),
    "bce": (lambda p, z, r: L.bce(p, z, r),
            lambda g, s: [g.uniform(0.05, 0.95, s), g.uniform(0.02, 0.98, s)], (0, 1)),
    "bce_with_logits": (lambda x, z, r: L.bce_with_logits(x, z, r),
                        lambda g, s: [g.normal(size=s) * 4, g.uniform(0.02, 0.98, s)], (0, 1)),
    "bce_with_logits_pos_weight": (lambda x, z, w, r: L.bce_with_logits(x, z, r, pos_weight=w),
                                   lambda g, s: [g.normal(size=s) * 4, g.uniform(0.02, 0.98, s),
                                                 g.uniform(0.5, 3, s[-1:])], (0, 1, 2)),
    "cross_entropy": (lambda x, r: L.cross_entropy(x, _labels(x.shape), r, label_smoothing=0.1),
                      lambda g, s: [g.normal(size=s) * 3], (0,)),
    "gaussian_nll": (lambda x, m, v, r: L.gaussian_nll(x, m, v, r),
                     lambda g, s: [g.normal(size=s), g.normal(size=s), g.uniform(-3, 3, s)], (0, 1, 2)),
    "kl_normal": (lambda m, v, r: L.kl_normal(m, v, r),
                  lambda g, s: [g.normal(size=s) * 2, g.uniform(-4, 4, s)], (0, 1)),
    "kl_normal_normal": (lambda m1, v1, m2, v2, r: L.kl_normal_normal(m1, v1, m2, v2, r),
                         lambda g, s: [g.normal(size=s), g.uniform(-3, 3, s), g.normal(size=s),
                                       g.uniform(-3, 3, s)], (0, 1, 2, 3)),
    "gan_d_loss": (lambda a, b, r: L.gan_d_loss(a, b, label_smoothing=0.1, reduction=r),
                   lambda g, s: [g.normal(size=s) * 4, g.normal(size=s) * 4], (0, 1)),
    "gan_g_loss": (lambda a, r: L.gan_g_loss(a, reduction=r),
                   lambda g, s: [g.normal(size=s) * 4], (0,)),
    "gan_g_loss_saturating": (lambda a, r: L.gan_g_loss(a, saturating=True, reduction=r),
                              lambda g, s: [g.normal(size=s) * 4], (0,)),
    "wgan_d_loss": (lambda a, b, r: L.wgan_d_loss(a, b, r),
                    lambda g, s: [g.normal(size=s), g.normal(size=s)], (0, 1)),
    "wgan_g_loss": (lambda a, r: L.wgan_g_loss(a, r), lambda g, s: [g.normal(size=s)], (0,)),
    "hinge_d_loss": (lambda a, b, r: L.hinge_d_loss(a, b, r),
                     lambda g, s: [_away_from(g.normal(size=s) * 2, [1.0]),
                                   _away_from(g.normal(size=s) * 2, [-1.0])], (0, 1)),
    "hinge_g_loss": (lambda a, r: L.hinge_g_loss(a, r), lambda g, s: [g.normal(size=s)], (0,)),
    "gradient_penalty": (_linear_gp, None, (2,)),
}
# second derivatives: what runs inside gradient penalties / Hessian-vector products
SMOOTH = ["mse", "bce", "bce_with_logits", "bce_with_logits_pos_weight", "cross_entropy", "gaussian_nll",
          "kl_normal", "kl_normal_normal", "gan_d_loss", "gan_g_loss", "gan_g_loss_saturating"]

small_shapes = st.lists(st.integers(1, 3), min_size=2, max_size=3).map(tuple)


def make(name, seed, dt, shape):
    g = np.random.default_rng(seed)
    fn, gen, diff = CASES[name]
    if name == "gradient_penalty":
        d = int(np.prod(shape[1:]))
        arrays = [g.normal(size=shape), g.normal(size=shape), g.normal(size=d) * 0.7]
        return (lambda *a: fn(a[-1])(*a[:-1])), [a.astype(dt) for a in arrays], diff
    return fn, [a.astype(dt) for a in gen(g, shape)], diff


def leaves(arrays, diff, dtype=None):
    return [T(a, dtype, grad=i in diff) for i, a in enumerate(arrays)]


@FAST
@given(st.sampled_from(sorted(CASES)), st.integers(0, 2**32 - 1), dtypes, small_shapes)
def test_sum_and_mean_are_reductions_of_none(name, seed, dt, shape):
    fn, arrays, diff = make(name, seed, dt, shape)
    ins = leaves(arrays, diff)
    none = fn(*ins, "none").numpy().astype(np.float64)
    s = fn(*ins, "sum")
    m = fn(*ins, "mean")
    assert s.shape == () and m.shape == () and s.dtype == m.dtype == dt
    scale = 1 + np.abs(none).sum()
    close(s, none.sum(), dt, scale=10 * scale)
    close(m, none.mean(), dt, scale=10 * scale)


@FAST
@given(st.sampled_from(sorted(CASES)), reductions, st.integers(0, 2**32 - 1), small_shapes)
def test_gradcheck_every_loss_every_reduction(name, reduction, seed, shape):
    fn, arrays, diff = make(name, seed, np.float64, shape)
    ins = leaves(arrays, diff, np.float64)
    assert tg.gradcheck(lambda *a: fn(*a, reduction), ins, atol=1e-6, rtol=1e-4)


@FEW
@given(st.sampled_from(SMOOTH), reductions, st.integers(0, 2**32 - 1), small_shapes)
def test_gradgradcheck_smooth_losses(name, reduction, seed, shape):
    fn, arrays, diff = make(name, seed, np.float64, shape)
    ins = leaves(arrays, diff, np.float64)
    assert tg.gradgradcheck(lambda *a: fn(*a, reduction), ins, atol=1e-6, rtol=1e-4)


@pytest.mark.parametrize("name", sorted(CASES))
def test_every_loss_is_covered_with_every_reduction(name):
    """Deterministic sweep so that every (loss, reduction) pair is checked in every CI run,
    whatever hypothesis happens to draw above."""
    for reduction in ("mean", "sum", "none"):
        fn, arrays, diff = make(name, 1, np.float64, (2, 3))
        assert tg.gradcheck(lambda *a: fn(*a, reduction), leaves(arrays, diff, np.float64), atol=1e-6, rtol=1e-4)
        if name in SMOOTH:
            assert tg.gradgradcheck(lambda *a: fn(*a, reduction), leaves(arrays, diff, np.float64),
                                    atol=1e-6, rtol=1e-4)


@pytest.mark.slow
@SLOW
@given(st.sampled_from(sorted(CASES)), reductions, st.integers(0, 2**32 - 1), small_shapes)
def test_gradcheck_many(name, reduction, seed, shape):
    test_gradcheck_every_loss_every_reduction.hypothesis.inner_test(name, reduction, seed, shape)
