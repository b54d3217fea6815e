"""Batch-norm kernels: kernel == float64 reference within a few ulps, formulas by hand, and the
autograd op gives the same values and gradients with the kernels on and off."""
import numpy as np
import pytest
from hypothesis import given, settings, strategies as st

import tinygen as tg
import tinygen.functional as F
import tinygen.kernels as K

from .kutil import both, dtypes, needs_numba

shapes = st.one_of(
    st.tuples(st.integers(1, 5), st.integers(1, 4)),
    st.tuples(st.integers(1, 4), st.integers(1, 4), st.integers(1, 20)),
    st.tuples(st.integers(1, 4), st.integers(1, 4), st.integers(1, 9), st.integers(1, 9)),
)


@needs_numba
@settings(max_examples=40, deadline=None)
@given(shape=shapes, dtype=dtypes, seed=st.integers(0, 2**16), affine=st.booleans())
def test_kernel_matches_reference(shape, dtype, seed, affine):
    r = np.random.default_rng(seed)
    x = (r.standard_normal(shape) * 3 + 2).astype(dtype)
    g = r.standard_normal(shape).astype(dtype)
    c = shape[1]
    w = r.standard_normal(c).astype(dtype) if affine else None
    b = r.standard_normal(c).astype(dtype) if affine else None
    (y, mean, var, istd), (y_r, mean_r, var_r, istd_r) = both(K.batch_norm_forward, x, w, b, 1e-3)
    assert y.dtype == dtype and y.shape == shape
    np.testing.assert_allclose(mean, mean_r, rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(var, var_r, rtol=1e-11, atol=1e-12)
    rtol = 2e-6 if dtype == np.float32 else 1e-12
    np.testing.assert_allclose(y, y_r, rtol=rtol, atol=rtol * 10)
    fused, ref = both(K.batch_norm_backward, x, g, w, mean, istd)
    for a, e in zip(fused, ref):
        if e is None:
            assert a is None
            continue
        assert a.dtype == dtype
        np.testing.assert_allclose(a, e, rtol=rtol * 10, atol=rtol * 10 * max(1, np.abs(e).max()))


def test_by_hand():
    x = np.array([[1.0, 10.0], [3.0, 30.0]])
    y, mean, var, istd = K.batch_norm_forward(x, None, None, 0.0)
    np.testing.assert_allclose(mean, [2, 20])
    np.testing.assert_allclose(var, [1, 100])
    np.testing.assert_allclose(y, [[-1, -1], [1, 1]])
    gx, gw, gb = K.batch_norm_backward(x, np.array([[1.0, 0.0], [0.0, 0.0]]), np.array([2.0, 1.0]), mean, istd)
    np.testing.assert_allclose(gb, [1, 0])
    np.testing.assert_allclose(gw, [-1, 0])          # Σ g x̂
    np.testing.assert_allclose(gx, [[0, 0], [0, 0]], atol=1e-15)   # ĝ − mean ĝ − x̂ mean(ĝ x̂) = 0 here


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("shape", [(8, 3), (6, 4, 5, 3)])
def test_autograd_op_with_kernels_on_and_off(dtype, shape):
    r = np.random.default_rng(1)
    xa = (r.standard_normal(shape) * 2 + 1).astype(dtype)
    ga = r.standard_normal(shape).astype(dtype)
    c = shape[1]

    def run(fused_fwd, fused_bwd):
        x = tg.tensor(xa, requires_grad=True)
        w = tg.tensor(r.standard_normal(c).astype(dtype) * 0 + 1.5, requires_grad=True)
        b = tg.tensor(np.full(c, 0.25, dtype), requires_grad=True)
        rm, rv = tg.tensor(np.zeros(c, dtype)), tg.tensor(np.ones(c, dtype))
        with K.use_fused(fused_fwd):
            y = F.batch_norm(x, rm, rv, w, b, training=True, momentum=0.3)
        with K.use_fused(fused_bwd):
            y.backward(tg.tensor(ga))
        return [y.numpy(), x.grad.numpy(), w.grad.numpy(), b.grad.numpy(), rm.numpy(), rv.numpy()]

    ref = run(False, False)
    rtol = 1e-5 if dtype == np.float32 else 1e-12
    for fwd, bwd in ((True, True), (True, False)):
        for a, e in zip(run(fwd, bwd), ref):
            assert a.dtype == dtype
            np.testing.assert_allclose(a, e, rtol=rtol, atol=rtol)
