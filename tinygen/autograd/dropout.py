"""Inverted dropout: y = x · mask / (1 − p), mask ~ Bernoulli(1 − p) per element.

Scaling the kept units by 1/(1 − p) at training time keeps E[y] = x, so evaluation is the
identity. The mask comes from ``tinygen.random.generator(device)`` (seeded by
``tg.manual_seed``) and is a constant of the node:  ∂L/∂x = g · mask / (1 − p).
"""
from __future__ import annotations

from .. import backend, random
from .function import Function


def _uniform(shape, dtype, device):
    """U[0, 1) samples from the device's seeded generator. ``Generator.random`` is the method that
    NumPy's and CuPy's generators share (CuPy's has no ``uniform``)."""
    gen = random.generator(device)
    dt = dtype if dtype.kind == "f" and dtype.itemsize >= 4 else "float32"
    if hasattr(gen, "random"):
        return gen.random(shape, dtype=dt)
    return gen.random_sample(shape)          # a legacy RandomState


class Dropout(Function):
    """y = x · m,  m = [u ≥ p] / (1 − p),  u ~ U[0, 1).    ∂L/∂x = g · m."""

    def forward(self, x, p=0.5):
        u = _uniform(x.shape, x.dtype, backend.device_of(x))
        if p >= 1.0:
            self.mask = self.xp.zeros_like(x)
        else:
            self.mask = (u >= p).astype(x.dtype) * (1.0 / (1.0 - p))
        return x * self.mask

    def backward(self, g, y, x):
        return g * self.mask
