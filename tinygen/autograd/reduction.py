"""Reductions: sum, mean, max, min (and var/std composed from them), plus the two shape
adjoints they need: broadcast_to and sum_to.

The gradient of a reduction copies the upstream gradient back along the reduced axes
(``broadcast_to``); that of ``broadcast_to`` sums it back (``sum_to``). Max/min send it to the
arg-max, split evenly between ties, as ``np.max``'s subgradient.
"""
from __future__ import annotations

from .. import backend
from .dual import broadcast_to, sum_to
from .function import Function


def _norm_axes(axis, ndim):
    if axis is None:
        return tuple(range(ndim))
    if isinstance(axis, int):
        axis = (axis,)
    out = []
    for a in axis:
        if not -ndim <= a < max(ndim, 1):
            raise ValueError(f"axis {a} is out of range for a tensor with {ndim} dimensions")
        out.append(a % ndim if ndim else 0)
    return tuple(sorted(set(out)))


def _kept_shape(shape, axes):
    return tuple(1 if i in axes else s for i, s in enumerate(shape))


class Sum(Function):
    """y = Σ_axis x.    ∂L/∂x = g broadcast back over the summed axes."""

    def forward(self, x, axis=None, keepdims=False):
        self.axes = _norm_axes(axis, x.ndim)
        self.keepdims = keepdims
        return x.sum(axis=self.axes if axis is not None else None, keepdims=keepdims)

    def backward(self, g, y, x):
        if not self.keepdims:
            g = g.reshape(_kept_shape(x.shape, self.axes))
        return broadcast_to(g, x.shape)


class Mean(Function):
    """y = (1/n) Σ_axis x.    ∂L/∂x = g / n broadcast back over the averaged axes."""

    def forward(self, x, axis=None, keepdims=False):
        self.axes = _norm_axes(axis, x.ndim)
        self.keepdims = keepdims
        n = 1
        for a in self.axes:
            n *= x.shape[a]
        self.n = n
        return x.mean(axis=self.axes if axis is not None else None, keepdims=keepdims)

    def backward(self, g, y, x):
        if not self.keepdims:
            g = g.reshape(_kept_shape(x.shape, self.axes))
        return broadcast_to(g * (1.0 / max(self.n, 1)), x.shape)


class _Extremum(Function):
    """Shared by Max and Min: the gradient goes to the extreme entries, split evenly between ties."""
    reduce_name = "max"

    def forward(self, x, axis=None, keepdims=False):
        if x.size == 0:
            raise ValueError(f"{self.reduce_name}: cannot reduce a zero-size tensor of shape {x.shape}")
        self.axes = _norm_axes(axis, x.ndim)
        self.keepdims = keepdims
        ax = self.axes if axis is not None else None
        return getattr(x, self.reduce_name)(axis=ax, keepdims=keepdims)

    def backward(self, g, y, x):
        xd = x.data if hasattr(x, "grad_fn") else x
        xp = backend.get_array_module(xd)
        ax = self.axes
        m = getattr(xd, self.reduce_name)(axis=ax, keepdims=True)
        mask = xd == m
        share = mask / mask.sum(axis=ax, keepdims=True)
        share = share.astype(xd.dtype, copy=False) if xp is not None else share
        if not self.keepdims:
            g = g.reshape(_kept_shape(xd.shape, ax))
        return g * share


class Max(_Extremum):
    """y = max_axis x.    ∂L/∂x = g · [x = y] / #ties."""
    reduce_name = "max"


class Min(_Extremum):
    """y = min_axis x.    ∂L/∂x = g · [x = y] / #ties."""
    reduce_name = "min"


class BroadcastTo(Function):
    """y = broadcast(x, shape).    ∂L/∂x = sum_to(g, x.shape)."""

    def forward(self, x, shape):
        return self.xp.broadcast_to(x, shape)

    def backward(self, g, y, x):
        return sum_to(g, x.shape)


class SumTo(Function):
    """y = sum of x over the axes that broadcasting to x.shape would add.    ∂L/∂x = broadcast(g, x.shape)."""

    def forward(self, x, shape):
        return sum_to(x, shape)

    def backward(self, g, y, x):
        return broadcast_to(g, x.shape)


def var(x, axis=None, keepdims=False, ddof=0):
    """Population variance (ddof=0) like NumPy, or sample variance with ddof=1; composed of
    differentiable ops, so its gradient 2(x − x̄)/(n − ddof) and all higher ones come for free."""
    axes = _norm_axes(axis, x.ndim)
    n = 1
    for a in axes:
        n *= x.shape[a]
    ax = axes if axis is not None else None
    d = x - x.mean(axis=ax, keepdims=True)
    return (d * d).sum(axis=ax, keepdims=keepdims) * (1.0 / max(n - ddof, 1))
