"""max_pool2d, avg_pool2d, upsample_nearest: values against loops, gradients, second derivatives."""
from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings, strategies as st

import tinygen as tg
import tinygen.functional as F
from futil import leaves_unmodified, t64


def pool_loops(x, k, s, p, how):
    (kh, kw), (sh, sw), (ph, pw) = k, s, p
    n, c, h, w = x.shape
    fill = -np.inf if how == "max" else 0.0
    xp = np.full((n, c, h + 2 * ph, w + 2 * pw), fill)
    xp[:, :, ph:ph + h, pw:pw + w] = x
    ho, wo = (h + 2 * ph - kh) // sh + 1, (w + 2 * pw - kw) // sw + 1
    y = np.zeros((n, c, ho, wo))
    for r in range(ho):
        for q in range(wo):
            win = xp[:, :, r * sh:r * sh + kh, q * sw:q * sw + kw]
            y[:, :, r, q] = win.max(axis=(2, 3)) if how == "max" else win.sum(axis=(2, 3)) / (kh * kw)
    return y


@st.composite
def pool_cases(draw, max_size=6):
    kh, kw = draw(st.integers(1, 3)), draw(st.integers(1, 3))
    stride = draw(st.one_of(st.none(), st.tuples(st.integers(1, 3), st.integers(1, 3))))
    ph, pw = draw(st.integers(0, kh // 2)), draw(st.integers(0, kw // 2))
    n, c = draw(st.integers(1, 2)), draw(st.integers(1, 2))
    h = draw(st.integers(max(1, kh - 2 * ph), max_size))
    w = draw(st.integers(max(1, kw - 2 * pw), max_size))
    seed = draw(st.integers(0, 2**31 - 1))
    return (n, c, h, w), (kh, kw), stride, (ph, pw), seed


@pytest.mark.parametrize("how", ["max", "avg"])
@settings(max_examples=25, deadline=None)
@given(case=pool_cases())
def test_pool_values_and_grads(how, case):
    shape, k, stride, p, seed = case
    x = np.random.default_rng(seed).permutation(np.prod(shape)).reshape(shape) * 0.1  # no ties
    op = F.max_pool2d if how == "max" else F.avg_pool2d
    fn = lambda x: op(x, k, stride, p)
    y = leaves_unmodified(fn, x)
    np.testing.assert_allclose(y.numpy(), pool_loops(x, k, stride or k, p, how), rtol=1e-12, atol=1e-13)
    assert tg.gradcheck(fn, [t64(x)])


@pytest.mark.parametrize("how", ["max", "avg"])
@settings(max_examples=8, deadline=None)
@given(case=pool_cases(max_size=4))
def test_pool_gradgrad(how, case):
    shape, k, stride, p, seed = case
    x = np.random.default_rng(seed).permutation(np.prod(shape)).reshape(shape) * 0.1
    op = F.max_pool2d if how == "max" else F.avg_pool2d
    assert tg.gradgradcheck(lambda x: op(x, k, stride, p) ** 2, [t64(x)])


def test_max_pool_routes_to_argmax_with_overlap():
    x = t64(np.array([[[[1.0, 5.0, 2.0], [0.0, 3.0, 4.0], [9.0, 1.0, 0.0]]]]))
    y = F.max_pool2d(x, 2, stride=1)
    np.testing.assert_array_equal(y.numpy(), [[[[5.0, 5.0], [9.0, 4.0]]]])
    y.sum().backward()
    np.testing.assert_array_equal(x.grad.numpy(), [[[[0, 2, 0], [0, 0, 1], [1, 0, 0]]]])


def test_max_pool_single_winner_on_ties():
    x = t64(np.ones((1, 1, 2, 2)))
    F.max_pool2d(x, 2).sum().backward()
    assert x.grad.numpy().sum() == 1.0


@settings(max_examples=20, deadline=None)
@given(n=st.integers(1, 2), c=st.integers(1, 2), h=st.integers(1, 4), w=st.integers(1, 4),
       s=st.one_of(st.integers(1, 3), st.tuples(st.integers(1, 3), st.integers(1, 3))), seed=st.integers(0, 2**31 - 1))
def test_upsample_nearest(n, c, h, w, s, seed):
    x = np.random.default_rng(seed).standard_normal((n, c, h, w))
    sh, sw = (s, s) if isinstance(s, int) else s
    y = leaves_unmodified(lambda x: F.upsample_nearest(x, s), x)
    np.testing.assert_array_equal(y.numpy(), np.repeat(np.repeat(x, sh, axis=2), sw, axis=3))
    assert tg.gradcheck(lambda x: F.upsample_nearest(x, s), [t64(x)])
    assert tg.gradgradcheck(lambda x: F.upsample_nearest(x, s) ** 2, [t64(x)])


def test_pool_errors_and_dtype():
    with pytest.raises(ValueError, match="max_pool2d: input must be 4-D"):
        F.max_pool2d(np.zeros((3, 4, 4)), 2)
    with pytest.raises(ValueError, match="avg_pool2d: padding"):
        F.avg_pool2d(np.zeros((1, 1, 4, 4)), 2, padding=2)
    with pytest.raises(ValueError, match="max_pool2d: kernel"):
        F.max_pool2d(np.zeros((1, 1, 2, 2)), 3)
    with pytest.raises(ValueError, match="upsample_nearest"):
        F.upsample_nearest(np.zeros((2, 2)))
    x = tg.randn(2, 3, 4, 4, requires_grad=True)
    for f in (lambda x: F.max_pool2d(x, 2), lambda x: F.avg_pool2d(x, 2), F.upsample_nearest):
        y = f(x)
        assert y.dtype == np.float32
        (g,) = tg.grad(y.sum(), [x])
        assert g.dtype == np.float32
