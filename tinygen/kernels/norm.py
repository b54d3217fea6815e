"""Batch normalisation in training mode: per-channel statistics, normalise, and the backward.

The data is viewed as ``(N, C, S)`` (S = the product of the spatial sizes, 1 for (N, C) input);
every channel c groups its m = N·S values::

    mean_c  = Σ x / m,   var_c = Σ (x − mean_c)² / m   (biased; two passes, float64 sums)
    istd_c  = 1 / √(var_c + eps)
    y       = (x − mean_c) · (istd_c γ_c) + β_c                        (batch_norm_forward)

    backward, with x̂ = (x − mean_c) istd_c, for upstream g:
    ∂L/∂γ_c = Σ g x̂ = istd_c Σ g (x − mean_c),    ∂L/∂β_c = Σ g
    ∂L/∂x   = γ_c istd_c (g − Σg/m − x̂ Σ(g x̂)/m)
            = g·k1_c + (x − mean_c)·k2_c + k0_c                         (batch_norm_backward)
      k1 = γ istd,  k2 = −γ istd² Σ(g x̂)/m,  k0 = −γ istd Σg/m

Forward is two read passes for the statistics and one write pass; backward one read pass for
the two sums and one write pass. Neither stores x̂ (the backward recomputes it from x).
The per-channel coefficients are computed in float64 and rounded to x's dtype; the element
passes run in x's dtype (float32 stays 16 SIMD lanes wide).

Determinism: each channel's sums belong to one iteration of the parallel loop, and each row
sum is computed by ``_row_*`` helpers (vectorised, their order fixed by the compiled code), so
the result does not depend on the thread count.
"""
from __future__ import annotations

import math

import numpy

from .. import parallel as _parallel
from ..parallel import map_range
from ._jit import helper, kernel, prange, select_impl


# ----------------------------------------------------------------------------- references

def _as3(a):
    n, c = a.shape[:2]
    s = 1
    for d in a.shape[2:]:
        s *= d
    return a.reshape(n, c, s)


def _rows(a3):
    """(N, C, S) → (N·C, S), row n·C + c."""
    return a3.reshape(a3.shape[0] * a3.shape[1], a3.shape[2])


def batch_norm_stats_ref(x, eps, xp=None):
    """(mean, var, istd) per channel of (N, C, ...) ``x``, float64 arrays of shape (C,)."""
    xp = xp or select_impl(x)[1]
    x3 = _as3(x).astype(xp.float64)
    m = x3.shape[0] * x3.shape[2]
    mean = x3.sum(axis=(0, 2)) / m
    d = x3 - mean.reshape(1, -1, 1)
    var = (d * d).sum(axis=(0, 2)) / m
    return mean, var, 1.0 / xp.sqrt(var + eps)


# ----------------------------------------------------------------------------- Numba kernels

@helper(inline=False, fastmath={"reassoc"})
def _row_sum(r):
    """float64 Σ r (reassociation allowed here only, so LLVM vectorises; order fixed by the code)."""
    t = 0.0
    for j in range(r.size):
        t += r[j]
    return t


@helper(inline=False, fastmath={"reassoc"})
def _row_sqdev(r, mu):
    """float64 Σ (r − mu)²."""
    t = 0.0
    for j in range(r.size):
        d = r[j] - mu
        t += d * d
    return t


@helper(inline=False, fastmath={"reassoc"})
def _row_dot_dev(g, r, mu):
    """float64 Σ g · (r − mu)."""
    t = 0.0
    for j in range(r.size):
        t += g[j] * (r[j] - mu)
    return t


@kernel(parallel=True, streaming=True)
def bn_stats_kernel(x, eps, mean, var, istd, c0, c1):
    """Per channel c0 ≤ c < c1 of x (N, C, S): mean, biased var (two passes), 1/√(var + eps), float64."""
    N, C, S = x.shape
    m = N * S
    for c in prange(c0, c1):
        t = 0.0
        for n in range(N):
            t += _row_sum(x[n, c])
        mu = t / m
        q = 0.0
        for n in range(N):
            q += _row_sqdev(x[n, c], mu)
        v = q / m
        mean[c] = mu
        var[c] = v
        istd[c] = 1.0 / math.sqrt(v + eps)


@kernel(parallel=True, streaming=True)
def bn_grad_sums_kernel(x, g, mean, sum_g, sum_gd, c0, c1):
    """Per channel c0 ≤ c < c1: Σ g and Σ g (x − mean), float64."""
    N, C, S = x.shape
    for c in prange(c0, c1):
        a = 0.0
        b = 0.0
        mu = mean[c]
        for n in range(N):
            a += _row_sum(g[n, c])
            b += _row_dot_dev(g[n, c], x[n, c], mu)
        sum_g[c] = a
        sum_gd[c] = b


@kernel(parallel=True, contract=True, streaming=True)
def bn_affine_kernel(x, g, use_g, mean, k1, k2, k0, out, i0, i1):
    """out = g·k1 + (x − mean)·k2 + k0 per channel (use_g), or (x − mean)·k2 + k0, for the rows
    i0 ≤ r < i1 of x, g, out viewed as (N·C, S) (row r = n·C + c); coefficients of x's dtype.

    Elements are indexed as x[r, j] rather than through per-row views (xr = x[n, c]): a view per
    row cost more than the row's arithmetic on 7×7 maps (64×128×49 floats: 0.23 → 0.05 ms)."""
    S = x.shape[1]
    C = mean.size
    for nc in prange(i0, i1):
        c = nc % C
        mu = mean[c]
        a = k1[c]
        b = k2[c]
        z = k0[c]
        if use_g:
            for j in range(S):
                out[nc, j] = g[nc, j] * a + ((x[nc, j] - mu) * b + z)
        else:
            for j in range(S):
                out[nc, j] = (x[nc, j] - mu) * b + z


# ----------------------------------------------------------------------------- dispatchers

def _split_min(per_row):
    """Rows (channels, or (n, c) planes) per worker so that each gets at least SPLIT_MIN values."""
    return max(1, -(-_parallel.SPLIT_MIN // max(per_row, 1)))


def _check_bn(name, x):
    if x.ndim < 2:
        raise ValueError(f"{name}: input must be (N, C) or (N, C, ...), got shape {tuple(x.shape)}")
    if x.dtype.kind != "f":
        raise TypeError(f"{name}: input must be a floating-point array, got dtype {x.dtype}")


def batch_norm_forward(x, w, b, eps):
    """Training-mode batch norm of (N, C, ...) ``x`` with optional γ ``w`` and β ``b`` (shape (C,)).

    Returns ``(y, mean, var, istd)``: y of x's shape and dtype, the statistics as float64 (C,)
    arrays (biased variance).
    """
    _check_bn("batch_norm_forward", x)
    impl, xp = select_impl(x)
    c = x.shape[1]
    if impl == "numba":
        x3 = _as3(xp.ascontiguousarray(x))
        mean = numpy.full(c, numpy.nan)      # NaN statistics for channels without values
        var = numpy.full(c, numpy.nan)
        istd = numpy.full(c, numpy.nan)
        if x3.size:      # channels split over tinygen's threads (each channel's sums are its own)
            map_range(lambda c0, c1: bn_stats_kernel(x3, float(eps), mean, var, istd, c0, c1), c,
                      _split_min(x3.size // c))
    else:
        mean, var, istd = batch_norm_stats_ref(x, eps, xp=xp)
    scale = istd if w is None else istd * w.astype(xp.float64)
    shift = xp.zeros(c) if b is None else b.astype(xp.float64)
    dt = x.dtype
    if impl == "numba":
        y = xp.empty(x.shape, dtype=dt)
        if x3.size:
            x2, y2 = _rows(x3), _rows(_as3(y))
            mu, k2, k0 = mean.astype(dt), scale.astype(dt), shift.astype(dt)
            map_range(lambda i0, i1: bn_affine_kernel(x2, x2, False, mu, k2, k2, k0, y2, i0, i1),
                      x2.shape[0], _split_min(x2.shape[1]))
        return y, mean, var, istd
    pshape = (1, c) + (1,) * (x.ndim - 2)
    y = (x - mean.astype(dt).reshape(pshape)) * scale.astype(dt).reshape(pshape) + shift.astype(dt).reshape(pshape)
    return y.astype(dt, copy=False), mean, var, istd


def batch_norm_backward(x, g, w, mean, istd, need_x=True, need_w=True, need_b=True):
    """(∂L/∂x, ∂L/∂γ, ∂L/∂β) of training-mode batch norm (formulas in the module docstring), given
    the forward's float64 ``mean`` and ``istd``; ``w`` (γ) may be None (then ∂L/∂γ is None)."""
    _check_bn("batch_norm_backward", x)
    impl, xp = select_impl(x)
    n, c = x.shape[:2]
    m = x.size // c if c else 0
    dt = x.dtype
    if impl == "numba":
        x3 = _as3(xp.ascontiguousarray(x))
        g3 = _as3(xp.ascontiguousarray(g, dtype=dt))
        sum_g = numpy.zeros(c)
        sum_gd = numpy.zeros(c)
        if x3.size:
            map_range(lambda c0, c1: bn_grad_sums_kernel(x3, g3, mean, sum_g, sum_gd, c0, c1), c,
                      _split_min(x3.size // c))
    else:
        x3 = _as3(x).astype(xp.float64)
        g3 = _as3(g).astype(xp.float64)
        sum_g = g3.sum(axis=(0, 2))
        sum_gd = (g3 * (x3 - mean.reshape(1, -1, 1))).sum(axis=(0, 2))
    sum_gxhat = sum_gd * istd
    gw = sum_gxhat.astype(dt) if (need_w and w is not None) else None
    gb = sum_g.astype(dt) if need_b else None
    gx = None
    if need_x:
        k1 = istd if w is None else istd * w.astype(xp.float64)
        k2 = -k1 * istd * (sum_gxhat / m)
        k0 = -k1 * (sum_g / m)
        if impl == "numba":
            gx = xp.empty(x.shape, dtype=dt)
            if x3.size:
                x2, g2, gx2 = _rows(x3), _rows(g3), _rows(_as3(gx))
                mu, a1, a2, a0 = mean.astype(dt), k1.astype(dt), k2.astype(dt), k0.astype(dt)
                map_range(lambda i0, i1: bn_affine_kernel(x2, g2, True, mu, a1, a2, a0, gx2, i0, i1),
                          x2.shape[0], _split_min(x2.shape[1]))
        else:
            pshape = (1, c) + (1,) * (x.ndim - 2)
            r = lambda a: a.astype(dt).reshape(pshape)   # noqa: E731
            gx = (g * r(k1) + ((x - r(mean)) * r(k2) + r(k0))).astype(dt, copy=False)
    return gx, gw, gb
