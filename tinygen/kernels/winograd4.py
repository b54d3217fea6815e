"""Winograd F(4×4, 3×3): a 3×3 stride-1 convolution with 4× fewer multiplications.

The same minimal filtering as :mod:`tinygen.kernels.winograd` (F(2×2, 3×3)) with larger tiles:
each 4×4 block of outputs comes from a 6×6 tile of the padded input (tiles 4 apart), through
the transforms of Lavin & Gray (2016) with Toom-Cook points 0, 1, −1, 2, −2, ∞::

    Y = Aᵀ [ (G w Gᵀ) ⊙ (Bᵀ d B) ] A          d: 6×6 input tile, w: 3×3 kernel, Y: 4×4 outputs

         ⎡4  0 −5  0  1  0⎤         ⎡ 1/4    0     0 ⎤
         ⎢0 −4 −4  1  1  0⎥         ⎢−1/6  −1/6  −1/6⎥          ⎡1  1  1  1  1  0⎤
    Bᵀ = ⎢0  4 −4 −1  1  0⎥     G = ⎢−1/6   1/6  −1/6⎥     Aᵀ = ⎢0  1 −1  2 −2  0⎥
         ⎢0 −2 −1  2  1  0⎥         ⎢1/24  1/12   1/6⎥          ⎢0  1  1  4  4  0⎥
         ⎢0  2 −1 −2  1  0⎥         ⎢1/24 −1/12   1/6⎥          ⎣0  1 −1  8 −8  1⎦
         ⎣0  4  0 −5  0  1⎦         ⎣  0     0     1 ⎦

36 multiplications for 16 outputs instead of 144, so 36 GEMMs, one per transformed position
p = 6r + s, each (C_out × C_in) · (C_in × T) over T tiles, and the backward is the adjoint of
each step, exactly as in F(2×2, 3×3) (whose module doc gives the formulas). Against F(2×2, 3×3)
a tile covers 16 outputs for 36 transformed values instead of 4 for 16: the GEMMs do
36·⌈OH/4⌉·⌈OW/4⌉ against 16·⌈OH/2⌉·⌈OW/2⌉ products per channel pair (14×14: 576 vs 784), and
the transforms write 2.25 values per output instead of 4.

Accuracy: the points ±2 and the 1/24 of G cost precision. In float32, against a float64
convolution (64 → 64 channels, 14×14, unit-variance data, weights of unit output variance), the
error is 1.5e-6 of the output's rms (max 5.8e-6 of its max), against 2.5e-7 (3.2e-7) for
F(2×2, 3×3) and 2.8e-7 (4.5e-7) for im2col: the size of float32 rounding after a few dozen
additions, and what GPU libraries accept for the same algorithm. The tests compare the kernels
with the plain-array references below and the convolution with its definition in float64.

Tiles: TH = ⌈OH/4⌉ tile rows (OH = H + 2·ph − 2); tile (i, j) reads padded rows 4i … 4i+5 and
columns 4j … 4j+5 (zeros outside x) and writes output rows 4i … 4i+3 (those beyond OH dropped).
Tile index t = (i·TW + j)·N + n (image index last), as in F(2×2, 3×3).
"""
from __future__ import annotations

import numpy

from ._jit import helper, kernel, prange
from .winograd import make_dispatchers, stride1_references, transformed_empty as _transformed_empty

# the geometry this module handles, as conv.py asks for it
KERNEL, STRIDE = 3, 1
TILE = 4          # output tile side
PLANES = 36       # transformed positions (GEMMs)
PHASES = 1        # transformed channels per input channel

BT = numpy.array([[4, 0, -5, 0, 1, 0], [0, -4, -4, 1, 1, 0], [0, 4, -4, -1, 1, 0], [0, -2, -1, 2, 1, 0],
                  [0, 2, -1, -2, 1, 0], [0, 4, 0, -5, 0, 1]], dtype=numpy.float64)
G = numpy.array([[1 / 4, 0, 0], [-1 / 6, -1 / 6, -1 / 6], [-1 / 6, 1 / 6, -1 / 6], [1 / 24, 1 / 12, 1 / 6],
                 [1 / 24, -1 / 12, 1 / 6], [0, 0, 1]], dtype=numpy.float64)
AT = numpy.array([[1, 1, 1, 1, 1, 0], [0, 1, -1, 2, -2, 0], [0, 1, 1, 4, 4, 0], [0, 1, -1, 8, -8, 1]],
                 dtype=numpy.float64)


def tiles(h, w, ph, pw):
    """(OH, OW, TH, TW): the output size of a 3×3 stride-1 convolution and its 4×4 tile grid."""
    oh, ow = h + 2 * ph - 2, w + 2 * pw - 2
    if oh < 1 or ow < 1:
        raise ValueError(f"winograd4: a 3x3 kernel does not fit the padded input ({h + 2 * ph}, {w + 2 * pw})")
    return oh, ow, -(-oh // 4), -(-ow // 4)


def transformed_empty(c, t, dtype, xp=numpy, alloc=None):
    """An empty (36, c, t) array for V, dV, M or dM, its planes a little more than c·t apart."""
    return _transformed_empty(c, t, dtype, xp, alloc, planes=PLANES)


# ----------------------------------------------------------------------------- references

(input_transform_ref, output_transform_ref, grad_output_transform_ref, grad_input_transform_ref,
 weight_transform_ref, weight_grad_transform_ref) = stride1_references(BT, G, AT, tiles)


# ----------------------------------------------------------------------------- Numba kernels
# The layout of winograd.py with tiles 4 apart: each channel is first copied into four local
# planes with the image index last, padded column q in plane q mod 4 at (q // 4)·N + n. For a
# whole tile row, the values at tile column offset v (0…5) are then one contiguous run of
# TW·N values: plane v mod 4, shifted by N for v ≥ 4. Each 1-D transform is a loop over such
# runs (six loads, four to six stores), which LLVM vectorises.

@helper
def _bt(d0, d1, d2, d3, d4, d5, r0, r1, r2, r3, r4, r5, n):
    """r = Bᵀ d on runs of n values: (4d0 − 5d2 + d4, (d4 − 4d2) ± (d3 − 4d1),
    (d4 − d2) ± 2(d3 − d1), 4d1 − 5d3 + d5)."""
    c2 = r0.dtype.type(2)
    c4 = r0.dtype.type(4)
    c5 = r0.dtype.type(5)
    for q in range(n):
        a1, a2, a3, a4 = d1[q], d2[q], d3[q], d4[q]
        e = a4 - c4 * a2
        f = a3 - c4 * a1
        g = a4 - a2
        h = c2 * (a3 - a1)
        r0[q] = c4 * d0[q] - c5 * a2 + a4
        r1[q] = e + f
        r2[q] = e - f
        r3[q] = g + h
        r4[q] = g - h
        r5[q] = c4 * a1 - c5 * a3 + d5[q]


@helper
def _at(m0, m1, m2, m3, m4, m5, y0, y1, y2, y3, n):
    """y = Aᵀ m on runs of n values:
    (m0 + s₁₂ + s₃₄, d₁₂ + 2d₃₄, s₁₂ + 4s₃₄, d₁₂ + 8d₃₄ + m5)
    with s₁₂ = m1 + m2, d₁₂ = m1 − m2 (and likewise for m3, m4)."""
    c2 = y0.dtype.type(2)
    c4 = y0.dtype.type(4)
    c8 = y0.dtype.type(8)
    for q in range(n):
        a1, a2, a3, a4 = m1[q], m2[q], m3[q], m4[q]
        s12 = a1 + a2
        d12 = a1 - a2
        s34 = a3 + a4
        d34 = a3 - a4
        y0[q] = m0[q] + s12 + s34
        y1[q] = d12 + c2 * d34
        y2[q] = s12 + c4 * s34
        y3[q] = d12 + c8 * d34 + m5[q]


@helper
def _a(y0, y1, y2, y3, p0, p1, p2, p3, p4, p5, n):
    """p = A y on runs of n values (A = (Aᵀ)ᵀ): (y0, y0 + y1 + y2 + y3, y0 − y1 + y2 − y3,
    y0 + 2y1 + 4y2 + 8y3, y0 − 2y1 + 4y2 − 8y3, y3)."""
    c2 = p0.dtype.type(2)
    c4 = p0.dtype.type(4)
    c8 = p0.dtype.type(8)
    for q in range(n):
        a0, a1, a2, a3 = y0[q], y1[q], y2[q], y3[q]
        e = a0 + a2
        o = a1 + a3
        e4 = a0 + c4 * a2
        o4 = c2 * a1 + c8 * a3
        p0[q] = a0
        p1[q] = e + o
        p2[q] = e - o
        p3[q] = e4 + o4
        p4[q] = e4 - o4
        p5[q] = a3


@helper
def _b(v0, v1, v2, v3, v4, v5, e0, e1, e2, e3, e4, e5, n):
    """e = B v on runs of n values (B = (Bᵀ)ᵀ): (4v0, 4(v2 − v1) + 2(v4 − v3) + 4v5,
    −5v0 − 4(v1 + v2) − (v3 + v4), (v1 − v2) + 2(v3 − v4) − 5v5, v0 + v1 + v2 + v3 + v4, v5)."""
    c2 = e0.dtype.type(2)
    c4 = e0.dtype.type(4)
    c5 = e0.dtype.type(5)
    for q in range(n):
        a0, a1, a2, a3, a4, a5 = v0[q], v1[q], v2[q], v3[q], v4[q], v5[q]
        e0[q] = c4 * a0
        e1[q] = c4 * (a2 - a1 + a5) + c2 * (a4 - a3)
        e2[q] = -c5 * a0 - c4 * (a1 + a2) - (a3 + a4)
        e3[q] = (a1 - a2) + c2 * (a3 - a4) - c5 * a5
        e4[q] = a0 + a1 + a2 + a3 + a4
        e5[q] = a5


@helper
def _runs6(flat, o, step, q):
    """flat[o + k·step : o + k·step + q] for k = 0…5 (six planes of a tile row)."""
    return (flat[o:o + q], flat[o + step:o + step + q], flat[o + 2 * step:o + 2 * step + q],
            flat[o + 3 * step:o + 3 * step + q], flat[o + 4 * step:o + 4 * step + q],
            flat[o + 5 * step:o + 5 * step + q])


@helper
def _gather4(g, k, gp):
    """Channel k of NCHW g into the output-tile planes gp (4, rows, TW·N): g[n, k, h, w] goes to
    gp[w mod 4, h, (w // 4)·N + n] (zeros elsewhere are the caller's). Shared with winograd_s2,
    whose output tiles are 4×4 too."""
    N, _, OH, OW = g.shape
    for n in range(N):
        for h in range(OH):
            for w in range(OW):
                gp[w & 3, h, (w >> 2) * N + n] = g[n, k, h, w]


@helper
def _scatter4(yp, k, bk, y):
    """The inverse of _gather4 for the output: y[n, k, h, w] = yp[w mod 4, h, (w // 4)·N + n] + bk."""
    N, _, OH, OW = y.shape
    for n in range(N):
        for h in range(OH):
            for w in range(OW):
                y[n, k, h, w] = yp[w & 3, h, (w >> 2) * N + n] + bk


@helper
def _unpack4(x, c, ph, pw, pl):
    """Channel c of NCHW x into the planes pl (4, rows, (TW + 1)·N): x[n, c, h, w] goes to padded
    row h + ph, column q = w + pw, at pl[q mod 4, h + ph, (q // 4)·N + n]."""
    N, _, H, W = x.shape
    for h in range(H):
        for w in range(W):
            q = w + pw
            o = (q >> 2) * N
            dst = pl[q & 3, h + ph, o:o + N]
            for n in range(N):
                dst[n] = x[n, c, h, w]


@helper
def _pack4(pl, c, ph, pw, x):
    """The inverse of _unpack4: channel c of x from the planes' interior."""
    N, _, H, W = x.shape
    for h in range(H):
        for w in range(W):
            q = w + pw
            o = (q >> 2) * N
            src = pl[q & 3, h + ph, o:o + N]
            for n in range(N):
                x[n, c, h, w] = src[n]


@kernel(parallel=True, streaming=True)
def f43_input_transform_kernel(x, ph, pw, TH, TW, v, S):
    """v[p·S + c·T + (i·TW + j)·N + n] = (Bᵀ d B)[r, s] (p = 6r + s), d the 6×6 tile (i, j) of
    x[n, c] (T = TH·TW·N). One channel per iteration."""
    N, C, H, W = x.shape
    Q = TW * N
    T = TH * Q
    for c in prange(C):
        pl = numpy.zeros((4, 4 * TH + 2, (TW + 1) * N), dtype=x.dtype)
        _unpack4(x, c, ph, pw, pl)
        t = numpy.empty((6, 6, Q), dtype=x.dtype)         # Bᵀ d of one tile row: (r, column offset)
        for i in range(TH):
            r0 = 4 * i
            for cv in range(6):                           # Bᵀ on the rows of tile column offset cv
                p = cv & 3
                o = N if cv >= 4 else 0
                _bt(pl[p, r0, o:o + Q], pl[p, r0 + 1, o:o + Q], pl[p, r0 + 2, o:o + Q],
                    pl[p, r0 + 3, o:o + Q], pl[p, r0 + 4, o:o + Q], pl[p, r0 + 5, o:o + Q],
                    t[0, cv], t[1, cv], t[2, cv], t[3, cv], t[4, cv], t[5, cv], Q)
            base = c * T + i * Q
            for r in range(6):                            # (Bᵀ d) B: Bᵀ again on each row's columns
                v0, v1, v2, v3, v4, v5 = _runs6(v, 6 * r * S + base, S, Q)
                _bt(t[r, 0], t[r, 1], t[r, 2], t[r, 3], t[r, 4], t[r, 5], v0, v1, v2, v3, v4, v5, Q)


@kernel(parallel=True, streaming=True)
def f43_output_transform_kernel(m, S, bias, has_bias, TH, TW, y):
    """y[n, k] = Aᵀ M A of each tile (+ bias[k]), M flat as in f43_input_transform_kernel; rows
    and columns beyond y's size are dropped. One output channel per iteration."""
    N, K, OH, OW = y.shape
    Q = TW * N
    T = TH * Q
    for k in prange(K):
        yp = numpy.empty((4, 4 * TH, Q), dtype=y.dtype)   # output column 4j + b at yp[b, row, j·N + n]
        u = numpy.empty((4, 6, Q), dtype=y.dtype)         # Aᵀ M of the tile row: (a, s)
        for i in range(TH):
            base = k * T + i * Q
            for s in range(6):
                m0, m1, m2, m3, m4, m5 = _runs6(m, s * S + base, 6 * S, Q)
                _at(m0, m1, m2, m3, m4, m5, u[0, s], u[1, s], u[2, s], u[3, s], Q)
            for a in range(4):
                row = 4 * i + a
                _at(u[a, 0], u[a, 1], u[a, 2], u[a, 3], u[a, 4], u[a, 5],
                    yp[0, row], yp[1, row], yp[2, row], yp[3, row], Q)
        _scatter4(yp, k, bias[k] if has_bias else y.dtype.type(0), y)


@kernel(parallel=True, streaming=True)
def f43_grad_output_transform_kernel(g, TH, TW, dm, S):
    """dm[p·S + k·T + t] = (A dY Aᵀ)[r, s], dY the 4×4 block of g[n, k] under tile t (zeros beyond
    g). One channel per iteration."""
    N, K, OH, OW = g.shape
    Q = TW * N
    T = TH * Q
    for k in prange(K):
        gp = numpy.zeros((4, 4 * TH, Q), dtype=g.dtype)   # g's column 4j + b at gp[b, row, j·N + n]
        _gather4(g, k, gp)
        p = numpy.empty((6, 4, Q), dtype=g.dtype)         # A dY of the tile row: (r, b)
        for i in range(TH):
            r0 = 4 * i
            for b in range(4):
                _a(gp[b, r0], gp[b, r0 + 1], gp[b, r0 + 2], gp[b, r0 + 3],
                   p[0, b], p[1, b], p[2, b], p[3, b], p[4, b], p[5, b], Q)
            base = k * T + i * Q
            for r in range(6):
                d0, d1, d2, d3, d4, d5 = _runs6(dm, 6 * r * S + base, S, Q)
                _a(p[r, 0], p[r, 1], p[r, 2], p[r, 3], d0, d1, d2, d3, d4, d5, Q)


@kernel(parallel=True, streaming=True)
def f43_grad_input_transform_kernel(dv, S, ph, pw, TH, TW, dx):
    """dx[n, c] = interior of Σ_tiles (B dV Bᵀ added into the tile's 6×6), tile rows in order, dV
    flat as in f43_input_transform_kernel. One channel per iteration."""
    N, C, H, W = dx.shape
    Q = TW * N
    T = TH * Q
    for c in prange(C):
        pl = numpy.zeros((4, 4 * TH + 2, (TW + 1) * N), dtype=dx.dtype)
        qq = numpy.empty((6, 6, Q), dtype=dx.dtype)        # B dV of the tile row: (row u, column s)
        cols = numpy.empty((6, Q), dtype=dx.dtype)          # (B dV Bᵀ) of one row, by column offset
        for i in range(TH):
            base = c * T + i * Q
            for s in range(6):                             # B dV on the rows
                v0, v1, v2, v3, v4, v5 = _runs6(dv, s * S + base, 6 * S, Q)
                _b(v0, v1, v2, v3, v4, v5, qq[0, s], qq[1, s], qq[2, s], qq[3, s], qq[4, s], qq[5, s], Q)
            for uu in range(6):                            # (B dV) Bᵀ, added into padded row 4i + uu:
                rr = 4 * i + uu                            # offsets 0…3 into the planes, 4 and 5
                _b(qq[uu, 0], qq[uu, 1], qq[uu, 2], qq[uu, 3], qq[uu, 4], qq[uu, 5],
                   cols[0], cols[1], cols[2], cols[3], cols[4], cols[5], Q)
                for cv in range(4):
                    dst = pl[cv, rr, :Q]
                    src = cols[cv]
                    for q in range(Q):
                        dst[q] += src[q]
                for cv in range(4, 6):                     # (the next tile's offsets 0, 1)
                    dst = pl[cv - 4, rr, N:N + Q]
                    src = cols[cv]
                    for q in range(Q):
                        dst[q] += src[q]
        _pack4(pl, c, ph, pw, dx)


@helper
def _g(x0, x1, x2, r0, r1, r2, r3, r4, r5, n):
    """r = G x on runs of n values: (x0/4, −(x0 + x1 + x2)/6, −(x0 − x1 + x2)/6,
    x0/24 + x1/12 + x2/6, x0/24 − x1/12 + x2/6, x2)."""
    for q in range(n):
        a0, a1, a2 = x0[q], x1[q], x2[q]
        e = a0 + a2
        h = a0 / 24.0 + a2 / 6.0
        r0[q] = a0 / 4.0
        r1[q] = -(e + a1) / 6.0
        r2[q] = -(e - a1) / 6.0
        r3[q] = h + a1 / 12.0
        r4[q] = h - a1 / 12.0
        r5[q] = a2


@helper
def _gt(z0, z1, z2, z3, z4, z5, r0, r1, r2, n):
    """r = Gᵀ z on runs of n values: (z0/4 − (z1 + z2)/6 + (z3 + z4)/24,
    (z2 − z1)/6 + (z3 − z4)/12, −(z1 + z2)/6 + (z3 + z4)/6 + z5)."""
    for q in range(n):
        s12 = z1[q] + z2[q]
        s34 = z3[q] + z4[q]
        r0[q] = z0[q] / 4.0 - s12 / 6.0 + s34 / 24.0
        r1[q] = (z2[q] - z1[q]) / 6.0 + (z3[q] - z4[q]) / 12.0
        r2[q] = (s34 - s12) / 6.0 + z5[q]


@kernel(parallel=False)
def f43_weight_transform_kernel(w, u):
    """u[6r + s, k, :] = (G w[k, c] Gᵀ)[r, s] for all c at once: one output channel's weights
    gathered into nine float64 rows of C values, G applied down the kernel's rows, then across
    its columns, each output row written whole (rounded once)."""
    K, C = w.shape[0], w.shape[1]
    wk = numpy.empty((3, 3, C), dtype=numpy.float64)
    gw = numpy.empty((6, 3, C), dtype=numpy.float64)     # G w: (row r, kernel column b)
    t = numpy.empty((6, C), dtype=numpy.float64)
    for k in range(K):
        for c in range(C):
            for a in range(3):
                for b in range(3):
                    wk[a, b, c] = w[k, c, a, b]
        for b in range(3):
            _g(wk[0, b], wk[1, b], wk[2, b], gw[0, b], gw[1, b], gw[2, b], gw[3, b], gw[4, b], gw[5, b], C)
        for r in range(6):
            _g(gw[r, 0], gw[r, 1], gw[r, 2], t[0], t[1], t[2], t[3], t[4], t[5], C)
            for s in range(6):
                dst = u[6 * r + s, k]
                src = t[s]
                for c in range(C):
                    dst[c] = src[c]


@kernel(parallel=False)
def f43_weight_grad_transform_kernel(du, dw):
    """dw[k, c] = Gᵀ dU[:, k, c] G for all c at once (float64 rows of C values, rounded once)."""
    K, C = dw.shape[0], dw.shape[1]
    z = numpy.empty((6, 6, C), dtype=numpy.float64)
    t = numpy.empty((3, 6, C), dtype=numpy.float64)      # Gᵀ dU: (a, s)
    o = numpy.empty((3, 3, C), dtype=numpy.float64)
    for k in range(K):
        for p in range(36):
            src = du[p, k]
            dst = z[p // 6, p % 6]
            for c in range(C):
                dst[c] = src[c]
        for s in range(6):
            _gt(z[0, s], z[1, s], z[2, s], z[3, s], z[4, s], z[5, s], t[0, s], t[1, s], t[2, s], C)
        for a in range(3):
            _gt(t[a, 0], t[a, 1], t[a, 2], t[a, 3], t[a, 4], t[a, 5], o[a, 0], o[a, 1], o[a, 2], C)
        for c in range(C):
            for a in range(3):
                for b in range(3):
                    dw[k, c, a, b] = o[a, b, c]


(input_transform, output_transform, grad_output_transform, grad_input_transform, weight_transform,
 weight_grad_transform) = make_dispatchers(
    tiles, TILE, PLANES, PHASES, (KERNEL, KERNEL),
    (f43_input_transform_kernel, f43_output_transform_kernel, f43_grad_output_transform_kernel,
     f43_grad_input_transform_kernel, f43_weight_transform_kernel, f43_weight_grad_transform_kernel),
    (input_transform_ref, output_transform_ref, grad_output_transform_ref, grad_input_transform_ref,
     weight_transform_ref, weight_grad_transform_ref), "stride-1")
