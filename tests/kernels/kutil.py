"""Shared helpers for the kernel tests."""
import contextlib

import numpy as np
import pytest
from hypothesis import strategies as st

import tinygen.kernels as K

DTYPES = (np.float32, np.float64)

needs_numba = pytest.mark.skipif(not K.numba_available(), reason="numba is not installed")


def tol(dtype, scale=1.0):
    """(rtol, atol) for kernel-vs-reference comparisons: a few ulps of the dtype.

    ``scale`` is the magnitude of the terms that cancel in the formula (e.g. max |x|): the
    float32 references round every intermediate to float32, the kernels compute in float64.
    """
    if np.dtype(dtype) == np.float32:
        return dict(rtol=2e-6, atol=5e-7 * scale)
    return dict(rtol=1e-13, atol=1e-15 * scale)


def both(fn, *args, **kwargs):
    """Run ``fn`` with the fused kernels and with the references; assert which ran."""
    with K.use_fused(True):
        fused = fn(*args, **kwargs)
    with K.use_fused(False):
        ref = fn(*args, **kwargs)
    return fused, ref


@contextlib.contextmanager
def numba_threads(n):
    import numba
    previous = numba.get_num_threads()
    numba.set_num_threads(n)
    try:
        yield
    finally:
        numba.set_num_threads(previous)


def max_threads():
    import numba
    return numba.config.NUMBA_NUM_THREADS


dtypes = st.sampled_from(DTYPES)
edge_sizes = st.one_of(st.sampled_from([0, 1, 2, 3, 7, 8, 9, 17, 4095, 4096, 4097, 8193]),
                       st.integers(0, 40000))


def array(rng, shape, dtype, scale=1.0):
    return (rng.standard_normal(shape) * scale).astype(dtype)


@st.composite
def conv_geometries(draw, kernel, max_hw, max_n=5, max_c=4):
    """(n, c_in, c_out, h, w, ph, pw) for a kernel×kernel convolution whose kernel fits the
    padded input."""
    n, c, k = draw(st.integers(1, max_n)), draw(st.integers(1, max_c)), draw(st.integers(1, max_c))
    ph, pw = draw(st.integers(0, 2)), draw(st.integers(0, 2))
    h = draw(st.integers(max(1, kernel - 2 * ph), max_hw))
    w = draw(st.integers(max(1, kernel - 2 * pw), max_hw))
    return n, c, k, h, w, ph, pw


def rand(shape, dtype, seed):
    return np.random.default_rng(seed).standard_normal(shape).astype(dtype)


def close_scaled(a, b, dtype, rtol32=1e-5):
    """a ≈ b within rtol32 (float32) or 1e-12 (float64) of b's largest magnitude (at least 1)."""
    scale = max(1.0, float(np.abs(b).max()) if b.size else 1.0)
    tol = dict(rtol=rtol32, atol=rtol32 * scale) if np.dtype(dtype) == np.float32 else dict(rtol=1e-12, atol=1e-12 * scale)
    np.testing.assert_allclose(a, b, **tol)


def winograd_pass(W, x, wt, b, g, ph, pw, fused):
    """(y, ∂L/∂x, ∂L/∂w) of a convolution computed through Winograd module ``W``'s transforms and
    the GEMMs between them, with the fused kernels on or off: what the autograd op does per chunk."""
    n, k, oh, ow = g.shape
    with K.use_fused(fused):
        u = W.weight_transform(wt)
        v = W.input_transform(x, ph, pw)
        y = W.output_transform(np.matmul(u, v), np.empty((n, k, oh, ow), x.dtype), b)
        dm = W.grad_output_transform(g)
        dx = W.grad_input_transform(np.matmul(u.transpose(0, 2, 1), dm), np.empty_like(x), ph, pw)
        dw = W.weight_grad_transform(np.matmul(dm, v.transpose(0, 2, 1)))
    return y, dx, dw


def transforms_match_references(W, g, m, dv, wt, du, b, x_shape, ph, pw):
    """Each transform of Winograd module ``W`` other than the input one (the callers check its shape
    too), fused against its reference: output-gradient of ``g``, output of ``m`` with and without
    bias ``b``, input-gradient of ``dv`` into ``x_shape``, weight of ``wt``, weight-gradient of ``du``."""
    dtype = g.dtype
    n, k, oh, ow = g.shape
    fused, ref = both(W.grad_output_transform, g)
    close_scaled(fused, ref, dtype)
    for bias in (None, b):
        fused, ref = both(lambda: W.output_transform(m, np.empty((n, k, oh, ow), dtype), bias))
        close_scaled(fused, ref, dtype)
    fused, ref = both(lambda: W.grad_input_transform(dv, np.empty(x_shape, dtype), ph, pw))
    close_scaled(fused, ref, dtype)
    fused, ref = both(W.weight_transform, wt)
    close_scaled(fused, ref, dtype)
    fused, ref = both(W.weight_grad_transform, du)
    close_scaled(fused, ref, dtype)
