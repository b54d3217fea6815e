"""Selection: where, maximum, minimum.

A selection routes each output element from one input; the gradient is routed back the same
way. Ties in maximum/minimum split the gradient evenly, as PyTorch does.
"""
from __future__ import annotations

from .. import backend
from .dual import sum_to, where
from .function import Function


def _raw(a):
    return a.data if hasattr(a, "grad_fn") else a


class Where(Function):
    """y = cond ? a : b.    ∂L/∂a = g·[cond],  ∂L/∂b = g·[¬cond]."""

    def forward(self, cond, a, b):
        if cond.dtype.kind != "b":
            cond = cond.astype(bool)
        self.cond = cond
        return self.xp.where(cond, a, b)

    def backward(self, g, y, cond, a, b):
        _, na, nb = self.needs
        ga = sum_to(where(self.cond, g, 0), a.shape) if na else None
        gb = sum_to(where(self.cond, 0, g), b.shape) if nb else None
        return None, ga, gb


class _Pick(Function):
    def forward(self, a, b):
        return self.pick(self.xp, a, b)

    def backward(self, g, y, a, b):
        ad, bd = _raw(a), _raw(b)
        xp = backend.get_array_module(ad if hasattr(ad, "shape") else bd)
        first = self.first_wins(ad, bd)
        share_a = xp.where(first, 1.0, xp.where(ad == bd, 0.5, 0.0))
        dt = ad.dtype if hasattr(ad, "dtype") else bd.dtype
        share_a = share_a.astype(dt, copy=False)
        na, nb = self.needs
        ga = sum_to(g * share_a, a.shape) if na else None
        gb = sum_to(g * (1 - share_a), b.shape) if nb else None
        return ga, gb


class Maximum(_Pick):
    """y = max(a, b) element-wise.    ∂L/∂a = g·[a > b] + g/2·[a = b]."""

    @staticmethod
    def pick(xp, a, b):
        return xp.maximum(a, b)

    @staticmethod
    def first_wins(a, b):
        return a > b


class Minimum(_Pick):
    """y = min(a, b) element-wise.    ∂L/∂a = g·[a < b] + g/2·[a = b]."""

    @staticmethod
    def pick(xp, a, b):
        return xp.minimum(a, b)

    @staticmethod
    def first_wins(a, b):
        return a < b
