"""Winograd F(4×4, 2×2) for 4×4 stride-2 convolutions (the DCGAN layers), via space-to-depth.

A 4×4 stride-2 convolution is a 2×2 stride-1 convolution over four times the channels: split
the padded input into its four phases ``X_ab[i, j] = x_pad[2i + a, 2j + b]`` (a, b ∈ {0, 1}) and
the kernel likewise, ``w_ab[u, v] = w[2u + a, 2v + b]``; then

    y[o, i, j] = Σ_{c, a, b} Σ_{u, v ∈ {0, 1}} w[o, c, 2u + a, 2v + b] · X_{c,a,b}[i + u, j + v].

Each 4×4 block of that 2×2 convolution comes from a 5×5 tile of the phases, and Winograd's
minimal filtering (Lavin & Gray, 2016; Toom-Cook points 0, 1, −1, 2, ∞) computes it with 25
multiplications instead of 64::

    Y = Aᵀ [ (G w Gᵀ) ⊙ (Bᵀ d B) ] A         d: 5×5 tile, w: 2×2 kernel, Y: 4×4 outputs

         ⎡2 −1 −2  1  0⎤        ⎡1/2   0 ⎤
         ⎢0  2  1 −1  0⎥        ⎢1/2  1/2⎥         ⎡1  1  1  1  0⎤
    Bᵀ = ⎢0 −2  3 −1  0⎥    G = ⎢1/6 −1/6⎥    Aᵀ = ⎢0  1 −1  2  0⎥
         ⎢0 −1  0  1  0⎥        ⎢1/6  1/3⎥         ⎢0  1  1  4  0⎥
         ⎣0  2 −1 −2  1⎦        ⎣ 0    1 ⎦         ⎣0  1 −1  8  1⎦

Summed over the 4·C_in phase channels the products become 25 GEMMs, one per transformed
position p = 5r + s, exactly as in :mod:`tinygen.kernels.winograd` (F(2×2, 3×3))::

    V[p, 4c + 2a + b, t] = (Bᵀ d B)[r, s]       input transform: (25, 4·C_in, T), T tiles
    U[p, o, 4c + 2a + b] = (G w_ab Gᵀ)[r, s]    weight transform: (25, C_out, 4·C_in)
    M[p] = U[p] · V[p];   y tile = Aᵀ M A       25 GEMMs, output transform

and the backward is the adjoint of each step (dM = A dY Aᵀ; dV = Uᵀ dM, added back through
B dV Bᵀ; dU = dM Vᵀ, ∂L/∂w = Gᵀ dU G). A conv_transpose2d with the same geometry is the
adjoint of the convolution, so it runs on the same transforms with their roles swapped
(tinygen.autograd.conv).

Against im2col's GEMM (C_out × 16·C_in × 4 outputs per block of 4×4) the GEMMs do 25/64 of the
multiply-adds on whole tiles; a 7×7 output (DCGAN's 14 → 7) is covered by 8×8 of tiles, so 51 %.
The transforms write each input value about twice (im2col: four times).

Accuracy: the transforms' constants are small integers except in G (weights, applied once); in
float32, DCGAN's 64→128 layer agrees with im2col to ~2e-6 of each array's largest value (values
and both gradients), and the tests compare against the loop definition in float64.

Tiles: OH = ⌊(H + 2·ph − 4) / 2⌋ + 1 output rows in TH = ⌈OH / 4⌉ tile rows; tile (i, j) reads phase
rows 4i … 4i + 4 (padded input rows 8i … 8i + 9) and writes output rows 4i … 4i + 3 (rows beyond
OH dropped); tile index t = (i·TW + j)·N + n, image index last.
"""
from __future__ import annotations

import numpy

from ._jit import helper, kernel, prange, select_impl
from .winograd import make_dispatchers, transformed_empty as _transformed_empty
from .winograd4 import _gather4, _scatter4

# the geometry this module handles, as conv.py asks for it
KERNEL, STRIDE = 4, 2
TILE = 4          # output tile side
PLANES = 25       # transformed positions (GEMMs)
PHASES = 4        # transformed channels per input channel (the space-to-depth phases)

BT = numpy.array([[2, -1, -2, 1, 0], [0, 2, 1, -1, 0], [0, -2, 3, -1, 0], [0, -1, 0, 1, 0],
                  [0, 2, -1, -2, 1]], dtype=numpy.float64)
G = numpy.array([[0.5, 0], [0.5, 0.5], [1 / 6, -1 / 6], [1 / 6, 1 / 3], [0, 1]], dtype=numpy.float64)
AT = numpy.array([[1, 1, 1, 1, 0], [0, 1, -1, 2, 0], [0, 1, 1, 4, 0], [0, 1, -1, 8, 1]], dtype=numpy.float64)
# (G ⊗ G): row 5r + s, column 2u + v holds G[r, u]·G[s, v]; U = KRON · w_ab as a (4, ·) matrix
KRON = numpy.einsum("ru,sv->rsuv", G, G).reshape(25, 4)


def tiles(h, w, ph, pw):
    """(OH, OW, TH, TW): the output size of a 4×4 stride-2 convolution and its tile grid."""
    oh, ow = (h + 2 * ph - 4) // 2 + 1, (w + 2 * pw - 4) // 2 + 1
    if oh < 1 or ow < 1:
        raise ValueError(f"winograd_s2: a 4x4 kernel does not fit the padded input ({h + 2 * ph}, {w + 2 * pw})")
    return oh, ow, -(-oh // 4), -(-ow // 4)


def _padded_rows(th, h, ph):
    """Rows of the zero-padded input the tiles read: 8·TH + 2 (and at least what x covers)."""
    return max(8 * th + 2, 2 * (-(-(h + ph) // 2)))


# ----------------------------------------------------------------------------- weights

def weight_transform_ref(w, xp=None):
    """U (25, C_out, 4·C_in) = G w_ab Gᵀ for every (o, c, a, b) of a (C_out, C_in, 4, 4) weight."""
    xp = xp or select_impl(w)[1]
    o, c = w.shape[:2]
    w2 = w.reshape(o, c, 2, 2, 2, 2).transpose(2, 4, 0, 1, 3, 5).reshape(4, o * c * 4)   # rows (u, v)
    return xp.matmul(xp.asarray(KRON, dtype=w.dtype), w2).reshape(25, o, 4 * c)


def weight_grad_transform_ref(du, xp=None):
    """∂L/∂w (C_out, C_in, 4, 4) = Gᵀ dU G from dU (25, C_out, 4·C_in) (adjoint of the above)."""
    xp = xp or select_impl(du)[1]
    _, o, c4 = du.shape
    c = c4 // 4
    dw2 = xp.matmul(xp.asarray(KRON.T, dtype=du.dtype), du.reshape(25, o * c4))             # (4, o·c·4)
    return xp.ascontiguousarray(dw2.reshape(2, 2, o, c, 2, 2).transpose(2, 3, 0, 4, 1, 5)).reshape(o, c, 4, 4)


def transformed_empty(c, t, dtype, xp=numpy, alloc=None):
    """An empty (25, c, t) array for V, dV, M or dM, its planes a little more than c·t apart."""
    return _transformed_empty(c, t, dtype, xp, alloc, planes=PLANES)


# ----------------------------------------------------------------------------- references

def _phase_tiles(th, tw):
    """Slices of the (…, phase rows, a, phase cols, b) view that give tile offset (u, v)."""
    return [[(slice(u, u + 4 * th, 4), slice(v, v + 4 * tw, 4)) for v in range(5)] for u in range(5)]


def input_transform_ref(x, ph, pw, xp=None):
    """V (25, 4·C, TH·TW·N) = Bᵀ d B for every 5×5 phase tile d (channel 4c + 2a + b)."""
    xp = xp or select_impl(x)[1]
    n, c, h, w = x.shape
    _, _, th, tw = tiles(h, w, ph, pw)
    hp, wp = _padded_rows(th, h, ph), _padded_rows(tw, w, pw)
    xpad = xp.zeros((n, c, hp, wp), dtype=x.dtype)
    xpad[:, :, ph:ph + h, pw:pw + w] = x
    xs = xpad.reshape(n, c, hp // 2, 2, wp // 2, 2)
    d = xp.stack([xp.stack([xs[:, :, ru, :, rv, :] for ru, rv in row]) for row in _phase_tiles(th, tw)])
    bt = xp.asarray(BT, dtype=x.dtype)
    v = xp.einsum("ru,uvnciajb,sv->rscabijn", bt, d, bt)
    return xp.ascontiguousarray(v.reshape(25, 4 * c, th * tw * n))


def output_transform_ref(m, n, oh, ow, bias=None, xp=None):
    """y (N, C_out, OH, OW) = Aᵀ M A per tile (+ bias), from M (25, C_out, TH·TW·N)."""
    xp = xp or select_impl(m)[1]
    k = m.shape[1]
    th, tw = -(-oh // 4), -(-ow // 4)
    at = xp.asarray(AT, dtype=m.dtype)
    y = xp.einsum("ar,rskijn,bs->nkiajb", at, m.reshape(5, 5, k, th, tw, n), at)
    y = y.reshape(n, k, 4 * th, 4 * tw)[:, :, :oh, :ow]
    if bias is not None:
        y = y + bias.reshape(1, k, 1, 1)
    return xp.ascontiguousarray(y)


def grad_output_transform_ref(g, xp=None):
    """dM (25, C_out, TH·TW·N) = A dY Aᵀ for every 4×4 output block dY (zeros beyond the output)."""
    xp = xp or select_impl(g)[1]
    n, k, oh, ow = g.shape
    th, tw = -(-oh // 4), -(-ow // 4)
    gpad = xp.zeros((n, k, 4 * th, 4 * tw), dtype=g.dtype)
    gpad[:, :, :oh, :ow] = g
    at = xp.asarray(AT, dtype=g.dtype)
    dm = xp.einsum("ar,nkiajb,bs->rskijn", at, gpad.reshape(n, k, th, 4, tw, 4), at)
    return xp.ascontiguousarray(dm.reshape(25, k, th * tw * n))


def grad_input_transform_ref(dv, x_shape, ph, pw, xp=None):
    """∂L/∂x (N, C, H, W): B dV Bᵀ of every tile added into the 5×5 phase tile it was read from
    (the adjoint of :func:`input_transform_ref`)."""
    xp = xp or select_impl(dv)[1]
    n, c, h, w = x_shape
    _, _, th, tw = tiles(h, w, ph, pw)
    hp, wp = _padded_rows(th, h, ph), _padded_rows(tw, w, pw)
    bt = xp.asarray(BT, dtype=dv.dtype)
    dd = xp.einsum("ru,rscabijn,sv->uvnciajb", bt, dv.reshape(5, 5, c, 2, 2, th, tw, n), bt)
    dxs = xp.zeros((n, c, hp // 2, 2, wp // 2, 2), dtype=dv.dtype)
    for u, row in enumerate(_phase_tiles(th, tw)):
        for v, (ru, rv) in enumerate(row):
            dxs[:, :, ru, :, rv, :] += dd[u, v]
    return xp.ascontiguousarray(dxs.reshape(n, c, hp, wp)[:, :, ph:ph + h, pw:pw + w])


# ----------------------------------------------------------------------------- Numba kernels
# The layout follows winograd.py: tiles ordered (i, j, n), image index last, and each channel
# first copied into local planes with the image index last and the padded columns split by
# their residue mod 8 (input side) or mod 4 (output side). Padded column 8J + 2m + b is phase
# column 4J + m of phase b, so for a whole tile row the values at tile column offset v < 4 are
# one contiguous run of TW·N values in plane 2v + b, and those at v = 4 the run of plane b
# shifted by N. Each 1-D transform is then a loop over whole runs, which LLVM vectorises.

@helper
def _bt(d0, d1, d2, d3, d4, r0, r1, r2, r3, r4, n):
    """r = Bᵀ d on runs of n values: (2d0 − d1 − 2d2 + d3, 2d1 + d2 − d3, −2d1 + 3d2 − d3,
    d3 − d1, 2d1 − d2 − 2d3 + d4)."""
    c2 = r0.dtype.type(2)
    c3 = r0.dtype.type(3)
    for q in range(n):
        a1, a2, a3 = d1[q], d2[q], d3[q]
        r0[q] = c2 * (d0[q] - a2) - a1 + a3
        r1[q] = c2 * a1 + a2 - a3
        r2[q] = c3 * a2 - c2 * a1 - a3
        r3[q] = a3 - a1
        r4[q] = c2 * (a1 - a3) - a2 + d4[q]


@helper
def _b(v0, v1, v2, v3, v4, e0, e1, e2, e3, e4, n):
    """e = B v on runs of n values (B = (Bᵀ)ᵀ): (2v0, −v0 + 2v1 − 2v2 − v3 + 2v4,
    −2v0 + v1 + 3v2 − v4, v0 − v1 − v2 + v3 − 2v4, v4)."""
    c2 = e0.dtype.type(2)
    c3 = e0.dtype.type(3)
    for q in range(n):
        a0, a1, a2, a3, a4 = v0[q], v1[q], v2[q], v3[q], v4[q]
        e0[q] = c2 * a0
        e1[q] = c2 * (a1 - a2 + a4) - a0 - a3
        e2[q] = a1 + c3 * a2 - c2 * a0 - a4
        e3[q] = a0 - a1 - a2 + a3 - c2 * a4
        e4[q] = a4


@helper
def _at(m0, m1, m2, m3, m4, y0, y1, y2, y3, n):
    """y = Aᵀ m on runs of n values: (m0 + m1 + m2 + m3, m1 − m2 + 2m3, m1 + m2 + 4m3,
    m1 − m2 + 8m3 + m4)."""
    c2 = y0.dtype.type(2)
    c4 = y0.dtype.type(4)
    c8 = y0.dtype.type(8)
    for q in range(n):
        a1, a2, a3 = m1[q], m2[q], m3[q]
        s = a1 + a2
        d = a1 - a2
        y0[q] = m0[q] + s + a3
        y1[q] = d + c2 * a3
        y2[q] = s + c4 * a3
        y3[q] = d + c8 * a3 + m4[q]


@helper
def _a(y0, y1, y2, y3, p0, p1, p2, p3, p4, n):
    """p = A y on runs of n values (A = (Aᵀ)ᵀ): (y0, y0 + y1 + y2 + y3, y0 − y1 + y2 − y3,
    y0 + 2y1 + 4y2 + 8y3, y3)."""
    c2 = p0.dtype.type(2)
    c4 = p0.dtype.type(4)
    c8 = p0.dtype.type(8)
    for q in range(n):
        a0, a1, a2, a3 = y0[q], y1[q], y2[q], y3[q]
        p0[q] = a0
        p1[q] = a0 + a1 + a2 + a3
        p2[q] = a0 - a1 + a2 - a3
        p3[q] = a0 + c2 * a1 + c4 * a2 + c8 * a3
        p4[q] = a3


@helper
def _runs5(flat, o, step, q):
    """flat[o + k·step : o + k·step + q] for k = 0…4."""
    return (flat[o:o + q], flat[o + step:o + step + q], flat[o + 2 * step:o + 2 * step + q],
            flat[o + 3 * step:o + 3 * step + q], flat[o + 4 * step:o + 4 * step + q])


@helper
def _unpack8(x, c, ph, pw, pl):
    """Channel c of NCHW x into the planes pl (8, rows, (TW + 1)·N): x[n, c, h, w] goes to padded
    row h + ph, column q = w + pw, at pl[q % 8, h + ph, (q // 8)·N + n] (rows past pl dropped)."""
    N, _, H, W = x.shape
    for h in range(min(H, pl.shape[1] - ph)):
        for w in range(W):
            q = w + pw
            o = (q >> 3) * N
            if o + N > pl.shape[2]:
                continue
            dst = pl[q & 7, h + ph, o:o + N]
            for n in range(N):
                dst[n] = x[n, c, h, w]


@helper
def _pack8(pl, c, ph, pw, x):
    """The inverse of _unpack8: channel c of x from the planes' interior (zero past them)."""
    N, _, H, W = x.shape
    for h in range(H):
        for w in range(W):
            q = w + pw
            o = (q >> 3) * N
            if h + ph >= pl.shape[1] or o + N > pl.shape[2]:
                for n in range(N):
                    x[n, c, h, w] = 0
                continue
            src = pl[q & 7, h + ph, o:o + N]
            for n in range(N):
                x[n, c, h, w] = src[n]


@helper
def _b_cols(tv, pl, b, rr, N, Q):
    """Add B · (the 5 runs tv[0…4]) into row rr of planes b, 2 + b, 4 + b, 6 + b and (shifted by N)
    plane b again."""
    e0 = pl[b, rr, :Q]
    e1 = pl[2 + b, rr, :Q]
    e2 = pl[4 + b, rr, :Q]
    e3 = pl[6 + b, rr, :Q]
    v0, v1, v2, v3, v4 = tv[0], tv[1], tv[2], tv[3], tv[4]
    c2 = pl.dtype.type(2)
    c3 = pl.dtype.type(3)
    for q in range(Q):
        a0, a1, a2, a3, a4 = v0[q], v1[q], v2[q], v3[q], v4[q]
        e0[q] += c2 * a0
        e1[q] += c2 * (a1 - a2 + a4) - a0 - a3
        e2[q] += a1 + c3 * a2 - c2 * a0 - a4
        e3[q] += a0 - a1 - a2 + a3 - c2 * a4
    e4 = pl[b, rr, N:N + Q]
    for q in range(Q):
        e4[q] += v4[q]


@kernel(parallel=True, streaming=True)
def s2_input_transform_kernel(x, ph, pw, TH, TW, v, S):
    """v[p·S + (4c + 2a + b)·T + (i·TW + j)·N + n] = (Bᵀ d B)[r, s] (p = 5r + s), d the 5×5 tile
    (i, j) of phase (a, b) of x[n, c] (T = TH·TW·N). One channel per iteration."""
    N, C, H, W = x.shape
    Q = TW * N
    T = TH * Q
    for c in prange(C):
        pl = numpy.zeros((8, 8 * TH + 2, (TW + 1) * N), dtype=x.dtype)
        _unpack8(x, c, ph, pw, pl)
        t = numpy.empty((5, 5, Q), dtype=x.dtype)       # Bᵀ d of one tile row: (r, v)
        for i in range(TH):
            for a in range(2):
                r0 = 8 * i + a
                for b in range(2):
                    for cv in range(5):                  # Bᵀ on the rows of tile column offset cv
                        p = (2 * cv + b) & 7
                        o = N if cv == 4 else 0
                        _bt(pl[p, r0, o:o + Q], pl[p, r0 + 2, o:o + Q], pl[p, r0 + 4, o:o + Q],
                            pl[p, r0 + 6, o:o + Q], pl[p, r0 + 8, o:o + Q],
                            t[0, cv], t[1, cv], t[2, cv], t[3, cv], t[4, cv], Q)
                    base = (4 * c + 2 * a + b) * T + i * Q
                    for r in range(5):                   # (Bᵀ d) B: Bᵀ again on each row's columns
                        v0, v1, v2, v3, v4 = _runs5(v, 5 * r * S + base, S, Q)
                        _bt(t[r, 0], t[r, 1], t[r, 2], t[r, 3], t[r, 4], v0, v1, v2, v3, v4, Q)


@kernel(parallel=True, streaming=True)
def s2_output_transform_kernel(m, S, bias, has_bias, TH, TW, y):
    """y[n, k] = Aᵀ M A of each tile (+ bias[k]), M flat as in s2_input_transform_kernel; rows and
    columns beyond y's size are dropped. One output channel per iteration."""
    N, K, OH, OW = y.shape
    Q = TW * N
    T = TH * Q
    for k in prange(K):
        yp = numpy.empty((4, 4 * TH, Q), dtype=y.dtype)   # output column 4j + b at yp[b, row, j·N + n]
        u = numpy.empty((4, 5, Q), dtype=y.dtype)         # Aᵀ M of the tile row: (a, s)
        for i in range(TH):
            base = k * T + i * Q
            for s in range(5):
                m0, m1, m2, m3, m4 = _runs5(m, s * S + base, 5 * S, Q)
                _at(m0, m1, m2, m3, m4, u[0, s], u[1, s], u[2, s], u[3, s], Q)
            for a in range(4):
                row = 4 * i + a
                _at(u[a, 0], u[a, 1], u[a, 2], u[a, 3], u[a, 4], yp[0, row], yp[1, row], yp[2, row], yp[3, row], Q)
        _scatter4(yp, k, bias[k] if has_bias else y.dtype.type(0), y)


@kernel(parallel=True, streaming=True)
def s2_grad_output_transform_kernel(g, TH, TW, dm, S):
    """dm[p·S + k·T + t] = (A dY Aᵀ)[r, s], dY the 4×4 block of g[n, k] under tile t (zeros beyond
    g). One channel per iteration."""
    N, K, OH, OW = g.shape
    Q = TW * N
    T = TH * Q
    for k in prange(K):
        gp = numpy.zeros((4, 4 * TH, Q), dtype=g.dtype)   # g's column 4j + b at gp[b, row, j·N + n]
        _gather4(g, k, gp)
        p = numpy.empty((5, 4, Q), dtype=g.dtype)         # A dY of the tile row: (r, b)
        for i in range(TH):
            r0 = 4 * i
            for b in range(4):
                _a(gp[b, r0], gp[b, r0 + 1], gp[b, r0 + 2], gp[b, r0 + 3], p[0, b], p[1, b], p[2, b], p[3, b],
                   p[4, b], Q)
            base = k * T + i * Q
            for r in range(5):
                d0, d1, d2, d3, d4 = _runs5(dm, 5 * r * S + base, S, Q)
                _a(p[r, 0], p[r, 1], p[r, 2], p[r, 3], d0, d1, d2, d3, d4, Q)


@kernel(parallel=True, streaming=True)
def s2_grad_input_transform_kernel(dv, S, ph, pw, TH, TW, dx):
    """dx[n, c] = interior of Σ_tiles (B dV Bᵀ added into the tile's 5×5 of phase (a, b)), dV
    flat as in s2_input_transform_kernel. One channel per iteration."""
    N, C, H, W = dx.shape
    Q = TW * N
    T = TH * Q
    for c in prange(C):
        pl = numpy.zeros((8, 8 * TH + 2, (TW + 1) * N), dtype=dx.dtype)
        t = numpy.empty((5, 5, Q), dtype=dx.dtype)         # B dV of one tile row: (u, s)
        for i in range(TH):
            for a in range(2):
                r0 = 8 * i + a
                for b in range(2):
                    base = (4 * c + 2 * a + b) * T + i * Q
                    for s in range(5):                     # B on the rows
                        v0, v1, v2, v3, v4 = _runs5(dv, s * S + base, 5 * S, Q)
                        _b(v0, v1, v2, v3, v4, t[0, s], t[1, s], t[2, s], t[3, s], t[4, s], Q)
                    for uu in range(5):                    # (B dV) Bᵀ, added into the planes
                        _b_cols(t[uu], pl, b, r0 + 2 * uu, N, Q)
        _pack8(pl, c, ph, pw, dx)


@kernel(parallel=False)
def s2_weight_transform_kernel(w, kron, u):
    """u[p, o, j] = Σ_{uv} kron[p, uv]·w_q[uv, j], with w_q[2u + v, 4c + 2a + b] = w[o, c, 2u + a, 2v + b]
    (p = 5r + s, kron = G ⊗ G): one output channel per iteration, gathered once into w_q, then
    25 contiguous rows of u, each a 4-term sum (in float64, rounded once)."""
    O, C = w.shape[0], w.shape[1]
    J = 4 * C
    for o in range(O):
        wq = numpy.empty((4, J), dtype=numpy.float64)
        for c in range(C):
            for a in range(2):
                for b in range(2):
                    for uu in range(2):
                        for v in range(2):
                            wq[2 * uu + v, 4 * c + 2 * a + b] = w[o, c, 2 * uu + a, 2 * v + b]
        w0, w1, w2, w3 = wq[0], wq[1], wq[2], wq[3]
        for p in range(25):
            k0, k1, k2, k3 = kron[p, 0], kron[p, 1], kron[p, 2], kron[p, 3]
            dst = u[p, o]
            for j in range(J):
                dst[j] = k0 * w0[j] + k1 * w1[j] + k2 * w2[j] + k3 * w3[j]


@kernel(parallel=False)
def s2_weight_grad_transform_kernel(du, kron, dw):
    """dw[o, c, 2u + a, 2v + b] = Σ_p kron[p, 2u + v]·dU[p, o, 4c + 2a + b]: the adjoint of
    s2_weight_transform_kernel (contiguous rows of dU summed into four, then scattered), in
    float64, rounded once. One output channel per iteration."""
    O, C = dw.shape[0], dw.shape[1]
    J = 4 * C
    for o in range(O):
        acc = numpy.zeros((4, J), dtype=numpy.float64)
        a0, a1, a2, a3 = acc[0], acc[1], acc[2], acc[3]
        for p in range(25):
            k0, k1, k2, k3 = kron[p, 0], kron[p, 1], kron[p, 2], kron[p, 3]
            src = du[p, o]
            for j in range(J):
                x = 1.0 * src[j]
                a0[j] += k0 * x
                a1[j] += k1 * x
                a2[j] += k2 * x
                a3[j] += k3 * x
        for c in range(C):
            for a in range(2):
                for b in range(2):
                    for uu in range(2):
                        for v in range(2):
                            dw[o, c, 2 * uu + a, 2 * v + b] = acc[2 * uu + v, 4 * c + 2 * a + b]


# ----------------------------------------------------------------------------- dispatchers

(input_transform, output_transform, grad_output_transform, grad_input_transform, weight_transform,
 weight_grad_transform) = make_dispatchers(
    tiles, TILE, PLANES, PHASES, (KERNEL, KERNEL),
    (s2_input_transform_kernel, s2_output_transform_kernel, s2_grad_output_transform_kernel,
     s2_grad_input_transform_kernel, lambda w, u: s2_weight_transform_kernel(w, KRON, u),
     lambda du, dw: s2_weight_grad_transform_kernel(du, KRON, dw)),
    (input_transform_ref, output_transform_ref, grad_output_transform_ref, grad_input_transform_ref,
     weight_transform_ref, weight_grad_transform_ref), "stride-2")
