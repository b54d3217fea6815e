"""im2col / col2im: kernel == reference bit for bit, adjointness, and conv2d through GEMMs."""
import numpy as np
import pytest
from hypothesis import assume, given, strategies as st

import tinygen.kernels as K
from tinygen.kernels import conv

from .kutil import both, dtypes, needs_numba


@st.composite
def geometries(draw):
    N = draw(st.integers(0, 3))
    C = draw(st.integers(0, 3))
    H = draw(st.integers(1, 9))
    W = draw(st.integers(1, 9))
    kh = draw(st.integers(1, 4))
    kw = draw(st.integers(1, 4))
    stride = draw(st.one_of(st.integers(1, 3), st.tuples(st.integers(1, 3), st.integers(1, 3))))
    padding = draw(st.one_of(st.integers(0, 2), st.tuples(st.integers(0, 2), st.integers(0, 3))))
    ph, pw = padding if isinstance(padding, tuple) else (padding, padding)
    assume(H + 2 * ph >= kh and W + 2 * pw >= kw)
    return (N, C, H, W), kh, kw, stride, padding


@needs_numba
@given(geo=geometries(), dtype=dtypes, seed=st.integers(0, 2**16))
def test_kernel_equals_reference_and_is_adjoint(geo, dtype, seed):
    shape, kh, kw, stride, padding = geo
    rng = np.random.default_rng(seed)
    x = rng.standard_normal(shape).astype(dtype)
    cols, cols_ref = both(K.im2col, x, kh, kw, stride, padding)
    assert cols.dtype == dtype and cols.shape == cols_ref.shape
    np.testing.assert_array_equal(cols, cols_ref)

    c = rng.standard_normal(cols.shape).astype(dtype)
    dx, dx_ref = both(K.col2im, c, shape, kh, kw, stride, padding)
    assert dx.dtype == dtype and dx.shape == shape
    np.testing.assert_array_equal(dx, dx_ref)

    # <im2col(x), c> == <x, col2im(c)>, in float64 to keep rounding out of it
    x64, c64 = x.astype(np.float64), c.astype(np.float64)
    lhs = np.vdot(K.im2col(x64, kh, kw, stride, padding), c64)
    rhs = np.vdot(x64, K.col2im(c64, shape, kh, kw, stride, padding))
    assert lhs == pytest.approx(rhs, rel=1e-12, abs=1e-12)


@needs_numba
@given(geo=geometries(), dtype=dtypes, seed=st.integers(0, 2**16))
def test_batch_minor_order_is_the_transposed_columns(geo, dtype, seed):
    """batch_minor=True: columns (oh, ow, n) instead of (n, oh, ow); kernel and reference bit for bit."""
    shape, kh, kw, stride, padding = geo
    rng = np.random.default_rng(seed)
    x = rng.standard_normal(shape).astype(dtype)
    cols = K.im2col(x, kh, kw, stride, padding)
    k, nl = cols.shape
    n = shape[0]
    l = nl // n if n else 0

    def swap(c, a, b):
        return np.ascontiguousarray(c.reshape(k, a, b).transpose(0, 2, 1)).reshape(k, nl)

    for got in both(K.im2col, x, kh, kw, stride, padding, batch_minor=True):
        np.testing.assert_array_equal(got, swap(cols, n, l))
    c = rng.standard_normal(cols.shape).astype(dtype)
    want = K.col2im(c, shape, kh, kw, stride, padding)
    for got in both(K.col2im, swap(c, n, l), shape, kh, kw, stride, padding, batch_minor=True):
        assert got.dtype == dtype
        np.testing.assert_array_equal(got, want)


def test_known_layout():
    x = np.arange(16, dtype=np.float64).reshape(1, 1, 4, 4)
    cols = K.im2col(x, 2, 2, stride=2)
    np.testing.assert_array_equal(cols, [[0, 2, 8, 10], [1, 3, 9, 11], [4, 6, 12, 14], [5, 7, 13, 15]])
    # padding 1, 3x3, one channel, two images: centre tap row equals the images themselves
    x2 = np.arange(18, dtype=np.float32).reshape(2, 1, 3, 3)
    cols2 = K.im2col(x2, 3, 3, 1, 1)
    assert cols2.shape == (9, 2 * 9)
    np.testing.assert_array_equal(cols2[4], x2.reshape(-1))
    np.testing.assert_array_equal(cols2[0].reshape(2, 3, 3)[:, 0, :], 0)   # top row is padding
    # col2im of ones counts how many windows cover each pixel
    counts = K.col2im(np.ones((4, 4)), (1, 1, 4, 4), 2, 2, stride=2)
    np.testing.assert_array_equal(counts, np.ones((1, 1, 4, 4)))
    counts = K.col2im(np.ones((9, 9)), (1, 1, 3, 3), 3, 3, 1, 1)
    np.testing.assert_array_equal(counts[0, 0], [[4, 6, 4], [6, 9, 6], [4, 6, 4]])


def _conv_direct(x, w, stride, pad):
    N, C, H, W = x.shape
    O, _, kh, kw = w.shape
    xp = np.pad(x, ((0, 0), (0, 0), (pad[0], pad[0]), (pad[1], pad[1])))
    OH = (H + 2 * pad[0] - kh) // stride[0] + 1
    OW = (W + 2 * pad[1] - kw) // stride[1] + 1
    y = np.zeros((N, O, OH, OW))
    for oh in range(OH):
        for ow in range(OW):
            patch = xp[:, :, oh * stride[0]:oh * stride[0] + kh, ow * stride[1]:ow * stride[1] + kw]
            y[:, :, oh, ow] = np.einsum("nchw,ochw->no", patch, w)
    return y


@pytest.mark.parametrize("stride, pad", [((1, 1), (1, 1)), ((2, 1), (0, 2)), ((3, 2), (1, 0))])
def test_conv2d_via_gemm_matches_direct_convolution(stride, pad):
    rng = np.random.default_rng(1)
    x = rng.standard_normal((2, 3, 7, 8))
    w = rng.standard_normal((4, 3, 3, 2))
    O, C, kh, kw = w.shape
    cols = K.im2col(x, kh, kw, stride, pad)
    N, _, H, W, *_, OH, OW = K.conv_geometry(x.shape, kh, kw, stride, pad)
    y = (w.reshape(O, -1) @ cols).reshape(O, N, OH, OW).transpose(1, 0, 2, 3)
    np.testing.assert_allclose(y, _conv_direct(x, w, stride, pad), rtol=1e-12, atol=1e-12)
    # backward through the adjoint: directional derivative check <gy, conv(dx)> == <col2im(...), dx>
    gy = rng.standard_normal(y.shape)
    gm = gy.transpose(1, 0, 2, 3).reshape(O, -1)
    dx = K.col2im(w.reshape(O, -1).T @ gm, x.shape, kh, kw, stride, pad)
    dw = (gm @ cols.T).reshape(w.shape)
    d = rng.standard_normal(x.shape)
    assert np.vdot(gy, _conv_direct(d, w, stride, pad)) == pytest.approx(np.vdot(dx, d), rel=1e-10)
    e = rng.standard_normal(w.shape)
    assert np.vdot(gy, _conv_direct(x, e, stride, pad)) == pytest.approx(np.vdot(dw, e), rel=1e-10)


@needs_numba
def test_non_contiguous_input_and_large_batch():
    rng = np.random.default_rng(2)
    x = rng.standard_normal((5, 6, 9, 40)).astype(np.float32).transpose(0, 1, 3, 2)[:, :, ::2]
    assert not x.flags.c_contiguous
    a, b = both(K.im2col, x, 3, 2, (1, 2), (1, 0))
    np.testing.assert_array_equal(a, b)


@pytest.mark.parametrize("args, exc, match", [
    (((2, 3, 4), 3, 3), ValueError, "4 dimensions"),
    (((1, 1, 2, 2), 3, 3), ValueError, "larger than the padded input"),
    (((1, 1, 4, 4), 3, 3, 0), ValueError, "stride must be positive"),
    (((1, 1, 4, 4), 3, 3, 1, -1), ValueError, "padding must be non-negative"),
    (((1, 1, 4, 4), 3, 3, (1, 2, 3)), ValueError, "pair"),
    (((1, 1, 4, 4), 3, 3, "a"), TypeError, "int or a pair"),
    (((1, 1, 4, 4), 0, 3), ValueError, "kernel size"),
])
def test_geometry_errors(args, exc, match):
    with pytest.raises(exc, match=match):
        K.conv_geometry(*args)
    with pytest.raises(exc, match=match):
        K.im2col(np.zeros(args[0]), *args[1:])


def test_col2im_checks_cols_shape():
    with pytest.raises(ValueError, match=r"cols has shape \(9, 5\).*\(9, 16\)"):
        K.col2im(np.zeros((9, 5)), (1, 1, 4, 4), 3, 3, 1, 1)
    with pytest.raises(ValueError, match="cols has shape"):
        conv.col2im_ref(np.zeros((9, 5)), (1, 1, 4, 4), 3, 3, 1, 1)


@pytest.mark.parametrize("fused", [True, False], ids=["fused", "reference"])
def test_out_workspace(fused):
    rng = np.random.default_rng(3)
    x = rng.standard_normal((2, 3, 5, 6)).astype(np.float32)
    with K.use_fused(fused):
        want = K.im2col(x, 3, 3, 1, 1)
        ws = np.full(want.shape, np.nan, np.float32)
        assert K.im2col(x, 3, 3, 1, 1, out=ws) is ws
        np.testing.assert_array_equal(ws, want)
        dx = np.full(x.shape, np.nan, np.float32)
        assert K.col2im(ws, x.shape, 3, 3, 1, 1, out=dx) is dx
        np.testing.assert_array_equal(dx, K.col2im(want, x.shape, 3, 3, 1, 1))
        with pytest.raises(ValueError, match=r"out must be a C-contiguous float32 array of shape \(27, 60\)"):
            K.im2col(x, 3, 3, 1, 1, out=np.zeros((27, 60)))
        with pytest.raises(ValueError, match="not contiguous"):
            K.col2im(ws, x.shape, 3, 3, 1, 1, out=np.zeros((2, 3, 6, 5), np.float32).transpose(0, 1, 3, 2))
