"""Fused BCE-with-logits and MSE: kernel vs reference, hand values, gradients."""
import math

import numpy as np
import pytest
from hypothesis import given, strategies as st

import tinygen.kernels as K
from tinygen.kernels import losses as L

from .kutil import both, dtypes, edge_sizes, needs_numba, tol

LOSSES = {"bce": (K.bce_logits_forward, K.bce_logits_backward),
          "mse": (K.mse_forward, K.mse_backward)}


def _inputs(n, dtype, seed, scale=3.0):
    rng = np.random.default_rng(seed)
    x = (rng.standard_normal(n) * scale).astype(dtype)
    z = rng.uniform(size=n).astype(dtype)
    return x, z, rng


@needs_numba
@pytest.mark.parametrize("loss", sorted(LOSSES))
@given(n=edge_sizes, dtype=dtypes, seed=st.integers(0, 2**16), scale=st.sampled_from([0.5, 3.0, 50.0]))
def test_kernel_matches_reference(loss, n, dtype, seed, scale):
    fwd, bwd = LOSSES[loss]
    x, z, rng = _inputs(n, dtype, seed, scale)
    none, none_ref = both(fwd, x, z, "none")
    assert none.dtype == dtype and none.shape == x.shape
    big = float(np.max(np.abs(x), initial=1.0))
    big = (big + 1) ** 2 if loss == "mse" else big
    np.testing.assert_allclose(none, none_ref, **tol(dtype, big))
    for reduction in ("sum", "mean"):
        r, r_ref = both(fwd, x, z, reduction)
        assert r.shape == () and r.dtype == dtype
        if n == 0 and reduction == "mean":
            assert np.isnan(r) and np.isnan(r_ref)
            continue
        # both sum in float64 (in different orders); in float32 the reference's elementwise
        # losses carry float32 rounding (a few ulps each) and the result is rounded once more
        eps = 5e-7 if dtype == np.float32 else 1e-13
        bound = eps * float(np.sum(np.abs(none_ref.astype(np.float64)))) / (n if reduction == "mean" else 1)
        ulp = float(np.spacing(np.abs(r_ref)))
        assert abs(float(r) - float(r_ref)) <= bound + ulp + 1e-300
    g = rng.standard_normal(n).astype(dtype)
    dx, dx_ref = both(bwd, x, z, g, 0.25)
    assert dx.dtype == dtype and dx.shape == x.shape
    np.testing.assert_allclose(dx, dx_ref, **tol(dtype, big))
    dx, dx_ref = both(bwd, x, z, 2.0, 1.0 / max(n, 1))
    np.testing.assert_allclose(dx, dx_ref, **tol(dtype, big / max(n, 1)))


@pytest.fixture(params=[True, False], ids=["fused", "reference"])
def fused(request):
    with K.use_fused(request.param):
        yield request.param


def test_bce_by_hand(fused):
    x = np.array([0.0, 0.0, 100.0, -100.0, -100.0, 2.0])
    z = np.array([0.0, 1.0, 1.0, 0.0, 1.0, 0.25])
    want = [math.log(2), math.log(2), math.log1p(math.exp(-100)), math.log1p(math.exp(-100)), 100.0,
            2.0 - 0.5 + math.log1p(math.exp(-2.0))]
    out = K.bce_logits_forward(x, z, "none")
    np.testing.assert_allclose(out, want, rtol=1e-15)
    assert out[3] > 0                                     # log1p(e^-100) ≈ 3.7e-44, not 0
    assert float(K.bce_logits_forward(x, z, "sum")) == pytest.approx(sum(want), rel=1e-15)
    assert float(K.bce_logits_forward(x, z)) == pytest.approx(sum(want) / 6, rel=1e-15)
    sig = [0.5, 0.5, 1 / (1 + math.exp(-100)), math.exp(-100) / (1 + math.exp(-100)),
           math.exp(-100) / (1 + math.exp(-100)), 1 / (1 + math.exp(-2))]
    np.testing.assert_allclose(K.bce_logits_backward(x, z, 1.0, 1.0), np.array(sig) - z, rtol=1e-15)


def test_mse_by_hand(fused):
    x = np.array([1.0, -2.0, 3.5], np.float32)
    z = np.array([0.0, 1.0, 3.5], np.float32)
    np.testing.assert_array_equal(K.mse_forward(x, z, "none"), [1.0, 9.0, 0.0])
    assert float(K.mse_forward(x, z, "sum")) == 10.0
    assert float(K.mse_forward(x, z)) == pytest.approx(10 / 3, rel=1e-7)
    np.testing.assert_array_equal(K.mse_backward(x, z, 1.0, 0.5), [1.0, -3.0, 0.0])


@pytest.mark.parametrize("loss", sorted(LOSSES))
def test_backward_matches_finite_differences(fused, loss):
    fwd, bwd = LOSSES[loss]
    rng = np.random.default_rng(5)
    x = rng.standard_normal(37) * 3
    z = rng.uniform(size=37)
    g = rng.standard_normal(37)
    h = 1e-6
    fd = (fwd(x + h, z, "none") - fwd(x - h, z, "none")) / (2 * h)
    np.testing.assert_allclose(bwd(x, z, g, 0.5), 0.5 * g * fd, rtol=1e-7, atol=1e-9)


@pytest.mark.parametrize("loss", sorted(LOSSES))
def test_gradient_forms(fused, loss):
    fwd, bwd = LOSSES[loss]
    rng = np.random.default_rng(6)
    x = rng.standard_normal((4, 5))
    z = rng.uniform(size=(4, 5))
    full = bwd(x, z, np.full((4, 5), 3.0), 0.5)
    for g in (3.0, 3, np.float32(3.0), np.array(3.0), np.array([3.0]), np.full((1, 5), 3.0)):
        np.testing.assert_allclose(bwd(x, z, g, 0.5), full, rtol=1e-15)


@pytest.mark.parametrize("loss", sorted(LOSSES))
def test_empty_and_integer_targets(fused, loss):
    fwd, bwd = LOSSES[loss]
    e = np.zeros(0, np.float32)
    assert float(fwd(e, e, "sum")) == 0.0
    assert np.isnan(fwd(e, e, "mean"))
    assert fwd(e, e, "none").shape == (0,)
    assert bwd(e, e, 1.0, 1.0).shape == (0,)
    x = np.array([0.5, -1.5], np.float32)
    zi = np.array([1, 0])
    np.testing.assert_allclose(fwd(x, zi, "none"), fwd(x, zi.astype(np.float32), "none"), rtol=1e-7)


def test_errors():
    x = np.zeros(3)
    with pytest.raises(ValueError, match="reduction must be one of"):
        K.bce_logits_forward(x, x, "avg")
    with pytest.raises(ValueError, match=r"z has shape \(4,\) but x has shape \(3,\)"):
        K.mse_forward(x, np.zeros(4))
    with pytest.raises(ValueError, match=r"z has shape"):
        K.bce_logits_backward(x, np.zeros(2), 1.0, 1.0)
    with pytest.raises(TypeError, match="floating-point"):
        L.mse_forward_ref(np.zeros(3, int), np.zeros(3))


@needs_numba
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("reduction", ["mean", "none"])
def test_bce_forward_counts_targets_outside_the_unit_interval(dtype, reduction):
    """The fused pass counts targets outside [0, 1] (NaN included) across chunk boundaries, as
    the array reference does; the loss values are unchanged by counting."""
    from tinygen.kernels import losses as KL
    r = np.random.default_rng(4)
    n = 3 * KL.CHUNK + 17
    x = r.standard_normal(n).astype(dtype)
    z = r.random(n).astype(dtype)
    z[[5, KL.CHUNK, 2 * KL.CHUNK + 1, n - 1]] = [1.5, -0.25, np.nan, 1.0000001 if dtype == np.float64 else 2]
    counts = []
    for fused in (True, False):
        c = np.zeros(1, np.int64)
        with K.use_fused(fused):
            out = KL.bce_logits_forward(x, z, reduction, count_outside=c)
            plain = KL.bce_logits_forward(x, z, reduction)
        np.testing.assert_array_equal(out, plain)
        counts.append(int(c[0]))
    assert counts == [4, 4]
