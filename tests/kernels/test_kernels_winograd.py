"""Winograd F(2×2, 3×3) and F(4×4, 3×3) transforms: each Numba kernel equals its array reference,
the backward transforms are the adjoints of the forward ones, and transforms + 16 (36) GEMMs are a
convolution."""
import numpy as np
import pytest
from hypothesis import given, settings, strategies as st

import tinygen.kernels as K
from tinygen.kernels import conv, winograd, winograd4

from .kutil import DTYPES, both, close_scaled, conv_geometries, needs_numba, rand, transforms_match_references, winograd_pass

pytestmark = [needs_numba]
MODULES = pytest.mark.parametrize("W", [winograd, winograd4], ids=["F2x2", "F4x4"])


def geometries():
    return conv_geometries(3, 9, 5, 4)


def _direct(x, w, ph, pw):
    """3×3 stride-1 convolution by im2col + one product (float64)."""
    n, _, h, wd = x.shape
    k = w.shape[0]
    oh, ow = h + 2 * ph - 2, wd + 2 * pw - 2
    cols = conv.im2col_ref(x, 3, 3, 1, (ph, pw))
    return (w.reshape(k, -1) @ cols).reshape(k, n, oh, ow).transpose(1, 0, 2, 3)


@MODULES
@settings(max_examples=30, deadline=None)
@given(geo=geometries(), dtype=st.sampled_from(DTYPES), seed=st.integers(0, 2**31 - 1))
def test_kernels_equal_references(W, geo, dtype, seed):
    n, c, k, h, w, ph, pw = geo
    oh, ow, th, tw = W.tiles(h, w, ph, pw)
    x = rand((n, c, h, w), dtype, seed)
    g = rand((n, k, oh, ow), dtype, seed + 1)
    wt = rand((k, c, 3, 3), dtype, seed + 2)
    p = W.PLANES
    m = rand((p, k, th * tw * n), dtype, seed + 3)
    dv = rand((p, c, th * tw * n), dtype, seed + 4)
    b = rand((k,), dtype, seed + 5)

    fused, ref = both(W.input_transform, x, ph, pw)
    close_scaled(fused, ref, dtype)
    assert fused.shape == (p, c, th * tw * n)
    transforms_match_references(W, g, m, dv, wt, m[:, :, :c].copy(), b, (n, c, h, w), ph, pw)


@MODULES
@pytest.mark.parametrize("fused", [True, False])
@settings(max_examples=20, deadline=None)
@given(geo=geometries(), seed=st.integers(0, 2**31 - 1))
def test_backward_transforms_are_adjoints(W, fused, geo, seed):
    """⟨T x, R⟩ = ⟨x, Tᵀ R⟩ for the input, output and weight transforms (float64)."""
    n, c, k, h, w, ph, pw = geo
    oh, ow, th, tw = W.tiles(h, w, ph, pw)
    p = W.PLANES
    x, r = rand((n, c, h, w), np.float64, seed), rand((p, c, th * tw * n), np.float64, seed + 1)
    m, y = rand((p, k, th * tw * n), np.float64, seed + 2), rand((n, k, oh, ow), np.float64, seed + 3)
    wt, d = rand((k, c, 3, 3), np.float64, seed + 4), rand((p, k, c), np.float64, seed + 5)
    with K.use_fused(fused):
        lhs = np.vdot(W.input_transform(x, ph, pw), r)
        rhs = np.vdot(x, W.grad_input_transform(r, np.empty_like(x), ph, pw))
        assert lhs == pytest.approx(rhs, rel=1e-10, abs=1e-10)
        lhs = np.vdot(W.output_transform(m, np.empty_like(y)), y)
        rhs = np.vdot(m, W.grad_output_transform(y))
        assert lhs == pytest.approx(rhs, rel=1e-10, abs=1e-10)
        assert np.vdot(W.weight_transform(wt), d) == pytest.approx(
            np.vdot(wt, W.weight_grad_transform(d)), rel=1e-10, abs=1e-10)


@MODULES
@pytest.mark.parametrize("fused", [True, False])
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("h, w, ph, pw", [(14, 14, 1, 1), (7, 9, 1, 0), (5, 6, 2, 1), (1, 1, 1, 1), (3, 3, 0, 0),
                                          (28, 13, 1, 2)])
def test_transforms_and_gemms_are_the_convolution(W, fused, dtype, h, w, ph, pw):
    """y = Aᵀ[(G w Gᵀ) ⊙ (Bᵀ d B)]A over channels: 16 (36) GEMMs between the transforms give the
    convolution, and the backward transforms give its input and weight gradients. (F(4×4, 3×3)
    rounds more in float32: its points ±2 and G's 1/24; compared at 3e-5 of each array's scale.)"""
    n, c, k = 3, 5, 4
    x, wt = rand((n, c, h, w), dtype, 0), rand((k, c, 3, 3), dtype, 1)
    b = rand((k,), dtype, 2)
    oh, ow, _, _ = W.tiles(h, w, ph, pw)
    g = rand((n, k, oh, ow), dtype, 3)
    x64, w64, g64 = (a.astype(np.float64) for a in (x, wt, g))
    y, dx, dw = winograd_pass(W, x, wt, b, g, ph, pw, fused)
    tol = 1e-5 if W is winograd else 3e-5
    close_scaled(y, _direct(x64, w64, ph, pw) + b.reshape(1, -1, 1, 1), dtype, tol)
    g2 = g64.transpose(1, 0, 2, 3).reshape(k, -1)
    close_scaled(dx, conv.col2im_ref(w64.reshape(k, -1).T @ g2, x.shape, 3, 3, 1, (ph, pw)), dtype, tol)
    close_scaled(dw, (g2 @ conv.im2col_ref(x64, 3, 3, 1, (ph, pw)).T).reshape(wt.shape), dtype, tol)


@MODULES
def test_transformed_arrays_keep_their_planes_apart(W):
    """The planes of a transformed array are a little more than c·t values apart, never a
    multiple of 4 KB (planes in step would share cache sets), and the kernels read and write
    such strided arrays as well as contiguous ones."""
    p = W.PLANES
    t = 16 * (49 if W is winograd else 16)
    v = W.transformed_empty(64, t, np.float32)
    assert v.shape == (p, 64, t) and v.strides[1:] == (t * 4, 4)
    assert v.strides[0] > 64 * t * 4 and v.strides[0] % 4096 != 0
    x = rand((16, 64, 14, 14), np.float32, 0)
    W.input_transform(x, 1, 1, out=v)
    np.testing.assert_array_equal(v, W.input_transform(x, 1, 1, out=np.empty((p, 64, t), np.float32)))
    with pytest.raises(ValueError, match="winograd: out must be a float32 array of shape"):
        W.input_transform(x, 1, 1, out=np.empty((p, 64, t - 1), np.float32))


@MODULES
def test_tiles_refuse_a_kernel_larger_than_the_input(W):
    if W is winograd:
        assert W.tiles(14, 14, 1, 1) == (14, 14, 7, 7)
        assert W.tiles(5, 4, 0, 1) == (3, 4, 2, 2)
    else:
        assert W.tiles(14, 14, 1, 1) == (14, 14, 4, 4)
        assert W.tiles(5, 4, 0, 1) == (3, 4, 1, 1)
    with pytest.raises(ValueError, match="3x3 kernel does not fit the padded input"):
        W.tiles(2, 5, 0, 0)


def test_f4x4_constants_are_the_minimal_filter():
    """Aᵀ[(G g) ⊙ (Bᵀ d)] is the 1-D correlation of a 6-value input with a 3-tap filter."""
    r = np.random.default_rng(0)
    for _ in range(5):
        g, d = r.standard_normal(3), r.standard_normal(6)
        np.testing.assert_allclose(winograd4.AT @ ((winograd4.G @ g) * (winograd4.BT @ d)),
                                   [g @ d[i:i + 3] for i in range(4)], rtol=1e-13, atol=1e-13)
