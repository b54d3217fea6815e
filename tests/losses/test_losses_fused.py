"""The fused BCE-with-logits / MSE node equals the plain composite form: values, gradients
(logits and targets), second derivatives, and through all three implementations (Numba kernel,
the kernels' NumPy reference, Tensor ops)."""
from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from lossutil import FAST, FEW, SLOW, T, arr, dtypes, reductions, shapes

import tinygen as tg
import tinygen.kernels as K
import tinygen.losses as L

LOSSES = {"bce_with_logits": L.bce_with_logits, "mse": L.mse}


@pytest.fixture
def numba_always(monkeypatch):
    """Send even tiny arrays through the Numba kernels (normally they use the NumPy reference)."""
    monkeypatch.setattr(L, "FUSED_MIN_SIZE", 0)


@st.composite
def loss_inputs(draw, big=False):
    dt = draw(dtypes)
    sh = (draw(st.integers(4096, 12000)),) if big else draw(shapes)
    lo, hi = (-40, 40)
    if big:  # hypothesis would spend ages drawing 10⁴ floats one by one: draw a seed instead
        rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
        x = (rng.standard_normal(sh) * 10).astype(dt)
        z = rng.random(sh).astype(dt)
    else:
        x = draw(arr(dt, sh, lo, hi))
        z = draw(arr(dt, sh, 0, 1))
    return draw(st.sampled_from(sorted(LOSSES))), dt, x, z


def _run(name, x, z, reduction, mode):
    """Loss value and gradients w.r.t. both inputs, in one of three implementations."""
    xt, zt = T(x, grad=True), T(z, grad=True)
    if mode == "plain":
        with L.use_fused(False):
            loss = LOSSES[name](xt, zt, reduction)
    elif mode == "reference":
        with K.use_fused(False):
            loss = LOSSES[name](xt, zt, reduction)
    else:
        loss = LOSSES[name](xt, zt, reduction)
    w = np.linspace(0.5, 1.5, loss.size).reshape(loss.shape).astype(loss.dtype)  # a non-uniform upstream gradient
    gx, gz = tg.grad((loss * T(w)).sum(), [xt, zt])
    return loss.numpy(), gx.numpy(), gz.numpy(), type(loss.grad_fn).__name__


def _compare(a, b, dt):
    rtol, atol = (1e-5, 1e-6) if dt == np.float32 else (1e-12, 1e-13)
    for u, v in zip(a[:3], b[:3]):
        assert u.dtype == v.dtype == dt
        np.testing.assert_allclose(u, v, rtol=rtol, atol=atol * max(1.0, np.abs(v).max(initial=0)))


@FAST
@given(loss_inputs(), reductions)
def test_fused_numba_equals_plain(numba_always, data, reduction):
    name, dt, x, z = data
    fused = _run(name, x, z, reduction, "fused")
    plain = _run(name, x, z, reduction, "plain")
    assert fused[3].endswith("Fused") and not plain[3].endswith("Fused")
    _compare(fused, plain, dt)


@FAST
@given(loss_inputs(), reductions)
def test_fused_reference_equals_plain(data, reduction):
    name, dt, x, z = data
    _compare(_run(name, x, z, reduction, "reference"), _run(name, x, z, reduction, "plain"), dt)


@FEW
@given(loss_inputs(big=True), reductions)
def test_fused_equals_plain_on_multi_chunk_arrays(data, reduction):
    """Arrays above FUSED_MIN_SIZE and spanning several kernel chunks (default dispatch)."""
    name, dt, x, z = data
    x = np.resize(x, max(x.size, L.FUSED_MIN_SIZE + 17))
    z = np.resize(z, x.size)
    fused = _run(name, x, z, reduction, "fused")
    plain = _run(name, x, z, reduction, "plain")
    _compare(fused, plain, dt)


@FEW
@given(loss_inputs(), st.sampled_from(["mean", "sum"]))
def test_fused_second_derivatives_equal_plain(numba_always, data, reduction):
    """Double backward through the fused node (its backward built from Tensor ops) equals the
    composite form's: the Hessian-vector products match, and gradgradcheck passes."""
    name, _, x, z = data
    x64, z64 = x.astype(np.float64), z.astype(np.float64)
    v = np.cos(np.arange(x.size)).reshape(x.shape)

    def hvp(fused):
        xt, zt = T64(x64), T64(z64)
        with L.use_fused(fused):
            loss = LOSSES[name](xt, zt, reduction)
            (gx,) = tg.grad(loss, [xt], create_graph=True)
            hx, hz = tg.grad((gx * T(v)).sum(), [xt, zt], allow_unused=True)
        return [np.zeros(x.shape) if h is None else h.numpy() for h in (hx, hz)]

    for a, b in zip(hvp(True), hvp(False)):
        np.testing.assert_allclose(a, b, rtol=1e-10, atol=1e-12)
    assert tg.gradgradcheck(lambda a, b: LOSSES[name](a, b, reduction), [T64(x64 / 4), T64(np.clip(z64, 0.01, 0.99))])


def T64(a):
    return T(a, np.float64, grad=True)


@pytest.mark.slow
@SLOW
@given(loss_inputs(), reductions)
def test_fused_numba_equals_plain_many(data, reduction):
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(L, "FUSED_MIN_SIZE", 0)
        test_fused_numba_equals_plain.hypothesis.inner_test(None, data, reduction)
