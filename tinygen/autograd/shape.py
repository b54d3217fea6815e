"""Shape ops: reshape, permute, indexing, concatenation, and the scatter-add adjoint of indexing.

These move numbers around without changing them, so each gradient moves them back:
reshape ↔ reshape, permute ↔ inverse permute, x[i] ↔ scatter-add into zeros, cat ↔ split.
"""
from __future__ import annotations

from .. import backend
from .dual import index_add_zeros, permute
from .function import Function, Tensor


class Reshape(Function):
    """y = x.reshape(shape).    ∂L/∂x = g.reshape(x.shape)."""

    def forward(self, x, shape):
        try:
            return x.reshape(shape)
        except ValueError:
            raise ValueError(f"reshape: cannot reshape a tensor of shape {x.shape} ({x.size} elements) "
                             f"into {shape}") from None

    def backward(self, g, y, x):
        return g.reshape(x.shape)


class Permute(Function):
    """y = x.transpose(axes).    ∂L/∂x = g.transpose(argsort(axes))."""

    def forward(self, x, axes):
        self.axes = axes
        return x.transpose(axes)

    def backward(self, g, y, x):
        inv = [0] * len(self.axes)
        for i, a in enumerate(self.axes):
            inv[a] = i
        return permute(g, tuple(inv))


def _is_basic(index) -> bool:
    items = index if isinstance(index, tuple) else (index,)
    for i in items:
        if not (i is None or i is Ellipsis or isinstance(i, (int, slice))):
            if hasattr(i, "dtype") and i.dtype.kind == "b":
                continue          # boolean masks select each element at most once
            return False
    return True


def scatter_add_array(shape, index, g):
    """zeros(shape) with g added at index; repeated integer indices accumulate (np.add.at)."""
    xp = backend.get_array_module(g)
    out = xp.zeros(shape, dtype=g.dtype)
    if _is_basic(index):
        out[index] = g
    else:
        xp.add.at(out, index, g)
    return out


class GetItem(Function):
    """y = x[index] (slices, ints, None, Ellipsis, boolean masks, integer arrays).
    ∂L/∂x = zeros_like(x) with g scattered (added) at index."""

    def forward(self, x, index):
        self.index = index
        try:
            return x[index]
        except IndexError as exc:
            raise IndexError(f"__getitem__: {exc} (tensor shape {x.shape})") from None

    def backward(self, g, y, x):
        return index_add_zeros(x.shape, self.index, g)


class IndexAddZeros(Function):
    """y = zeros(shape) with x added at index.    ∂L/∂x = g[index]  (the adjoint of GetItem)."""

    def forward(self, x, shape, index):
        self.index = index
        return scatter_add_array(shape, index, x)

    def backward(self, g, y, x):
        return g[self.index]


class Cat(Function):
    """y = concatenate(xs, axis).    ∂L/∂xᵢ = the slice of g that xᵢ occupies."""

    def forward(self, *xs, axis=0):
        ref = xs[0]
        nd = ref.ndim
        if nd == 0:
            raise ValueError("cat: zero-dimensional tensors cannot be concatenated; use stack")
        axis = axis % nd
        for i, x in enumerate(xs):
            if x.ndim != nd or any(s != r for j, (s, r) in enumerate(zip(x.shape, ref.shape)) if j != axis):
                raise ValueError(f"cat: tensor {i} has shape {x.shape}, incompatible with {ref.shape} "
                                 f"along axis {axis} (all other dimensions must match)")
        self.axis = axis
        self.bounds = []
        start = 0
        for x in xs:
            self.bounds.append((start, start + x.shape[axis]))
            start += x.shape[axis]
        return self.xp.concatenate(xs, axis=axis)

    def backward(self, g, y, *xs):
        pre = (slice(None),) * self.axis
        return tuple(g[pre + (slice(s, e),)] if need else None
                     for (s, e), need in zip(self.bounds, self.needs))


def cat(tensors, axis=0, *, dim=None):
    """Join tensors along an existing axis (``np.concatenate``/``torch.cat``)."""
    if dim is not None:
        axis = dim
    tensors = list(tensors)
    if not tensors:
        raise ValueError("cat: expected a non-empty list of tensors")
    return Cat.apply(*tensors, axis=axis)


def stack(tensors, axis=0, *, dim=None):
    """Join tensors along a new axis (``np.stack``/``torch.stack``)."""
    if dim is not None:
        axis = dim
    tensors = [t if isinstance(t, Tensor) else Tensor(t) for t in tensors]
    if not tensors:
        raise ValueError("stack: expected a non-empty list of tensors")
    shape = tensors[0].shape
    for i, t in enumerate(tensors):
        if t.shape != shape:
            raise ValueError(f"stack: tensor {i} has shape {t.shape}, but tensor 0 has shape {shape}")
    nd = len(shape) + 1
    axis = axis % nd
    return Cat.apply(*[t.unsqueeze(axis) for t in tensors], axis=axis)
