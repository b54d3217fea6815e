"""Ops that change how numbers are stored, not their values: dtype casts, device moves, copies.
Gradients travel back to the input's dtype and device."""
from __future__ import annotations

from .. import backend
from .dual import cast, to_device
from .function import Function


class Cast(Function):
    """y = x.astype(dtype).    ∂L/∂x = g.astype(x.dtype)."""

    def forward(self, x, dtype):
        return x.astype(dtype)

    def backward(self, g, y, x):
        return cast(g, x.dtype)


class ToDevice(Function):
    """y = x moved to ``device``.    ∂L/∂x = g moved back."""

    def forward(self, x, device):
        self.src = backend.device_of(x)
        return backend.to_device(x, device)

    def backward(self, g, y, x):
        return to_device(g, self.src)


class Copy(Function):
    """y = copy of x.    ∂L/∂x = g."""

    def forward(self, x):
        return x.copy()

    def backward(self, g, y, x):
        return g
