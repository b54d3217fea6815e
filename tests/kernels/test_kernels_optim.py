"""Fused optimizer steps: kernel vs reference over several steps, and hand-computed steps."""
import math

import numpy as np
import pytest
from hypothesis import given, strategies as st

import tinygen.kernels as K
from tinygen.kernels import optim as O

from .kutil import dtypes, edge_sizes, needs_numba


def _tol(dtype):
    return dict(rtol=2e-6, atol=1e-7) if np.dtype(dtype) == np.float32 else dict(rtol=1e-13, atol=1e-15)


def _run(kind, dtype, n, steps, hp, seed, fused):
    """Run ``steps`` updates from the same start; return the final (p, states)."""
    rng = np.random.default_rng(seed)
    p = rng.standard_normal(n).astype(dtype)
    s = [np.zeros(n, dtype) for _ in range(3)]
    grads = [rng.standard_normal(n).astype(dtype) for _ in range(steps)]
    with K.use_fused(fused):
        for t, g in enumerate(grads, start=1):
            if kind == "sgd":
                K.sgd_update(p, g, s[0], first_step=t == 1, **hp)
            elif kind == "adam":
                K.adam_update(p, g, s[0], s[1], step=t, **hp)
            else:
                K.rmsprop_update(p, g, s[0], buf=s[1], g_avg=s[2], **hp)
    return p, s


sgd_hp = st.fixed_dictionaries({
    "lr": st.sampled_from([0.1, 1e-3]), "momentum": st.sampled_from([0.0, 0.9]),
    "dampening": st.sampled_from([0.0, 0.1]), "weight_decay": st.sampled_from([0.0, 1e-2]),
    "nesterov": st.booleans(),
}).map(lambda d: dict(d, nesterov=d["nesterov"] and d["momentum"] > 0 and d["dampening"] == 0))
adam_hp = st.fixed_dictionaries({
    "lr": st.sampled_from([1e-3, 0.1]), "beta1": st.sampled_from([0.9, 0.3, 0.0]),
    "beta2": st.sampled_from([0.999, 0.9]), "eps": st.sampled_from([1e-8, 1e-3]),
    "weight_decay": st.sampled_from([0.0, 0.1]), "decoupled": st.booleans()})
rms_hp = st.fixed_dictionaries({
    "lr": st.sampled_from([1e-2, 1e-3]), "alpha": st.sampled_from([0.99, 0.3]),
    "eps": st.sampled_from([1e-8, 1e-2]), "weight_decay": st.sampled_from([0.0, 0.1]),
    "momentum": st.sampled_from([0.0, 0.9]), "centered": st.booleans()})


@needs_numba
@given(kind_hp=st.one_of(st.tuples(st.just("sgd"), sgd_hp), st.tuples(st.just("adam"), adam_hp),
                         st.tuples(st.just("rmsprop"), rms_hp)),
       dtype=dtypes, n=edge_sizes, seed=st.integers(0, 2**16))
def test_kernel_matches_reference_over_steps(kind_hp, dtype, n, seed):
    kind, hp = kind_hp
    p1, s1 = _run(kind, dtype, n, 4, hp, seed, fused=True)
    p2, s2 = _run(kind, dtype, n, 4, hp, seed, fused=False)
    assert p1.dtype == dtype
    np.testing.assert_allclose(p1, p2, **_tol(dtype))
    for a, b in zip(s1, s2):
        np.testing.assert_allclose(a, b, **_tol(dtype))


# ----------------------------------------------------------------------------- by hand

P0 = np.array([1.0, -2.0, 0.5, 3.0])
G1 = np.array([0.5, 0.25, -1.0, 2.0])
G2 = np.array([-0.5, 1.0, 0.125, 0.0])


@pytest.fixture(params=[True, False], ids=["fused", "reference"])
def fused(request):
    with K.use_fused(request.param):
        yield request.param


def test_sgd_by_hand(fused):
    p = P0.copy()
    K.sgd_update(p, G1, None, lr=0.1)
    np.testing.assert_allclose(p, P0 - 0.1 * G1, rtol=1e-15)

    lr, mu, tau, wd = 0.1, 0.9, 0.2, 0.01
    p, buf = P0.copy(), np.full(4, 123.0)
    K.sgd_update(p, G1, buf, lr, mu, tau, wd, first_step=True)
    d1 = G1 + wd * P0
    np.testing.assert_allclose(buf, d1, rtol=1e-15)                  # first step: buf = g, no dampening
    p1 = P0 - lr * d1
    np.testing.assert_allclose(p, p1, rtol=1e-15)
    K.sgd_update(p, G2, buf, lr, mu, tau, wd)
    d2 = G2 + wd * p1
    b2 = mu * d1 + (1 - tau) * d2
    np.testing.assert_allclose(buf, b2, rtol=1e-14)
    np.testing.assert_allclose(p, p1 - lr * b2, rtol=1e-14)

    p, buf = P0.copy(), np.zeros(4)
    K.sgd_update(p, G1, buf, lr, mu, nesterov=True, first_step=True)
    np.testing.assert_allclose(p, P0 - lr * (G1 + mu * G1), rtol=1e-15)


@pytest.mark.parametrize("decoupled", [False, True])
def test_adam_by_hand(fused, decoupled):
    lr, b1, b2, eps, wd = 0.01, 0.9, 0.999, 1e-8, 0.1
    p, m, v = P0.copy(), np.zeros(4), np.zeros(4)
    K.adam_update(p, G1, m, v, lr, b1, b2, eps, wd, step=1, decoupled=decoupled)
    if decoupled:
        q = P0 * (1 - lr * wd)
        d = G1
    else:
        q = P0
        d = G1 + wd * P0
    np.testing.assert_allclose(m, (1 - b1) * d, rtol=1e-15)
    np.testing.assert_allclose(v, (1 - b2) * d * d, rtol=1e-15)
    # bias-corrected: m̂ = d, v̂ = d², so the first step moves by lr · d / (|d| + eps)
    p1 = q - lr * d / (np.abs(d) + eps)
    np.testing.assert_allclose(p, p1, rtol=1e-14)

    K.adam_update(p, G2, m, v, lr, b1, b2, eps, wd, step=2, decoupled=decoupled)
    q2 = p1 * (1 - lr * wd) if decoupled else p1
    d2 = G2 if decoupled else G2 + wd * p1
    m2 = b1 * (1 - b1) * d + (1 - b1) * d2
    v2 = b2 * (1 - b2) * d * d + (1 - b2) * d2 * d2
    denom = np.sqrt(v2) / math.sqrt(1 - b2 ** 2) + eps
    np.testing.assert_allclose(m, m2, rtol=1e-14)
    np.testing.assert_allclose(v, v2, rtol=1e-14)
    np.testing.assert_allclose(p, q2 - lr / (1 - b1 ** 2) * m2 / denom, rtol=1e-13)


@pytest.mark.parametrize("centered, momentum", [(False, 0.0), (True, 0.0), (False, 0.9), (True, 0.9)])
def test_rmsprop_by_hand(fused, centered, momentum):
    lr, alpha, eps, wd = 0.01, 0.9, 1e-8, 0.1
    p, v, buf, ga = P0.copy(), np.zeros(4), np.zeros(4), np.zeros(4)
    K.rmsprop_update(p, G1, v, lr, alpha, eps, wd, momentum, centered, buf, ga)
    d = G1 + wd * P0
    v1 = (1 - alpha) * d * d
    np.testing.assert_allclose(v, v1, rtol=1e-15)
    if centered:
        np.testing.assert_allclose(ga, (1 - alpha) * d, rtol=1e-15)
        avg = np.sqrt(v1 - ((1 - alpha) * d) ** 2) + eps
    else:
        avg = np.sqrt(v1) + eps
    if momentum:
        np.testing.assert_allclose(buf, d / avg, rtol=1e-14)
    np.testing.assert_allclose(p, P0 - lr * d / avg, rtol=1e-14)


def test_lerp_weight_above_half_follows_torch():
    # beta1 = 0.3: torch.lerp switches to end − (end − self)(1 − w) when w >= 0.5
    m = np.array([0.1, 0.7])
    d = np.array([1.0, -3.0])
    O._lerp_ref(m, d, 0.7)
    np.testing.assert_array_equal(m, d - (d - np.array([0.1, 0.7])) * (1 - 0.7))


def test_updates_are_in_place(fused):
    p = P0.copy()
    m, v = np.zeros(4), np.zeros(4)
    ids = (id(p), id(m), id(v))
    assert K.adam_update(p, G1, m, v, 0.1) is None
    assert (id(p), id(m), id(v)) == ids and not np.array_equal(p, P0) and m.any() and v.any()


def test_float32_params_with_float64_gradient(fused):
    p = P0.astype(np.float32)
    K.sgd_update(p, G1, None, lr=0.5)
    assert p.dtype == np.float32
    np.testing.assert_allclose(p, (P0 - 0.5 * G1).astype(np.float32), rtol=1e-7)


@pytest.mark.parametrize("call, exc, match", [
    (lambda: K.sgd_update(np.zeros(3), np.zeros(3), None, 0.1, momentum=0.9), ValueError, "momentum buffer"),
    (lambda: K.sgd_update(np.zeros(3), np.zeros(3), None, 0.1, nesterov=True), ValueError, "nesterov"),
    (lambda: K.sgd_update(np.zeros(3), np.zeros(4), None, 0.1), ValueError, r"g has shape \(4,\)"),
    (lambda: K.sgd_update(np.zeros((3, 4)).T, np.zeros((4, 3)), None, 0.1), ValueError, "C-contiguous"),
    (lambda: K.sgd_update(np.zeros(3, int), np.zeros(3), None, 0.1), TypeError, "floating-point"),
    (lambda: K.adam_update(np.zeros(3), np.zeros(3), np.zeros(3), np.zeros(3), 0.1, step=0), ValueError, "step counts from 1"),
    (lambda: K.adam_update(np.zeros(3), np.zeros(3), np.zeros(3, np.float32), np.zeros(3), 0.1), TypeError, "m has dtype float32"),
    (lambda: K.adam_update(np.zeros(3), np.zeros(3), np.zeros(2), np.zeros(3), 0.1), ValueError, r"m has shape \(2,\)"),
    (lambda: K.rmsprop_update(np.zeros(3), np.zeros(3), np.zeros(3), 0.1, momentum=0.9), ValueError, "momentum buffer"),
    (lambda: K.rmsprop_update(np.zeros(3), np.zeros(3), np.zeros(3), 0.1, centered=True), ValueError, "g_avg"),
])
def test_errors(call, exc, match):
    with pytest.raises(exc, match=match):
        call()
