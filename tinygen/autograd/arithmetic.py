"""Arithmetic: + − × ÷, negation and powers, with NumPy broadcasting.

Every binary op may broadcast its inputs; the gradient of each input is then summed back over
the broadcast axes (``sum_to``), which is the adjoint of broadcasting.
"""
from __future__ import annotations

import math

import numpy as _np

from .dual import log, sum_to, where
from .function import Function


class Add(Function):
    """z = a + b.    ∂L/∂a = g,  ∂L/∂b = g   (each summed back to its input's shape)."""
    host_forward = _np.add

    def forward(self, a, b):
        return a + b

    def backward(self, g, z, a, b):
        ea, eb = self.edges                 # an input's edge is None when it needs no gradient
        gs = g.shape
        ga = (g if a.shape == gs else sum_to(g, a.shape)) if ea is not None else None
        gb = (g if b.shape == gs else sum_to(g, b.shape)) if eb is not None else None
        return ga, gb


class Sub(Function):
    """z = a − b.    ∂L/∂a = g,  ∂L/∂b = −g."""
    host_forward = _np.subtract

    def forward(self, a, b):
        return a - b

    def backward(self, g, z, a, b):
        ea, eb = self.edges                 # an input's edge is None when it needs no gradient
        gs = g.shape
        ga = (g if a.shape == gs else sum_to(g, a.shape)) if ea is not None else None
        gb = (-g if b.shape == gs else sum_to(-g, b.shape)) if eb is not None else None
        return ga, gb


class Mul(Function):
    """z = a · b.    ∂L/∂a = g · b,  ∂L/∂b = g · a."""
    host_forward = _np.multiply

    def forward(self, a, b):
        return a * b

    def backward(self, g, z, a, b):
        ea, eb = self.edges                 # an input's edge is None when it needs no gradient
        ga = gb = None
        if ea is not None:
            ga = g * b
            if ga.shape != a.shape:
                ga = sum_to(ga, a.shape)
        if eb is not None:
            gb = g * a
            if gb.shape != b.shape:
                gb = sum_to(gb, b.shape)
        return ga, gb


class Div(Function):
    """z = a / b.    ∂L/∂a = g / b,  ∂L/∂b = −g · a / b²."""

    def forward(self, a, b):
        return a / b

    def backward(self, g, z, a, b):
        ea, eb = self.edges                 # an input's edge is None when it needs no gradient
        ga = sum_to(g / b, a.shape) if ea is not None else None
        gb = sum_to(-g * a / (b * b), b.shape) if eb is not None else None
        return ga, gb


class Neg(Function):
    """z = −a.    ∂L/∂a = −g."""

    def forward(self, a):
        return -a

    def backward(self, g, z, a):
        return -g


class PowScalar(Function):
    """z = aᵖ for a Python number p.    ∂L/∂a = g · p · aᵖ⁻¹."""

    def forward(self, a, exponent):
        self.p = exponent
        if exponent == 2:
            return a * a
        return a ** exponent

    def backward(self, g, z, a):
        p = self.p
        if p == 2:
            return g * (2 * a)
        if p == 1:
            return g
        return g * (p * a ** (p - 1))


class Pow(Function):
    """z = aᵇ (both tensors).    ∂L/∂a = g · b · aᵇ⁻¹,   ∂L/∂b = g · aᵇ · ln a   (0 where a ≤ 0)."""
    saves_output = True

    def forward(self, a, b):
        return a ** b

    def backward(self, g, z, a, b):
        na, nb = self.needs
        ga = sum_to(g * b * a ** (b - 1), a.shape) if na else None
        gb = None
        if nb:
            if isinstance(a, (int, float)):              # a number base: ln a is a constant
                gb = sum_to(g * z * (math.log(a) if a > 0 else 0.0), b.shape)
            else:
                ad = a.data if hasattr(a, "grad_fn") else a
                pos = ad > 0
                safe_a = where(pos, a, 1)
                gb = sum_to(g * z * where(pos, log(safe_a), 0), b.shape)
        return ga, gb
