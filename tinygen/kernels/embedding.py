"""Row scatter-add for the embedding gradient: ``out = zeros((R, D)); out[idx[k]] += g[k]``.

The Numba kernel is one serial pass over g (memory-bound; threads splitting the columns were
measured slower). References: on NumPy, a stable argsort of idx and one ``add.reduceat`` over
the runs of equal indices (vectorised, O(n log n)); on CuPy its atomic ``add.at``; elsewhere a
one-hot product.
"""
from __future__ import annotations

import numpy

from ..backend import get_array_module
from ._jit import kernel, select_impl


@kernel(parallel=False)
def embedding_scatter_kernel(idx, g, out):
    """out[idx[k], :] += g[k, :] for k in order."""
    n, d = g.shape
    for k in range(n):
        r = idx[k]
        for c in range(d):
            out[r, c] += g[k, c]


def scatter_rows_ref(num_rows, idx, g):
    xp = get_array_module(g)
    out = xp.zeros((num_rows, g.shape[1]), dtype=g.dtype)
    n = idx.shape[0]
    if n == 0:
        return out
    if xp is numpy:
        order = numpy.argsort(idx, kind="stable")
        s = idx[order]
        starts = numpy.flatnonzero(numpy.concatenate(([True], s[1:] != s[:-1])))
        if starts.size == n:               # all indices distinct: a plain scatter
            out[idx] = g
        else:
            out[s[starts]] = numpy.add.reduceat(g[order], starts, axis=0)
        return out
    if hasattr(xp, "add") and hasattr(xp.add, "at"):
        xp.add.at(out, idx, g)
        return out
    # a device namespace without add.at: one-hot product (fine for moderate sizes)
    onehot = (xp.arange(num_rows)[:, None] == idx[None, :]).astype(g.dtype)
    return onehot @ g


def scatter_rows(num_rows, idx, g):
    """zeros((num_rows, D)) with row g[k] added into row idx[k]; repeated indices accumulate.
    ``idx`` is (n,) integer, ``g`` (n, D)."""
    if idx.shape[0] and select_impl(g)[0] == "numba":
        out = numpy.zeros((num_rows, g.shape[1]), dtype=g.dtype)
        embedding_scatter_kernel(numpy.ascontiguousarray(idx, dtype=numpy.int64), numpy.ascontiguousarray(g), out)
        return out
    return scatter_rows_ref(num_rows, idx, g)
