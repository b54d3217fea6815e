"""Parallel kernels give bit-identical results on 1 and 2 threads (and from run to run)."""
import numpy as np
import pytest

import tinygen.kernels as K
from tinygen.kernels import _jit

from .kutil import max_threads, needs_numba, numba_threads

pytestmark = [needs_numba]

N = 100_003          # several chunks, above the size where kernels go parallel


@pytest.fixture(autouse=True)
def _streaming_kernels_parallel(monkeypatch):
    """Streaming kernels go parallel only on very large arrays; here they do from PARALLEL_MIN_SIZE."""
    monkeypatch.setattr(_jit, "STREAMING_MIN_SIZE", _jit.PARALLEL_MIN_SIZE)


def _x(dtype, shape=(N,), seed=0):
    return np.random.default_rng(seed).standard_normal(shape).astype(dtype)


def _optim(kind):
    def run(dtype):
        p, g = _x(dtype), _x(dtype, seed=1)
        s = [np.zeros_like(p) for _ in range(3)]
        for t in (1, 2, 3):
            if kind == "sgd":
                K.sgd_update(p, g, s[0], 0.1, 0.9, 0.1, 0.01, first_step=t == 1)
            elif kind == "adam":
                K.adam_update(p, g, s[0], s[1], 1e-3, weight_decay=0.01, step=t, decoupled=True)
            else:
                K.rmsprop_update(p, g, s[0], 1e-3, momentum=0.9, centered=True, buf=s[1], g_avg=s[2])
        return [p] + s
    return run


def _batch_norm(dtype, shape=(64, 7, 101)):
    x, g = _x(dtype, shape), _x(dtype, shape, seed=1)
    w, b = _x(dtype, (7,), seed=2), _x(dtype, (7,), seed=3)
    y, mean, var, istd = K.batch_norm_forward(x, w, b, 1e-5)
    grads = K.batch_norm_backward(x, g, w, mean, istd)
    return [y, *grads] + [s.astype(dtype) for s in (mean, var, istd)]   # float64 statistics


CASES = {
    "im2col": lambda dt: [K.im2col(_x(dt, (8, 16, 17, 15)), 3, 3, (2, 1), 1)],
    "col2im": lambda dt: [K.col2im(_x(dt, (16 * 9, 8 * 9 * 15)), (8, 16, 17, 15), 3, 3, (2, 1), 1)],
    "im2col_bm": lambda dt: [K.im2col(_x(dt, (8, 16, 17, 15)), 3, 3, (2, 1), 1, batch_minor=True)],
    "col2im_bm": lambda dt: [K.col2im(_x(dt, (16 * 9, 8 * 9 * 15)), (8, 16, 17, 15), 3, 3, (2, 1), 1,
                                      batch_minor=True)],
    "act_gelu": lambda dt: [K.act_forward("gelu", _x(dt)), K.act_backward("gelu", _x(dt), None, _x(dt, seed=2))],
    "act_silu": lambda dt: [K.act_forward("silu", _x(dt)), K.act_backward("silu", _x(dt), None, _x(dt, seed=2))],
    "batch_norm": _batch_norm,
    "sgd": _optim("sgd"),
    "adam": _optim("adam"),
    "rmsprop": _optim("rmsprop"),
    "bce": lambda dt: [K.bce_logits_forward(_x(dt) * 3, _x(dt, seed=3) > 0, r) for r in ("mean", "sum", "none")]
    + [K.bce_logits_backward(_x(dt), _x(dt, seed=3) > 0, _x(dt, seed=4), 0.5)],
    "mse": lambda dt: [K.mse_forward(_x(dt), _x(dt, seed=3), r) for r in ("mean", "sum", "none")]
    + [K.mse_backward(_x(dt), _x(dt, seed=3), 2.0, 0.5)],
}


@pytest.mark.skipif(max_threads() < 2 if K.numba_available() else True,
                    reason="needs Numba with at least 2 threads")
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("case", sorted(CASES))
def test_same_bits_on_one_and_two_threads(case, dtype):
    with K.use_fused(True):
        with numba_threads(1):
            one = CASES[case](dtype)
        with numba_threads(2):
            two = CASES[case](dtype)
            again = CASES[case](dtype)
    for a, b, c in zip(one, two, again):
        assert a.dtype == dtype
        assert a.tobytes() == b.tobytes() == c.tobytes()


def test_reductions_are_accurate_float64_sums():
    # chunk sums in float64, added in chunk order: as close to the exact sum as float64 allows
    import math
    x = _x(np.float64) * 0.1
    z = np.zeros_like(x)
    with K.use_fused(True):
        got = float(K.mse_forward(x, z, "sum"))
        assert got == pytest.approx(math.fsum(x * x), rel=1e-14)
        x32 = (_x(np.float32) * 3).astype(np.float32)
        z32 = (x32 > 0).astype(np.float32)
        losses = K.bce_logits_forward(x32, z32, "none").astype(np.float64)
        assert float(K.bce_logits_forward(x32, z32, "sum")) == pytest.approx(math.fsum(losses), rel=1e-7)
