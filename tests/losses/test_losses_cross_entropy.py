"""Properties of cross_entropy."""
from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from lossutil import FAST, SLOW, T, arr, close, dtypes, grads, reductions

import tinygen.functional as F
import tinygen.losses as L


def log_softmax_np(x, axis=1):
    x = np.asarray(x, np.float64)
    m = x.max(axis=axis, keepdims=True)
    return x - m - np.log(np.exp(x - m).sum(axis=axis, keepdims=True))


@st.composite
def ce_inputs(draw, lo=-50.0, hi=50.0, spatial=False):
    dt = draw(dtypes)
    n = draw(st.integers(1, 4))
    c = draw(st.integers(1, 5))
    extra = tuple(draw(st.lists(st.integers(1, 3), min_size=1, max_size=2))) if spatial else ()
    x = draw(arr(dt, (n, c) + extra, lo, hi))
    m = n * int(np.prod(extra, dtype=int))
    y = np.asarray(draw(st.lists(st.integers(0, c - 1), min_size=m, max_size=m)), np.int64)
    y = y.reshape((n,) + extra)
    return dt, x, y


@FAST
@given(ce_inputs(), reductions)
def test_cross_entropy_is_minus_log_softmax_at_label(data, reduction):
    dt, x, y = data
    per = L.cross_entropy(T(x), y, "none")
    want = -log_softmax_np(x)[np.arange(len(y)), y]
    close(per, want, dt, scale=100)
    # and exactly −F.log_softmax gathered at the label
    lsm = F.log_softmax(T(x), axis=1).numpy()
    np.testing.assert_array_equal(per.numpy(), -lsm[np.arange(len(y)), y])
    got = L.cross_entropy(T(x), y, reduction).numpy()
    assert np.all(got >= 0) and np.all(np.isfinite(got))


@FAST
@given(ce_inputs(lo=-20, hi=20), st.floats(-1e3, 1e3))
def test_cross_entropy_invariant_to_shifting_a_row(data, shift):
    dt, x, y = data
    a = L.cross_entropy(T(x), y, "none").numpy().astype(np.float64)
    b = L.cross_entropy(T((x + dt(shift)).astype(dt)), y, "none").numpy().astype(np.float64)
    # the shift itself is rounded in dt, so compare at the scale of |x| + |shift|
    ulp = np.finfo(dt).eps * (np.abs(x).max() + abs(shift) + 1)
    np.testing.assert_allclose(a, b, atol=8 * ulp, rtol=0)


@FAST
@given(ce_inputs(lo=-20, hi=20), st.floats(0.0, 1.0))
def test_cross_entropy_gradient_is_softmax_minus_smoothed_onehot(data, eps):
    dt, x, y = data
    n, c = x.shape
    xt = T(x, grad=True)
    (g,) = grads(L.cross_entropy(xt, y, "mean", label_smoothing=eps), xt)
    p = np.exp(log_softmax_np(x))
    q = np.full((n, c), eps / c)
    q[np.arange(n), y] += 1 - eps
    close(g, (p - q) / n, dt, scale=100)


@FAST
@given(ce_inputs(), st.floats(0.0, 1.0), reductions)
def test_cross_entropy_label_smoothing_formula(data, eps, reduction):
    dt, x, y = data
    lsm = log_softmax_np(x)
    want = -(1 - eps) * lsm[np.arange(len(y)), y] - eps * lsm.mean(axis=1)
    want = {"mean": want.mean(), "sum": want.sum(), "none": want}[reduction]
    close(L.cross_entropy(T(x), y, reduction, label_smoothing=eps), want, dt, scale=1000)
    if eps == 0:
        np.testing.assert_array_equal(L.cross_entropy(T(x), y, reduction, label_smoothing=0.0).numpy(),
                                      L.cross_entropy(T(x), y, reduction).numpy())


@FAST
@given(ce_inputs(spatial=True), st.floats(0.0, 0.5), reductions)
def test_cross_entropy_spatial_equals_flattened(data, eps, reduction):
    dt, x, y = data
    c = x.shape[1]
    flat_x = np.moveaxis(x, 1, -1).reshape(-1, c)
    flat_y = y.reshape(-1)
    a = L.cross_entropy(T(x), y, reduction, label_smoothing=eps)
    b = L.cross_entropy(T(flat_x), flat_y, reduction, label_smoothing=eps)
    if reduction == "none":
        assert a.shape == y.shape
        b = b.reshape(y.shape)
    close(a, b, dt, scale=10)


@FAST
@given(ce_inputs())
def test_cross_entropy_unbatched_equals_batch_of_one(data):
    dt, x, y = data
    a = L.cross_entropy(T(x[0]), np.int64(y[0]), "none")
    assert a.shape == ()
    close(a, L.cross_entropy(T(x[:1]), y[:1], "none")[0], dt)


@pytest.mark.slow
@SLOW
@given(ce_inputs(), reductions)
def test_cross_entropy_minus_log_softmax_many(data, reduction):
    test_cross_entropy_is_minus_log_softmax_at_label.hypothesis.inner_test(data, reduction)
