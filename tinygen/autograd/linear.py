"""Linear maps and lookups: linear (the MLP hot path), embedding, one_hot.

linear is ONE node, y = x Wᵀ + b, with
    ∂L/∂x = g W,   ∂L/∂W = gᵀ x,   ∂L/∂b = Σ_rows g
(leading axes of x flattened into rows), each a single GEMM. The backward is written with ``@``,
``.reshape`` and ``.sum`` only, so it is differentiable again (create_graph=True).

embedding gathers rows, y = W[idx]; its gradient scatter-adds g into the rows of W. NumPy's
``np.add.at`` is slow, so the scatter sorts the indices and sums each run with one
``add.reduceat`` (or a Numba kernel). Gather and scatter are each other's adjoint, which gives the double backward.
"""
from __future__ import annotations

import numpy

from .. import backend
from ..kernels.embedding import scatter_rows as _scatter_rows
from ..parallel import matmul as _pmatmul
from .dual import is_tensor
from .function import Function


def _raw(a):
    return a.data if is_tensor(a) else a


# --------------------------------------------------------------------------- linear
def _matmul(a, b):
    """a @ b for 2-D host or device arrays (large host products on tinygen's workers). An inner
    dimension of 1 (an outer product) is a broadcast multiply: OpenBLAS takes 0.56 ms for the
    (64, 1) @ (1, 6272) of a DCGAN critic's last layer in backward, broadcasting 0.03 ms (same
    values: one product per element)."""
    if a.shape[-1] == 1 and type(a) is numpy.ndarray and type(b) is numpy.ndarray:
        return a * b
    return _pmatmul(a, b)


class Linear(Function):
    """y = x Wᵀ + b,  x (..., in), W (out, in), b (out,) or None.
    ∂L/∂x = g W,   ∂L/∂W = gᵀ x,   ∂L/∂b = Σ g   (rows = all leading axes)."""

    def forward(self, x, w, b=None):
        if w.ndim != 2:
            raise ValueError(f"linear: weight must be 2-D (out_features, in_features), got shape {w.shape}")
        if x.ndim == 0 or x.shape[-1] != w.shape[1]:
            raise ValueError(f"linear: input has {x.shape[-1] if x.ndim else 0} features but weight expects "
                             f"{w.shape[1]} (input {x.shape}, weight {w.shape})")
        if b is not None and tuple(b.shape) != (w.shape[0],):
            raise ValueError(f"linear: bias must have shape ({w.shape[0]},), got {b.shape} (weight {w.shape})")
        x2 = x if x.ndim == 2 else x.reshape(-1, w.shape[1])
        y = _matmul(x2, w.T)
        if b is not None:
            y += b
        return y if x.ndim == 2 else y.reshape(x.shape[:-1] + (w.shape[0],))

    def backward(self, g, y, x, w, b=None):
        nx, nw, nb = (self.needs + [False])[:3]
        n_out, n_in = w.shape
        rows = 1
        for s in x.shape[:-1]:
            rows *= s
        g2 = g if g.ndim == 2 else g.reshape((rows, n_out))
        gx = gw = gb = None
        if nx:
            gx = _matmul(g2, w)
            if x.ndim != 2:
                gx = gx.reshape(x.shape)
        if nw:
            x2 = x if x.ndim == 2 else x.reshape((rows, n_in))
            gw = _matmul(g2.swapaxes(-1, -2), x2)
        if nb:
            gb = g2.sum(axis=0)
        return gx, gw, gb


# --------------------------------------------------------------------------- embedding
def _check_indices(idx, num, op):
    if getattr(idx, "dtype", None) is None or idx.dtype.kind not in "iu":
        raise TypeError(f"{op}: indices must be an integer array or tensor, got dtype "
                        f"{getattr(idx, 'dtype', type(idx).__name__)}")
    if idx.size:
        lo, hi = int(idx.min()), int(idx.max())
        if lo < 0 or hi >= num:
            raise IndexError(f"{op}: index {lo if lo < 0 else hi} is out of range for {num} rows "
                             f"(indices of shape {idx.shape})")


def scatter_rows(num_rows, idx, g):
    """zeros((num_rows, D)) with row g[k] added into row idx[k]; repeated indices accumulate
    (tinygen.kernels.scatter_rows: a Numba kernel, or its references)."""
    return _scatter_rows(num_rows, idx, g)


def _gather(w, idx):
    return Embedding.apply(w, idx) if is_tensor(w) else w[idx]


class Embedding(Function):
    """y = W[idx]   (W (num, D), idx any integer shape → y idx.shape + (D,)).
    ∂L/∂W = scatter-add of g into the rows idx (rows equal to ``padding_idx`` get none)."""

    def forward(self, w, idx, padding_idx=None):
        if w.ndim != 2:
            raise ValueError(f"embedding: weight must be 2-D (num_embeddings, embedding_dim), got shape {w.shape}")
        _check_indices(idx, w.shape[0], "embedding")
        self.idx = idx
        self.padding_idx = padding_idx
        return w[idx]

    def backward(self, g, y, w, idx):
        return _scatter(g, self.idx, w.shape[0], self.padding_idx)


def _scatter(g, idx, num_rows, padding_idx):
    if is_tensor(g):
        return EmbeddingScatter.apply(g, idx=idx, num_rows=num_rows, padding_idx=padding_idx)
    d = g.shape[-1]
    flat = idx.reshape(-1)
    g2 = g.reshape(flat.shape[0], d)
    if padding_idx is not None:
        keep = flat != padding_idx
        flat, g2 = flat[keep], g2[keep]
    return scatter_rows(num_rows, flat, g2)


class EmbeddingScatter(Function):
    """y = zeros((num_rows, D)) with g[k] added at row idx[k] (the adjoint of Embedding).
    ∂L/∂g = gg[idx] (a gather), zero for entries equal to ``padding_idx``."""

    def forward(self, g, idx, num_rows, padding_idx=None):
        self.idx, self.num_rows, self.padding_idx = idx, num_rows, padding_idx
        return _scatter(g, idx, num_rows, padding_idx)

    def backward(self, gg, y, g):
        out = _gather(gg, self.idx)
        if self.padding_idx is not None:
            mask = (self.idx != self.padding_idx)[..., None].astype(g.dtype)
            out = out * mask
        return out


# --------------------------------------------------------------------------- one_hot
def one_hot_array(labels, num_classes=-1, dtype=numpy.int64):
    """labels (any integer shape) → labels.shape + (num_classes,) with a 1 at each label."""
    xp = backend.get_array_module(labels)
    if getattr(labels, "dtype", None) is None or labels.dtype.kind not in "iu":
        raise TypeError(f"one_hot: labels must be integers, got dtype {getattr(labels, 'dtype', None)}")
    if num_classes is None or num_classes < 0:
        if labels.size == 0:
            raise ValueError("one_hot: cannot infer num_classes from an empty label array; pass num_classes")
        num_classes = int(labels.max()) + 1
    _check_indices(labels, num_classes, "one_hot")
    flat = labels.reshape(-1)
    out = xp.zeros((flat.shape[0], num_classes), dtype=dtype)
    out[xp.arange(flat.shape[0]), flat] = 1
    return out.reshape(labels.shape + (num_classes,))
