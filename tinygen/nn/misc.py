"""Embedding, Dropout, Flatten/Unflatten, pooling and upsampling layers."""
from __future__ import annotations

from . import init
from ._util import F, empty_param, pair, single
from .module import Module


class Embedding(Module):
    """A lookup table: row i of ``weight`` (num_embeddings, embedding_dim) for index i; weight ~ N(0, 1).

    ``padding_idx``: that row starts at zero (and gets no gradient when the functional supports it).
    """

    def __init__(self, num_embeddings, embedding_dim, padding_idx=None, max_norm=None, norm_type=2.0,
                 scale_grad_by_freq=False, sparse=False, _weight=None, _freeze=False, device=None, dtype=None):
        super().__init__()
        if max_norm is not None:
            raise NotImplementedError("Embedding(max_norm=...) is not supported")
        if scale_grad_by_freq or sparse:
            raise NotImplementedError("Embedding: scale_grad_by_freq and sparse are not supported")
        self.num_embeddings = int(num_embeddings)
        self.embedding_dim = int(embedding_dim)
        if padding_idx is not None:
            if not -self.num_embeddings <= padding_idx < self.num_embeddings:
                raise ValueError("Padding_idx must be within num_embeddings")
            padding_idx = padding_idx % self.num_embeddings
        self.padding_idx = padding_idx
        self.weight = empty_param((self.num_embeddings, self.embedding_dim), dtype, device,
                                  requires_grad=not _freeze)
        if _weight is not None:
            w = _weight.data if hasattr(_weight, "data") and not hasattr(_weight, "flags") else _weight
            if tuple(w.shape) != (self.num_embeddings, self.embedding_dim):
                raise ValueError(f"Embedding: _weight has shape {tuple(w.shape)}, expected "
                                 f"{(self.num_embeddings, self.embedding_dim)}")
            self.weight.data[...] = w
        else:
            self.reset_parameters()

    def reset_parameters(self):
        init.normal_(self.weight)
        if self.padding_idx is not None:
            self.weight.data[self.padding_idx] = 0

    def forward(self, indices):
        if self.padding_idx is not None:
            return F().embedding(indices, self.weight, padding_idx=self.padding_idx)
        return F().embedding(indices, self.weight)

    def extra_repr(self):
        s = f"{self.num_embeddings}, {self.embedding_dim}"
        if self.padding_idx is not None:
            s += f", padding_idx={self.padding_idx}"
        return s


class Dropout(Module):
    """Training: zero each element with probability p and scale the rest by 1/(1 − p). Eval: identity."""

    def __init__(self, p: float = 0.5, inplace: bool = False):
        super().__init__()
        if not 0.0 <= p <= 1.0:
            raise ValueError(f"dropout probability has to be between 0 and 1, but got {p}")
        self.p = float(p)
        self.inplace = inplace

    def forward(self, x):
        return F().dropout(x, self.p, self.training)

    def extra_repr(self):
        return f"p={self.p}, inplace={self.inplace}"


class Flatten(Module):
    """Flattens axes ``start_dim..end_dim`` into one (default: all but the batch axis)."""

    def __init__(self, start_dim: int = 1, end_dim: int = -1):
        super().__init__()
        self.start_dim = start_dim
        self.end_dim = end_dim

    def forward(self, x):
        return x.flatten(self.start_dim, self.end_dim)

    def extra_repr(self):
        return f"start_dim={self.start_dim}, end_dim={self.end_dim}"


class Unflatten(Module):
    """Expands axis ``dim`` into ``unflattened_size`` (e.g. (N, 784) → (N, 1, 28, 28))."""

    def __init__(self, dim: int, unflattened_size):
        super().__init__()
        self.dim = dim
        self.unflattened_size = tuple(int(s) for s in unflattened_size)

    def forward(self, x):
        d = self.dim % x.ndim
        size = 1
        unknown = [i for i, s in enumerate(self.unflattened_size) if s == -1]
        for s in self.unflattened_size:
            if s != -1:
                size *= s
        new = list(self.unflattened_size)
        if unknown:
            new[unknown[0]] = x.shape[d] // max(size, 1)
            size *= new[unknown[0]]
        if size != x.shape[d]:
            raise ValueError(f"Unflatten: cannot unflatten axis {self.dim} of size {x.shape[d]} "
                             f"(input shape {tuple(x.shape)}) into {self.unflattened_size}")
        return x.reshape(tuple(x.shape[:d]) + tuple(new) + tuple(x.shape[d + 1:]))

    def extra_repr(self):
        return f"dim={self.dim}, unflattened_size={self.unflattened_size}"


class MaxPool2d(Module):
    def __init__(self, kernel_size, stride=None, padding=0, dilation=1, return_indices=False, ceil_mode=False):
        super().__init__()
        if dilation != 1 or return_indices or ceil_mode:
            raise NotImplementedError("MaxPool2d: dilation, return_indices and ceil_mode are not supported")
        self.kernel_size = kernel_size
        self.stride = stride if stride is not None else kernel_size
        self.padding = padding
        self.dilation = dilation
        self.return_indices = return_indices
        self.ceil_mode = ceil_mode

    def forward(self, x):
        return F().max_pool2d(x, self.kernel_size, self.stride, self.padding)

    def extra_repr(self):
        return (f"kernel_size={self.kernel_size}, stride={self.stride}, padding={self.padding}, "
                f"dilation={self.dilation}, ceil_mode={self.ceil_mode}")


class AvgPool2d(Module):
    def __init__(self, kernel_size, stride=None, padding=0, ceil_mode=False, count_include_pad=True,
                 divisor_override=None):
        super().__init__()
        if ceil_mode or divisor_override is not None:
            raise NotImplementedError("AvgPool2d: ceil_mode and divisor_override are not supported")
        if not count_include_pad and pair(padding) != (0, 0):
            raise NotImplementedError("AvgPool2d: count_include_pad=False with padding is not supported")
        self.kernel_size = kernel_size
        self.stride = stride if stride is not None else kernel_size
        self.padding = padding
        self.ceil_mode = ceil_mode
        self.count_include_pad = count_include_pad
        self.divisor_override = divisor_override

    def forward(self, x):
        return F().avg_pool2d(x, self.kernel_size, self.stride, self.padding)

    def extra_repr(self):
        return f"kernel_size={self.kernel_size}, stride={self.stride}, padding={self.padding}"


class Upsample(Module):
    """Nearest-neighbour upsampling by an integer ``scale_factor`` (or to ``size``)."""

    def __init__(self, size=None, scale_factor=None, mode="nearest", align_corners=None, recompute_scale_factor=None):
        super().__init__()
        if mode != "nearest":
            raise NotImplementedError(f"Upsample(mode={mode!r}): only 'nearest' is supported")
        if (size is None) == (scale_factor is None):
            raise ValueError("Upsample: give exactly one of size and scale_factor")
        self.size = size
        self.scale_factor = scale_factor
        self.mode = mode
        self.align_corners = align_corners

    def forward(self, x):
        if self.scale_factor is not None:
            sf = self.scale_factor
            sf = tuple(sf) if isinstance(sf, (tuple, list)) else (sf, sf)
        else:
            size = pair(self.size, "size")
            if x.ndim != 4 or size[0] % x.shape[2] or size[1] % x.shape[3]:
                raise NotImplementedError(f"Upsample(size={self.size}): only integer multiples of the input's "
                                          f"spatial size are supported (input shape {tuple(x.shape)})")
            sf = (size[0] // x.shape[2], size[1] // x.shape[3])
        if any(float(s) != int(s) for s in sf):
            raise NotImplementedError(f"Upsample: only integer scale factors are supported, got {self.scale_factor}")
        return F().upsample_nearest(x, scale_factor=single(tuple(int(s) for s in sf)))

    def extra_repr(self):
        if self.scale_factor is not None:
            return f"scale_factor={self.scale_factor}, mode='{self.mode}'"
        return f"size={self.size}, mode='{self.mode}'"
