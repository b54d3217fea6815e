"""Function forms of the Tensor methods (``tg.exp(x)``, ``tg.where(c, a, b)``, ...).
Arrays and numbers are accepted wherever a Tensor is expected (wrapped, no grad)."""
from __future__ import annotations

from .autograd import ops
from .tensor import Tensor


def as_tensor(x, dtype=None, device=None):
    """``x`` itself if it is a Tensor, else a new constant Tensor."""
    if isinstance(x, Tensor) and dtype is None and device is None:
        return x
    if isinstance(x, Tensor):
        return x.to(*(a for a in (device, dtype) if a is not None))
    return Tensor(x, dtype=dtype, device=device)


def _unary(method):
    def f(x):
        return getattr(as_tensor(x), method)()
    f.__name__ = method
    f.__doc__ = f"Element-wise {method} (same as ``Tensor.{method}``)."
    return f


exp = _unary("exp")
log = _unary("log")
sqrt = _unary("sqrt")
sin = _unary("sin")
cos = _unary("cos")
tanh = _unary("tanh")
sigmoid = _unary("sigmoid")
relu = _unary("relu")
abs = _unary("abs")  # noqa: A001
square = _unary("square")


def clip(x, min=None, max=None):  # noqa: A002
    return as_tensor(x).clip(min, max)


clamp = clip


def sum(x, axis=None, keepdims=False, **kw):  # noqa: A001
    return as_tensor(x).sum(axis, keepdims, **kw)


def mean(x, axis=None, keepdims=False, **kw):
    return as_tensor(x).mean(axis, keepdims, **kw)


def var(x, axis=None, keepdims=False, ddof=0, **kw):
    return as_tensor(x).var(axis, keepdims, ddof, **kw)


def std(x, axis=None, keepdims=False, ddof=0, **kw):
    return as_tensor(x).std(axis, keepdims, ddof, **kw)


def max(x, axis=None, keepdims=False, **kw):  # noqa: A001
    return as_tensor(x).max(axis, keepdims, **kw)


def min(x, axis=None, keepdims=False, **kw):  # noqa: A001
    return as_tensor(x).min(axis, keepdims, **kw)


def reshape(x, *shape):
    return as_tensor(x).reshape(*shape)


def transpose(x, a, b):
    return as_tensor(x).transpose(a, b)


def permute(x, *axes):
    return as_tensor(x).permute(*axes)


def flatten(x, start_dim=0, end_dim=-1):
    return as_tensor(x).flatten(start_dim, end_dim)


def squeeze(x, axis=None, **kw):
    return as_tensor(x).squeeze(axis, **kw)


def unsqueeze(x, axis=None, **kw):
    return as_tensor(x).unsqueeze(axis, **kw)


def matmul(a, b):
    """Matrix product with NumPy's broadcasting and 1-D rules."""
    return ops.MatMul.apply(a, b)


def where(cond, a, b):
    """``a`` where ``cond`` holds, else ``b``; differentiable in ``a`` and ``b``."""
    return ops.Where.apply(cond, a, b)


def maximum(a, b):
    return ops.Maximum.apply(a, b)


def minimum(a, b):
    return ops.Minimum.apply(a, b)


cat = ops.cat
concatenate = ops.cat
stack = ops.stack


def einsum(subscripts, *operands):
    """Einstein summation for explicit subscripts (``"ij,jk->ik"``); each operand's gradient is
    the einsum of the upstream gradient with the other operands."""
    from .autograd.einsum import Einsum
    return Einsum.apply(*operands, subscripts=subscripts)
