"""Matrix products.

For C = A @ B (batched, broadcasting over leading axes):
    ∂L/∂A = G @ Bᵀ,   ∂L/∂B = Aᵀ @ G   (each summed back over broadcast batch axes).
1-D operands follow NumPy: a vector on the left is a row, on the right a column.
"""
from __future__ import annotations

from ..parallel import matmul as _mm          # 2-D host products on tinygen's workers; else a @ b
from .dual import sum_to
from .function import Function


class MatMul(Function):
    """C = A @ B.    ∂L/∂A = G Bᵀ,  ∂L/∂B = Aᵀ G."""

    def forward(self, a, b):
        if a.ndim == 0 or b.ndim == 0:
            raise ValueError(f"matmul: both operands need at least one dimension, got shapes {a.shape} and {b.shape}; "
                             "use * for scalars")
        if a.shape[-1] != b.shape[-2 if b.ndim > 1 else 0]:
            raise ValueError(f"matmul: shapes {a.shape} and {b.shape} are not aligned: "
                             f"{a.shape[-1]} (last of A) != {b.shape[-2 if b.ndim > 1 else 0]} "
                             f"({'second-to-last' if b.ndim > 1 else 'only'} of B)")
        return _mm(a, b)

    def backward(self, g, c, a, b):
        ea, eb = self.edges                 # an input's edge is None when it needs no gradient
        a_vec, b_vec = a.ndim == 1, b.ndim == 1
        a2 = a.reshape((1,) + a.shape) if a_vec else a
        b2 = b.reshape(b.shape + (1,)) if b_vec else b
        if a_vec:
            g = g.reshape(g.shape[:-1] + (1,) + g.shape[-1:]) if not b_vec else g.reshape((1, 1))
        if b_vec:
            g = g.reshape(g.shape + (1,)) if not a_vec else g
        ga = gb = None
        if ea is not None:
            ga = sum_to(_mm(g, b2.swapaxes(-1, -2)), a2.shape)
            if a_vec:
                ga = ga.reshape(a.shape)
        if eb is not None:
            gb = sum_to(_mm(a2.swapaxes(-1, -2), g), b2.shape)
            if b_vec:
                gb = gb.reshape(b.shape)
        return ga, gb
