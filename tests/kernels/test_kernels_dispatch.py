"""The fused/NumPy switch, implementation selection, kernel_status and warmup."""
import os
import subprocess
import sys

import numpy as np
import pytest

import tinygen.kernels as K
from tinygen.kernels import _jit, activations, conv, losses, optim

from .kutil import needs_numba

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def test_use_fused_as_context_manager_restores():
    before = K.fused_enabled()
    with K.use_fused(False):
        assert not K.fused_enabled()
        with K.use_fused(True):
            assert K.fused_enabled()
        assert not K.fused_enabled()
    assert K.fused_enabled() == before


def test_use_fused_as_function_switches():
    before = K.fused_enabled()
    try:
        K.use_fused(False)
        assert not K.fused_enabled()
        K.use_fused(True)
        assert K.fused_enabled()
    finally:
        K.use_fused(before)


def test_use_fused_rejects_non_bool():
    with pytest.raises(TypeError, match="True or False"):
        K.use_fused("numpy")


@pytest.mark.parametrize("value, expected", [("numpy", False), ("NumPy ", False), ("off", False),
                                             ("0", False), ("fused", True), ("", True), ("1", True)])
def test_env_var_sets_default(monkeypatch, value, expected):
    monkeypatch.setenv("TINYGEN_KERNELS", value)
    monkeypatch.setitem(_jit._state, "fused", None)
    assert K.fused_enabled() is expected


def test_env_var_garbage_is_a_clear_error(monkeypatch):
    monkeypatch.setenv("TINYGEN_KERNELS", "cuda-please")
    monkeypatch.setitem(_jit._state, "fused", None)
    with pytest.raises(ValueError, match="TINYGEN_KERNELS"):
        K.fused_enabled()


def test_env_var_in_fresh_process_and_import_is_lazy():
    code = ("import sys, numpy as np, tinygen.kernels as K; "
            "print(K.fused_enabled(), K.select_impl(np.zeros(3))[0], 'numba' in sys.modules)")
    env = dict(os.environ, TINYGEN_KERNELS="numpy", PYTHONPATH=ROOT)
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True,
                         check=True).stdout.split()
    assert out == ["False", "reference", "False"]


@needs_numba
def test_select_impl():
    f32 = np.zeros(3, np.float32)
    with K.use_fused(True):
        assert K.select_impl(f32) == ("numba", np)
        assert K.select_impl(np.zeros(3, np.float64), f32)[0] == "numba"
        assert K.select_impl(np.zeros(3, np.int64))[0] == "reference"
        assert K.select_impl(np.zeros(3, np.float16))[0] == "reference"
    with K.use_fused(False):
        assert K.select_impl(f32) == ("reference", np)


def test_numba_unavailable_falls_back_and_is_reported(monkeypatch):
    monkeypatch.setattr(_jit, "_numba", {"module": None, "error": "ImportError: no numba here",
                                         "checked": True})
    with K.use_fused(True):
        assert K.select_impl(np.zeros(3))[0] == "reference"
        y = K.act_forward("relu", np.array([-1.0, 2.0]))
    np.testing.assert_array_equal(y, [0.0, 2.0])
    status = K.kernel_status()
    assert status["numba"]["available"] is False
    assert "no numba here" in status["numba"]["reason"]


def _boom(*args, **kwargs):
    raise AssertionError("the Numba kernel ran although fused kernels are disabled")


x4 = np.linspace(-2, 2, 2 * 2 * 5 * 5).reshape(2, 2, 5, 5)
v = np.linspace(-2, 2, 11)
CALLS = [
    (conv, "im2col_kernel", lambda: K.im2col(x4, 3, 3, 1, 1)),
    (conv, "col2im_kernel", lambda: K.col2im(np.ones((18, 50)), x4.shape, 3, 3, 1, 1)),
    (activations, "gelu_kernel", lambda: K.act_forward("gelu", v)),
    (activations, "gelu_kernel", lambda: K.act_backward("gelu", v, None, v)),
    (activations, "tanh_kernel", lambda: K.act_backward("tanh", v, v, v)),
    (optim, "sgd_kernel", lambda: K.sgd_update(v.copy(), v, v.copy(), 0.1, momentum=0.9)),
    (optim, "adam_kernel", lambda: K.adam_update(v.copy(), v, v * 0, v * 0, 0.1)),
    (optim, "rmsprop_kernel", lambda: K.rmsprop_update(v.copy(), v, v * 0, 0.1)),
    (losses, "bce_forward_kernel", lambda: K.bce_logits_forward(v, v > 0)),
    (losses, "bce_backward_kernel", lambda: K.bce_logits_backward(v, v > 0, 1.0, 0.5)),
    (losses, "mse_forward_kernel", lambda: K.mse_forward(v, v * 0, "sum")),
    (losses, "mse_backward_kernel", lambda: K.mse_backward(v, v * 0, v, 0.5)),
]


@needs_numba
@pytest.mark.parametrize("module, name, call", CALLS, ids=[c[1] for c in CALLS])
def test_dispatcher_picks_reference_when_disabled(monkeypatch, module, name, call):
    with K.use_fused(True):
        expected = call()
    monkeypatch.setattr(module, name, _boom)
    with K.use_fused(False):
        got = call()            # must not touch the kernel
    if expected is not None:
        np.testing.assert_allclose(got, expected, rtol=1e-12, atol=1e-15)
    with K.use_fused(True), pytest.raises(AssertionError, match="kernel ran"):
        call()                  # and the fused path does use it


@needs_numba
def test_kernel_status_and_warmup():
    with K.use_fused(True):             # also under TINYGEN_KERNELS=numpy
        status = K.warmup()
    assert status["numba"]["available"] and status["numba"]["version"]
    assert status["numba"]["num_threads"] >= 1
    assert status["fused_enabled"] is True
    names = set(status["kernels"])
    assert {"im2col_kernel", "col2im_kernel", "relu_kernel", "gelu_kernel", "silu_kernel",
            "sgd_kernel", "adam_kernel", "rmsprop_kernel", "bce_forward_kernel",
            "bce_backward_kernel", "mse_forward_kernel", "mse_backward_kernel"} <= names
    for name, k in status["kernels"].items():
        assert k["compiled"], name
        assert k["compile_seconds"] >= 0
        want = "float32" if "_f32_" in name else "float64"
        assert any(want in sig for sig in k["signatures"]), name
    assert status["warmup_seconds"] >= 0


@needs_numba
def test_a_new_signature_is_recorded_once_and_repeat_calls_add_nothing():
    """Compilations are noticed from the dispatcher's overload count, not a per-call signature key:
    a new dtype/layout adds one entry, calling again adds none."""
    from tinygen.kernels import activations as A
    k, _ = A._numba_kernel("elu", np.dtype(np.float64))
    x = np.linspace(-2, 2, 7)[::2]                      # a non-contiguous layout: its own signature
    out = np.empty_like(x)
    before = dict(k.status()["signatures"] or {})
    k(False, x, x, False, x, 1.0, 0.0, out)
    after = k.status()["signatures"]
    new = set(after) - set(before)
    assert len(new) <= 1                                # recorded now (or already by an earlier test)
    assert any("array(float64, 1d, A)" in sig for sig in after), after
    np.testing.assert_allclose(out, np.where(x > 0, x, np.expm1(x)))
    k(False, x, x, False, x, 1.0, 0.0, out)
    assert k.status()["signatures"] == after


def test_kernel_status_in_a_fresh_process_lists_uncompiled_kernels():
    code = ("import json, tinygen.kernels as K; s = K.kernel_status(); "
            "print(json.dumps([s['kernels']['adam_kernel']['compiled'], "
            "s['kernels']['adam_kernel']['compile_seconds']]))")
    env = dict(os.environ, PYTHONPATH=ROOT)
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True,
                         check=True).stdout.strip()
    assert out == "[false, null]"


@needs_numba
def test_a_kernel_called_first_thing_in_a_process_runs():
    """A parallel kernel called directly, before any dispatcher looked Numba up, still works
    (it used to read the not-yet-loaded module and raise AttributeError)."""
    import subprocess
    import sys
    code = ("import numpy as np\n"
            "from tinygen.kernels import losses as L\n"
            "x = np.zeros(1 << 20, np.float32)\n"
            "print(L.bce_forward_f32_kernel(x, x, x[:0], False, np.zeros(0, np.int64)))\n")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stderr
    assert abs(float(out.stdout.strip()) - (1 << 20) * np.log(2.0)) < 1.0
