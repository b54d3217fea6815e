"""The CuPy paths cannot run without a GPU; check their plumbing with a recording stand-in:
kernels are built once, called with as many arguments as they declare, and the CUDA sources
assign every declared output."""
import re
import types

import numpy as np
import pytest

import tinygen.kernels as K
from tinygen.kernels import _jit


def _params(spec):
    return [p.split()[-1] for p in spec.split(",") if p.strip()]


class _Kernel:
    def __init__(self, in_params, out_params, *code, preamble="", **kw):
        self.ins, self.outs = _params(in_params), _params(out_params)
        self.code = " ".join(c for c in code if isinstance(c, str)) + preamble
        for name in self.outs:
            assert re.search(rf"\b{name}\s*=[^=]", self.code), f"output {name} never assigned"
        built.append(self)

    def __call__(self, *args):
        assert len(args) in (len(self.ins), len(self.ins) + len(self.outs)), \
            f"{len(args)} arguments for {self.ins} -> {self.outs}"
        calls.append(self)
        if len(args) == len(self.ins) + len(self.outs):
            return args[-1]
        arrays = [a for a in args if isinstance(a, np.ndarray)]
        if len(self.outs) == 1 and self.code.count("a + b"):      # reduction
            return np.asarray(0.0)
        return np.zeros_like(arrays[0])


built, calls = [], []
fake_cupy = types.SimpleNamespace(__name__="cupy", ElementwiseKernel=_Kernel, ReductionKernel=_Kernel,
                                  ascontiguousarray=np.ascontiguousarray, empty=np.empty,
                                  empty_like=np.empty_like, asarray=np.asarray, float64=np.float64)


@pytest.fixture(autouse=True)
def cupy_path(monkeypatch):
    monkeypatch.setattr(_jit, "_cupy_cache", {})
    for mod in ("conv", "activations", "optim", "losses"):
        monkeypatch.setattr(f"tinygen.kernels.{mod}.select_impl", lambda *a: ("cupy", fake_cupy))
    built.clear()
    calls.clear()


def test_conv():
    x = np.zeros((2, 3, 5, 5), np.float32)
    cols = K.im2col(x, 3, 3, 1, 1)
    K.col2im(cols, x.shape, 3, 3, 1, 1)
    K.im2col(x, 3, 3, 1, 1)
    assert len(built) == 2 and len(calls) == 3


@pytest.mark.parametrize("name", K.ACTIVATIONS)
def test_activations(name):
    x = np.zeros(4, np.float32)
    y = K.act_forward(name, x)
    K.act_backward(name, x, y, x)
    K.act_backward(name, x, None, x)
    assert len(built) == 2 and len(calls) == 3


def test_optimizers():
    p = np.zeros(4, np.float32)
    for momentum in (0.0, 0.9):
        K.sgd_update(p, p, p.copy(), 0.1, momentum=momentum)
        K.rmsprop_update(p, p, p.copy(), 0.1, momentum=momentum, buf=p.copy())
        K.rmsprop_update(p, p, p.copy(), 0.1, momentum=momentum, centered=True, buf=p.copy(),
                         g_avg=p.copy())
    K.adam_update(p, p, p.copy(), p.copy(), 0.1)
    assert len(calls) == 7


def test_losses():
    x = np.zeros(4, np.float32)
    for fwd, bwd in ((K.bce_logits_forward, K.bce_logits_backward), (K.mse_forward, K.mse_backward)):
        for reduction in ("mean", "sum", "none"):
            fwd(x, x, reduction)
        bwd(x, x, 1.0, 0.5)
        bwd(x, x, x, 0.5)
    assert len(calls) == 10
