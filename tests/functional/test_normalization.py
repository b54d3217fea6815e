"""batch_norm and layer_norm: values and running statistics by hand, gradients, second derivatives."""
from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings, strategies as st

import tinygen as tg
import tinygen.functional as F
from futil import dev, host, leaves_unmodified, t64


@st.composite
def bn_cases(draw, max_side=3):
    n = draw(st.integers(1, 3))
    c = draw(st.integers(1, 3))
    spatial = draw(st.lists(st.integers(1, max_side), min_size=0, max_size=2))
    if n * int(np.prod(spatial)) < 2:        # training needs > 1 value per channel
        n = 2
    return (n, c) + tuple(spatial), draw(st.integers(0, 2**31 - 1)), draw(st.booleans())


def _bn_ref(x, rm, rv, w, b, training, momentum, eps):
    axes = (0,) + tuple(range(2, x.ndim))
    shp = (1, -1) + (1,) * (x.ndim - 2)
    if training:
        mean, var = x.mean(axis=axes), x.var(axis=axes)
        m = x.size // x.shape[1]
        rm_new = (1 - momentum) * rm + momentum * mean
        rv_new = (1 - momentum) * rv + momentum * x.var(axis=axes, ddof=1)
        assert np.allclose(x.var(axis=axes, ddof=1), var * m / (m - 1))
    else:
        mean, var, rm_new, rv_new = rm, rv, rm, rv
    y = (x - mean.reshape(shp)) / np.sqrt(var.reshape(shp) + eps) * w.reshape(shp) + b.reshape(shp)
    return y, rm_new, rv_new


@settings(max_examples=25, deadline=None)
@given(case=bn_cases())
def test_batch_norm_values_running_stats_and_grads(case):
    shape, seed, training = case
    r = np.random.default_rng(seed)
    c = shape[1]
    x = r.standard_normal(shape) * 2 + 1
    w, b = r.standard_normal(c), r.standard_normal(c)
    rm, rv = r.standard_normal(c), r.uniform(0.5, 2, c)
    rm_t, rv_t = tg.Tensor(rm.copy()), dev(rv.copy())     # a Tensor buffer and a plain array
    y = F.batch_norm(t64(x), rm_t, rv_t, t64(w), t64(b), training=training, momentum=0.2, eps=1e-3)
    y_ref, rm_ref, rv_ref = _bn_ref(x, rm, rv, w, b, training, 0.2, 1e-3)
    np.testing.assert_allclose(y.numpy(), y_ref, rtol=1e-11, atol=1e-12)
    np.testing.assert_allclose(rm_t.numpy(), rm_ref, rtol=1e-12, atol=1e-14)
    np.testing.assert_allclose(host(rv_t), rv_ref, rtol=1e-12, atol=1e-14)

    def fn(x, w, b):
        return F.batch_norm(x, dev(rm), dev(rv), w, b, training=training, eps=1e-3)
    assert tg.gradcheck(fn, [t64(x), t64(w), t64(b)])
    assert tg.gradcheck(lambda x: F.batch_norm(x, None, None, training=True), [t64(x)])


@settings(max_examples=10, deadline=None)
@given(case=bn_cases(max_side=2))
def test_batch_norm_gradgrad(case):
    shape, seed, training = case
    r = np.random.default_rng(seed)
    c = shape[1]
    x = r.standard_normal(shape)
    w, b = r.standard_normal(c), r.standard_normal(c)
    rm, rv = np.zeros(c), np.ones(c)
    fn = lambda x, w, b: F.batch_norm(x, dev(rm), dev(rv), w, b, training=training) ** 2
    assert tg.gradgradcheck(fn, [t64(x), t64(w), t64(b)])


def test_batch_norm_analytic_backward_formula():
    r = np.random.default_rng(2)
    x = r.standard_normal((5, 3))
    w = r.standard_normal(3)
    g = r.standard_normal((5, 3))
    xt = t64(x)
    F.batch_norm(xt, None, None, tg.Tensor(w), None, training=True, eps=1e-5).backward(tg.Tensor(g))
    n = 5
    sigma = np.sqrt(x.var(0) + 1e-5)
    xhat = (x - x.mean(0)) / sigma
    ref = (1 / n) * w / sigma * (n * g - g.sum(0) - xhat * (g * xhat).sum(0))
    np.testing.assert_allclose(xt.grad.numpy(), ref, rtol=1e-12)
    assert type(F.batch_norm(xt, None, None, training=True).grad_fn).__name__ == "BatchNorm"


def test_batch_norm_input_unmodified_and_errors():
    x = np.random.default_rng(0).standard_normal((4, 2, 3, 3))
    leaves_unmodified(lambda x: F.batch_norm(x, None, None, training=True), x)
    with pytest.raises(ValueError, match="more than 1 value per channel"):
        F.batch_norm(np.zeros((1, 3)), None, None, training=True)
    with pytest.raises(ValueError, match=r"batch_norm: weight must have shape \(2,\)"):
        F.batch_norm(x, None, None, np.ones(3), training=True)
    with pytest.raises(ValueError, match="batch_norm: input must be"):
        F.batch_norm(np.zeros(3), None, None, training=True)
    if tg.get_default_device() == "cpu" and tg.cuda_available():
        with pytest.raises(ValueError, match="batch_norm: running_mean is on cpu"):
            F.batch_norm(tg.Tensor(x, device="cuda"), np.zeros(2), None, training=True)


def test_batch_norm_float32_running_stats():
    x = tg.randn(8, 4, 2, 2, requires_grad=True)
    rm, rv = tg.zeros(4), tg.ones(4)
    y = F.batch_norm(x, rm, rv, tg.ones(4), tg.zeros(4), training=True)
    assert y.dtype == np.float32 and rm.dtype == np.float32
    xd = x.numpy().astype(np.float64)
    np.testing.assert_allclose(rm.numpy(), 0.1 * xd.mean(axis=(0, 2, 3)), rtol=1e-5, atol=1e-7)
    np.testing.assert_allclose(rv.numpy(), 0.9 + 0.1 * xd.var(axis=(0, 2, 3), ddof=1), rtol=1e-5)
    y_eval = F.batch_norm(x, rm, rv, training=False)
    np.testing.assert_allclose(y_eval.numpy(), (xd - rm.numpy()[None, :, None, None])
                               / np.sqrt(rv.numpy()[None, :, None, None] + 1e-5), rtol=1e-5, atol=1e-6)


# --------------------------------------------------------------------------- layer norm
@settings(max_examples=25, deadline=None)
@given(lead=st.lists(st.integers(1, 3), min_size=0, max_size=2), norm=st.lists(st.integers(1, 3), min_size=1,
       max_size=2), affine=st.booleans(), seed=st.integers(0, 2**31 - 1))
def test_layer_norm(lead, norm, affine, seed):
    r = np.random.default_rng(seed)
    shape = tuple(lead) + tuple(norm)
    if int(np.prod(norm)) == 1:
        norm = list(norm)
    x = r.standard_normal(shape) * 3 - 1
    w, b = r.standard_normal(norm), r.standard_normal(norm)
    axes = tuple(range(len(lead), len(shape)))
    ref = (x - x.mean(axis=axes, keepdims=True)) / np.sqrt(x.var(axis=axes, keepdims=True) + 1e-5)
    if affine:
        ref = ref * w + b
        fn = lambda x, w, b: F.layer_norm(x, tuple(norm), w, b)
        inputs = [x, w, b]
    else:
        fn = lambda x: F.layer_norm(x, tuple(norm))
        inputs = [x]
    y = leaves_unmodified(fn, *inputs)
    np.testing.assert_allclose(y.numpy(), ref, rtol=1e-11, atol=1e-12)
    assert tg.gradcheck(fn, [t64(a) for a in inputs])


def test_layer_norm_gradgrad_and_errors():
    r = np.random.default_rng(4)
    fn = lambda x, w, b: F.layer_norm(x, 3, w, b) ** 2
    assert tg.gradgradcheck(fn, [t64(r.standard_normal((2, 3))), t64(r.standard_normal(3)),
                                 t64(r.standard_normal(3))])
    with pytest.raises(ValueError, match="layer_norm: normalized_shape"):
        F.layer_norm(np.zeros((2, 3)), (2,))
    with pytest.raises(ValueError, match="layer_norm: weight"):
        F.layer_norm(np.zeros((2, 3)), 3, np.ones(2))
