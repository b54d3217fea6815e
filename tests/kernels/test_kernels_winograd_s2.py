"""Winograd F(4×4, 2×2) for 4×4 stride-2 convolutions (space-to-depth): each Numba kernel equals
its array reference, the backward transforms are the adjoints of the forward ones, and
transforms + 25 GEMMs are the convolution and its gradients."""
import numpy as np
import pytest
from hypothesis import given, settings, strategies as st

import tinygen.kernels as K
from tinygen.kernels import conv, winograd_s2 as W

from .kutil import DTYPES, both, close_scaled, conv_geometries, needs_numba, rand, transforms_match_references, winograd_pass

pytestmark = [needs_numba]


def geometries():
    return conv_geometries(4, 17, 4, 3)


@settings(max_examples=25, deadline=None)
@given(geo=geometries(), dtype=st.sampled_from(DTYPES), seed=st.integers(0, 2**31 - 1))
def test_kernels_equal_references(geo, dtype, seed):
    n, c, k, h, w, ph, pw = geo
    oh, ow, th, tw = W.tiles(h, w, ph, pw)
    t = th * tw * n
    x = rand((n, c, h, w), dtype, seed)
    g = rand((n, k, oh, ow), dtype, seed + 1)
    wt = rand((k, c, 4, 4), dtype, seed + 2)
    m = rand((25, k, t), dtype, seed + 3)
    dv = rand((25, 4 * c, t), dtype, seed + 4)
    b = rand((k,), dtype, seed + 5)

    fused, ref = both(W.input_transform, x, ph, pw)
    assert fused.shape == (25, 4 * c, t)
    close_scaled(fused, ref, dtype)
    transforms_match_references(W, g, m, dv, wt, rand((25, k, 4 * c), dtype, seed + 6), b, (n, c, h, w), ph, pw)


@pytest.mark.parametrize("fused", [True, False])
@settings(max_examples=15, deadline=None)
@given(geo=geometries(), seed=st.integers(0, 2**31 - 1))
def test_backward_transforms_are_adjoints(fused, geo, seed):
    """⟨T x, R⟩ = ⟨x, Tᵀ R⟩ for the input, output and weight transforms (float64)."""
    n, c, k, h, w, ph, pw = geo
    oh, ow, th, tw = W.tiles(h, w, ph, pw)
    t = th * tw * n
    x, r = rand((n, c, h, w), np.float64, seed), rand((25, 4 * c, t), np.float64, seed + 1)
    m, y = rand((25, k, t), np.float64, seed + 2), rand((n, k, oh, ow), np.float64, seed + 3)
    wt, d = rand((k, c, 4, 4), np.float64, seed + 4), rand((25, k, 4 * c), np.float64, seed + 5)
    with K.use_fused(fused):
        assert np.vdot(W.input_transform(x, ph, pw), r) == pytest.approx(
            np.vdot(x, W.grad_input_transform(r, np.empty_like(x), ph, pw)), rel=1e-10, abs=1e-10)
        assert np.vdot(W.output_transform(m, np.empty_like(y)), y) == pytest.approx(
            np.vdot(m, W.grad_output_transform(y)), rel=1e-10, abs=1e-10)
        assert np.vdot(W.weight_transform(wt), d) == pytest.approx(
            np.vdot(wt, W.weight_grad_transform(d)), rel=1e-10, abs=1e-10)


@pytest.mark.parametrize("fused", [True, False])
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("h, w, ph, pw", [(14, 14, 1, 1), (28, 28, 1, 1), (15, 13, 2, 0), (4, 5, 0, 1), (9, 6, 1, 2)])
def test_transforms_and_gemms_are_the_convolution(fused, dtype, h, w, ph, pw):
    """25 GEMMs between the transforms give the 4×4 stride-2 convolution, and the backward
    transforms its input and weight gradients (float32: within 3e-5 of each array's scale)."""
    n, c, k = 3, 5, 4
    x, wt, b = rand((n, c, h, w), dtype, 0), rand((k, c, 4, 4), dtype, 1), rand((k,), dtype, 2)
    oh, ow, _, _ = W.tiles(h, w, ph, pw)
    g = rand((n, k, oh, ow), dtype, 3)
    x64, w64, g64 = (a.astype(np.float64) for a in (x, wt, g))
    y, dx, dw = winograd_pass(W, x, wt, b, g, ph, pw, fused)
    cols = conv.im2col_ref(x64, 4, 4, 2, (ph, pw))
    direct = (w64.reshape(k, -1) @ cols).reshape(k, n, oh, ow).transpose(1, 0, 2, 3)
    close_scaled(y, direct + b.reshape(1, -1, 1, 1), dtype, 3e-5)
    g2 = g64.transpose(1, 0, 2, 3).reshape(k, -1)
    close_scaled(dx, conv.col2im_ref(w64.reshape(k, -1).T @ g2, x.shape, 4, 4, 2, (ph, pw)), dtype, 3e-5)
    close_scaled(dw, (g2 @ cols.T).reshape(wt.shape), dtype, 3e-5)


def test_tiles_and_planes():
    assert W.tiles(14, 14, 1, 1) == (7, 7, 2, 2)
    assert W.tiles(28, 28, 1, 1) == (14, 14, 4, 4)
    with pytest.raises(ValueError, match="4x4 kernel does not fit the padded input"):
        W.tiles(2, 5, 0, 0)
    v = W.transformed_empty(256, 128, np.float32)
    assert v.shape == (25, 256, 128) and v.strides[0] > 256 * 128 * 4 and v.strides[0] % 4096 != 0
