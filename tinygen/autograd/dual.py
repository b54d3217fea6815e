"""Helpers that backward formulas use, working on raw arrays *and* on Tensors.

Every op's backward is written once. On the fast path it receives arrays and these helpers call
the array namespace directly; under ``create_graph=True`` it receives Tensors and the same
helpers call differentiable tinygen ops, so the backward pass is recorded. Operators (``+ - * /
@ **``), ``.reshape``, ``.sum(axis, keepdims)``, ``.swapaxes`` and indexing already behave the same
on both, so only what differs between NumPy and tinygen lives here.
"""
from __future__ import annotations

from .. import backend
from .function import Tensor


def is_tensor(a) -> bool:
    return isinstance(a, Tensor)


def xp_of(a):
    return backend.get_array_module(a.data if isinstance(a, Tensor) else a)


def sum_to(g, shape):
    """Sum ``g`` over the axes that broadcasting added or stretched, so it has ``shape``.

    The adjoint of broadcasting: if y = broadcast(x), then dL/dx = sum_to(dL/dy, x.shape).
    """
    gshape = g.shape
    if gshape == shape:
        return g
    lead = len(gshape) - len(shape)
    axes = tuple(range(lead)) + tuple(i + lead for i, s in enumerate(shape) if s == 1 and gshape[i + lead] != 1)
    if isinstance(g, Tensor):
        from .ops import SumTo
        return SumTo.apply(g, shape=tuple(shape))
    out = g.sum(axis=axes) if axes else g
    return out.reshape(shape)


def broadcast_to(g, shape):
    if tuple(g.shape) == tuple(shape):
        return g
    if isinstance(g, Tensor):
        from .ops import BroadcastTo
        return BroadcastTo.apply(g, shape=tuple(shape))
    return xp_of(g).broadcast_to(g, shape)


def permute(g, axes):
    if isinstance(g, Tensor):
        return g.permute(*axes)
    return g.transpose(axes)


def _unary(name):
    def f(a):
        if isinstance(a, Tensor):
            return getattr(a, name)()
        return getattr(xp_of(a), name)(a)
    f.__name__ = name
    return f


exp = _unary("exp")
log = _unary("log")
sqrt = _unary("sqrt")
sin = _unary("sin")
cos = _unary("cos")
tanh = _unary("tanh")


def sigmoid(a):
    if isinstance(a, Tensor):
        return a.sigmoid()
    from .elementwise import sigmoid_array
    return sigmoid_array(a)


def where(cond, a, b):
    """``cond`` is a constant boolean array; ``a``/``b`` arrays, Tensors or numbers."""
    if isinstance(a, Tensor) or isinstance(b, Tensor):
        from .ops import Where
        return Where.apply(cond, a, b)
    return xp_of(cond).where(cond, a, b)


def index_add_zeros(shape, index, g, dtype=None):
    """zeros(shape) with ``g`` added at ``index`` (repeated indices accumulate): the adjoint of x[index]."""
    if isinstance(g, Tensor):
        from .ops import IndexAddZeros
        return IndexAddZeros.apply(g, shape=tuple(shape), index=index)
    from .shape import scatter_add_array
    return scatter_add_array(shape, index, g)


def cast(g, dtype):
    if g.dtype == dtype:
        return g
    if isinstance(g, Tensor):
        return g.astype(dtype)
    return g.astype(dtype)


def to_device(g, device):
    if isinstance(g, Tensor):
        return g.to(device)
    return backend.to_device(g, device)
