"""Winograd F(2×2, 3×3): a 3×3 stride-1 convolution with 2.25× fewer multiplications.

A 3×3 convolution computes each 2×2 block of outputs from a 4×4 tile of the (padded) input.
Winograd's minimal filtering algorithm (Lavin & Gray, 2016) writes that as an element-wise
product in a transformed domain::

    Y = Aᵀ [ (G w Gᵀ) ⊙ (Bᵀ d B) ] A          d: 4×4 input tile, w: 3×3 kernel, Y: 2×2 outputs

         ⎡1  0 −1  0⎤        ⎡ 1    0    0 ⎤
    Bᵀ = ⎢0  1  1  0⎥    G = ⎢1/2  1/2  1/2⎥    Aᵀ = ⎡1  1  1  0⎤
         ⎢0 −1  1  0⎥        ⎢1/2 −1/2  1/2⎥         ⎣0  1 −1 −1⎦
         ⎣0  1  0 −1⎦        ⎣ 0    0    1 ⎦

16 multiplications for 4 outputs instead of 36. Over channels the products become sums, so the
convolution is 16 independent GEMMs, one per transformed position p = 4r + s::

    V[p, c, t] = (Bᵀ d_{c,t} B)[r, s]          input transform: (16, C_in, T) for T tiles
    U[p, k, c] = (G w_{k,c} Gᵀ)[r, s]          weight transform: (16, C_out, C_in)
    M[p]       = U[p] · V[p]                   16 GEMMs (C_out × C_in) · (C_in × T)
    y tile     = Aᵀ M[:, k, t] A               output transform

Tiles: output rows are covered by TH = ⌈OH/2⌉ tiles (OH = H + 2·ph − 2); tile (i, j) reads
padded input rows 2i … 2i+3 and columns 2j … 2j+3 (zeros outside x) and writes output rows
2i, 2i+1 (a row beyond OH is dropped). Tile index t = (i·TW + j)·N + n (image index last).

The backward is the adjoint of each linear step, so it costs the same three GEMM shapes::

    dM[:, k, t] = A dY Aᵀ                            output-gradient transform (2×2 block → 4×4)
    dU[p]       = dM[p] · V[p]ᵀ                      → ∂L/∂w = Gᵀ dU G (summed over tiles)
    dV[p]       = U[p]ᵀ · dM[p]                      → ∂L/∂x: B dV Bᵀ added into each tile's 4×4

In exact arithmetic these are the convolution and its gradients. In float32 the transforms add a
few roundings; measured against a float64 convolution (64 → 64 channels, 14×14), the error is the
size of im2col's: rms 2.6e-7 vs 2.9e-7 of the output's rms, max 3.4e-7 vs 5.7e-7 of its max.

Each transform has a plain array reference (``*_ref``, NumPy/CuPy/the test device) and a Numba
kernel; the kernels run in parallel over channels (each output element written by one iteration,
so results do not depend on the thread count).
"""
from __future__ import annotations

import numpy

from ._jit import helper, kernel, prange, select_impl

# the geometry this module handles, as conv.py asks for it
KERNEL, STRIDE = 3, 1
TILE = 2          # output tile side
PLANES = 16       # transformed positions (GEMMs)
PHASES = 1        # transformed channels per input channel

BT = numpy.array([[1, 0, -1, 0], [0, 1, 1, 0], [0, -1, 1, 0], [0, 1, 0, -1]], dtype=numpy.float64)
G = numpy.array([[1, 0, 0], [0.5, 0.5, 0.5], [0.5, -0.5, 0.5], [0, 0, 1]], dtype=numpy.float64)
AT = numpy.array([[1, 1, 1, 0], [0, 1, -1, -1]], dtype=numpy.float64)


def tiles(h, w, ph, pw):
    """(OH, OW, TH, TW): the output size of a 3×3 stride-1 convolution and its tile grid."""
    oh, ow = h + 2 * ph - 2, w + 2 * pw - 2
    if oh < 1 or ow < 1:
        raise ValueError(f"winograd: a 3x3 kernel does not fit the padded input ({h + 2 * ph}, {w + 2 * pw})")
    return oh, ow, -(-oh // 2), -(-ow // 2)


def transformed_empty(c, t, dtype, xp=numpy, alloc=None, planes=16):
    """An empty (planes, c, t) array for V, dV or dM whose planes are ``t·c`` values plus a small
    gap apart: the transforms write (or read) the planes in step, and planes a multiple of
    4 KB apart would all fall into the same cache sets (measured on 16 images of 64 channels,
    14×14: input transform 1.8 → 0.3 ms). ``alloc(n)``: where the flat buffer comes from."""
    itemsize = numpy.dtype(dtype).itemsize
    plane = c * t * itemsize
    stride = -(-plane // 4096) * 4096 + 320            # bytes; 320 = 5 cache lines
    se = stride // itemsize
    flat = alloc(planes * se) if alloc is not None else xp.empty(planes * se, dtype=dtype)
    return flat.reshape(planes, se)[:, :c * t].reshape(planes, c, t)


# ----------------------------------------------------------------------------- references

def stride1_references(bt, g, at, tiles_of):
    """The plain-array references of a stride-1 F(m×m, 3×3) from its matrices Bᵀ (a×a), G (a×3) and
    Aᵀ (m×a), a = m + 2, and its tile grid ``tiles_of(h, w, ph, pw)``: (input, output,
    grad_output, grad_input, weight, weight_grad) transforms, written with einsum and strided
    slices (they run on NumPy, CuPy and the test device; the tests hold the kernels to them).
    Tiles are m apart; tile index (i·TW + j)·N + n, image index last."""
    a, m = bt.shape[0], at.shape[0]
    planes = a * a

    def input_transform_ref(x, ph, pw, xp=None):
        """V (a², C, TH·TW·N) = Bᵀ d B for every a×a input tile d."""
        xp = xp or select_impl(x)[1]
        n, c, h, w = x.shape
        _, _, th, tw = tiles_of(h, w, ph, pw)
        xpad = xp.zeros((n, c, m * th + 2, m * tw + 2), dtype=x.dtype)
        xpad[:, :, ph:ph + h, pw:pw + w] = x
        d = xp.stack([xp.stack([xpad[:, :, u:u + m * th:m, v:v + m * tw:m] for v in range(a)]) for u in range(a)])
        b_ = xp.asarray(bt, dtype=x.dtype)
        v_ = xp.einsum("ru,uvncij,sv->rscijn", b_, d, b_)
        return xp.ascontiguousarray(v_.reshape(planes, c, th * tw * n))

    def output_transform_ref(mm, n, oh, ow, bias=None, xp=None):
        """y (N, C_out, OH, OW) = Aᵀ M A per tile (+ bias), from M (a², C_out, TH·TW·N)."""
        xp = xp or select_impl(mm)[1]
        k = mm.shape[1]
        th, tw = -(-oh // m), -(-ow // m)
        a_ = xp.asarray(at, dtype=mm.dtype)
        y = xp.einsum("ar,rskijn,bs->nkiajb", a_, mm.reshape(a, a, k, th, tw, n), a_)
        y = y.reshape(n, k, m * th, m * tw)[:, :, :oh, :ow]
        if bias is not None:
            y = y + bias.reshape(1, k, 1, 1)
        return xp.ascontiguousarray(y)

    def grad_output_transform_ref(gy, xp=None):
        """dM (a², C_out, TH·TW·N) = A dY Aᵀ for every m×m output block dY (zeros beyond the output)."""
        xp = xp or select_impl(gy)[1]
        n, k, oh, ow = gy.shape
        th, tw = -(-oh // m), -(-ow // m)
        gpad = xp.zeros((n, k, m * th, m * tw), dtype=gy.dtype)
        gpad[:, :, :oh, :ow] = gy
        a_ = xp.asarray(at, dtype=gy.dtype)
        dm = xp.einsum("ar,nkiajb,bs->rskijn", a_, gpad.reshape(n, k, th, m, tw, m), a_)
        return xp.ascontiguousarray(dm.reshape(planes, k, th * tw * n))

    def grad_input_transform_ref(dv, x_shape, ph, pw, xp=None):
        """∂L/∂x (N, C, H, W): B dV Bᵀ of every tile added into the a×a it was read from (the
        adjoint of the input transform)."""
        xp = xp or select_impl(dv)[1]
        n, c, h, w = x_shape
        _, _, th, tw = tiles_of(h, w, ph, pw)
        b_ = xp.asarray(bt, dtype=dv.dtype)
        dd = xp.einsum("ru,rscijn,sv->uvncij", b_, dv.reshape(a, a, c, th, tw, n), b_)
        dxpad = xp.zeros((n, c, m * th + 2, m * tw + 2), dtype=dv.dtype)
        for u in range(a):
            for v in range(a):
                dxpad[:, :, u:u + m * th:m, v:v + m * tw:m] += dd[u, v]
        return xp.ascontiguousarray(dxpad[:, :, ph:ph + h, pw:pw + w])

    def weight_transform_ref(w, xp=None):
        """U (a², C_out, C_in) = G w Gᵀ for every (k, c) of a (C_out, C_in, 3, 3) weight (in
        float64, rounded once)."""
        xp = xp or select_impl(w)[1]
        g_ = xp.asarray(g)
        gw = xp.tensordot(g_, w.astype(xp.float64), axes=([1], [2]))     # (a, K, C, 3): G w
        u = xp.tensordot(gw, g_, axes=([3], [1]))                         # (a, K, C, a): (G w) Gᵀ
        u = u.transpose(0, 3, 1, 2).reshape(planes, w.shape[0], w.shape[1])
        return xp.ascontiguousarray(u.astype(w.dtype))

    def weight_grad_transform_ref(du, xp=None):
        """∂L/∂w (C_out, C_in, 3, 3) = Gᵀ dU G, the adjoint of the weight transform."""
        xp = xp or select_impl(du)[1]
        g_ = xp.asarray(g)
        dua = du.astype(xp.float64).reshape(a, a, *du.shape[1:])
        gd = xp.tensordot(g_, dua, axes=([0], [0]))                       # (3, a, K, C): Gᵀ dU
        dw = xp.tensordot(gd, g_, axes=([1], [0]))                        # (3, K, C, 3): (Gᵀ dU) G
        return xp.ascontiguousarray(dw.transpose(1, 2, 0, 3).astype(du.dtype))

    return (input_transform_ref, output_transform_ref, grad_output_transform_ref, grad_input_transform_ref,
            weight_transform_ref, weight_grad_transform_ref)


(input_transform_ref, output_transform_ref, grad_output_transform_ref, grad_input_transform_ref,
 weight_transform_ref, weight_grad_transform_ref) = stride1_references(BT, G, AT, tiles)


# ----------------------------------------------------------------------------- Numba kernels
# Tiles are ordered (i, j, n), image index last, and each channel is first copied into two local
# planes with the image index last and the even and odd padded columns apart: row h of the even
# plane holds columns 0, 2, 4, … as runs of N values, so for a whole tile row the values of
# column 2j (2j + 1) are one contiguous run of TW·N values in the even (odd) plane, and those of
# column 2j + 2 (2j + 3) the same run shifted by N. Each transform is then a few loops over whole
# tile rows (two to four loads and stores each), which LLVM vectorises. The transformed arrays
# are passed flat (1-D contiguous, plane p starting at p·S): strided (A-layout) arrays did not
# vectorise (4-5x slower), nor did loops choosing between the two planes at run time.

@helper
def _runs(flat, o, step, q):
    """The four runs flat[o + k·step : o + k·step + q], k = 0…3 (four planes of a tile row)."""
    return (flat[o:o + q], flat[o + step:o + step + q], flat[o + 2 * step:o + 2 * step + q],
            flat[o + 3 * step:o + 3 * step + q])


@helper
def _sizes(TH, TW, N):
    """(padded rows, one deinterleaved padded row, one tile row, one channel) in values."""
    return 2 * TH + 2, (TW + 1) * N, TW * N, TH * TW * N


@helper
def _unpack(x, c, ph, pw, ev, od):
    """Channel c of NCHW x into the image-last planes: x[n, c, h, w] goes to padded column
    q = w + pw of row h + ph, in ev (q even) or od (q odd) at (q // 2)·N + n."""
    N, _, H, W = x.shape
    for h in range(H):
        for w in range(W):
            q = w + pw
            o = (q >> 1) * N
            dst = od[h + ph, o:o + N] if q & 1 else ev[h + ph, o:o + N]
            for n in range(N):
                dst[n] = x[n, c, h, w]


@helper
def _pack(ev, od, c, ph, pw, x):
    """The inverse of _unpack: channel c of x from the planes' interior."""
    N, _, H, W = x.shape
    for h in range(H):
        for w in range(W):
            q = w + pw
            o = (q >> 1) * N
            src = od[h + ph, o:o + N] if q & 1 else ev[h + ph, o:o + N]
            for n in range(N):
                x[n, c, h, w] = src[n]


@helper
def _bt(d0, d1, d2, d3, r0, r1, r2, r3, n):
    """The 1-D transform Bᵀ on runs of n values: r = (d0 − d2, d1 + d2, d2 − d1, d1 − d3).
    Applied to the rows of a tile row, then to their columns. (A helper per call site: choosing
    between planes at run time inside one loop stopped LLVM from vectorising it.)"""
    for q in range(n):
        r0[q] = d0[q] - d2[q]
        r1[q] = d1[q] + d2[q]
        r2[q] = d2[q] - d1[q]
        r3[q] = d1[q] - d3[q]


@helper
def _a(y0, y1, p0, p1, p2, p3, n):
    """The 1-D transform A (4×2) on runs of n values: p = (y0, y0 + y1, y0 − y1, −y1)."""
    for q in range(n):
        p0[q] = y0[q]
        p1[q] = y0[q] + y1[q]
        p2[q] = y0[q] - y1[q]
        p3[q] = -y1[q]


@kernel(parallel=True, streaming=True)
def input_transform_kernel(x, ph, pw, TH, TW, v, S):
    """v[p·S + c·T + (i·TW + j)·N + n] = (Bᵀ d B)[r, s] (p = 4r + s), d the 4×4 tile (i, j) of
    x[n, c] (T = TH·TW·N). One channel per iteration."""
    N, C, H, W = x.shape
    Hp, L, Q, T = _sizes(TH, TW, N)
    for c in prange(C):
        ev = numpy.zeros((Hp, L), dtype=x.dtype)     # padded columns 0, 2, 4, …: (col // 2, n)
        od = numpy.zeros((Hp, L), dtype=x.dtype)     # padded columns 1, 3, 5, …
        _unpack(x, c, ph, pw, ev, od)
        re = numpy.empty((4, L), dtype=x.dtype)      # Bᵀ d of the tile row, even / odd columns
        ro = numpy.empty((4, L), dtype=x.dtype)
        for i in range(TH):
            a = 2 * i
            # Bᵀ d on the rows, even and odd columns apart
            _bt(ev[a], ev[a + 1], ev[a + 2], ev[a + 3], re[0], re[1], re[2], re[3], L)
            _bt(od[a], od[a + 1], od[a + 2], od[a + 3], ro[0], ro[1], ro[2], ro[3], L)
            base = c * T + i * Q
            for r in range(4):
                # (Bᵀ d) B: Bᵀ again on each row's columns 2j, 2j + 1 (even, odd planes) and
                # 2j + 2, 2j + 3 (the same runs shifted by N)
                v0, v1, v2, v3 = _runs(v, 4 * r * S + base, S, Q)
                _bt(re[r, :Q], ro[r, :Q], re[r, N:N + Q], ro[r, N:N + Q], v0, v1, v2, v3, Q)


@kernel(parallel=True, streaming=True)
def output_transform_kernel(m, S, bias, has_bias, TH, TW, y):
    """y[n, k] = Aᵀ M A of each tile (+ bias[k]), M flat as in input_transform_kernel; rows and
    columns beyond y's size are dropped. One output channel per iteration."""
    N, K, OH, OW = y.shape
    Q = TW * N
    T = TH * Q
    for k in prange(K):
        ye = numpy.empty((2 * TH, Q), dtype=y.dtype)   # output columns 0, 2, …: (col // 2, n)
        yo = numpy.empty((2 * TH, Q), dtype=y.dtype)   # output columns 1, 3, …
        u = numpy.empty((2, 4, Q), dtype=y.dtype)      # Aᵀ M of the tile row
        for i in range(TH):
            base = k * T + i * Q
            for s in range(4):
                # Aᵀ M: rows m0 + m1 + m2 and m1 − m2 − m3
                m0, m1, m2, m3 = _runs(m, s * S + base, 4 * S, Q)
                u0 = u[0, s]
                u1 = u[1, s]
                for q in range(Q):
                    u0[q] = m0[q] + m1[q] + m2[q]
                    u1[q] = m1[q] - m2[q] - m3[q]
            for a in range(2):
                # (Aᵀ M) A: columns u0 + u1 + u2 and u1 − u2 − u3
                u0, u1, u2, u3 = u[a, 0], u[a, 1], u[a, 2], u[a, 3]
                dst_e = ye[2 * i + a]
                dst_o = yo[2 * i + a]
                for q in range(Q):
                    dst_e[q] = u0[q] + u1[q] + u2[q]
                    dst_o[q] = u1[q] - u2[q] - u3[q]
        bk = bias[k] if has_bias else y.dtype.type(0)
        for n in range(N):
            for h in range(OH):
                re_ = ye[h]
                ro_ = yo[h]
                for w in range(OW):
                    if w & 1:
                        y[n, k, h, w] = ro_[(w >> 1) * N + n] + bk
                    else:
                        y[n, k, h, w] = re_[(w >> 1) * N + n] + bk


@kernel(parallel=True, streaming=True)
def grad_output_transform_kernel(g, TH, TW, dm, S):
    """dm[p·S + k·T + t] = (A dY Aᵀ)[r, s], dY the 2×2 block of g[n, k] under tile t = (i·TW + j)·N + n
    (zeros beyond g). One channel per iteration."""
    N, K, OH, OW = g.shape
    Q = TW * N
    T = TH * Q
    for k in prange(K):
        ge = numpy.zeros((2 * TH, Q), dtype=g.dtype)   # g's columns 0, 2, …: (col // 2, n)
        go = numpy.zeros((2 * TH, Q), dtype=g.dtype)   # columns 1, 3, …
        _unpack(g, k, 0, 0, ge, go)
        pe = numpy.empty((4, Q), dtype=g.dtype)        # A dY of the tile row, even / odd columns
        po = numpy.empty((4, Q), dtype=g.dtype)
        for i in range(TH):
            # A dY on the rows, even and odd columns apart
            _a(ge[2 * i], ge[2 * i + 1], pe[0], pe[1], pe[2], pe[3], Q)
            _a(go[2 * i], go[2 * i + 1], po[0], po[1], po[2], po[3], Q)
            base = k * T + i * Q
            for r in range(4):
                # (A dY) Aᵀ: A again on each row's two columns
                d0, d1, d2, d3 = _runs(dm, 4 * r * S + base, S, Q)
                _a(pe[r], po[r], d0, d1, d2, d3, Q)


@kernel(parallel=True, streaming=True)
def grad_input_transform_kernel(dv, S, ph, pw, TH, TW, dx):
    """dx[n, c] = interior of Σ_tiles (B dV Bᵀ added into the tile's 4×4), tile rows in order,
    dV flat as in input_transform_kernel. One channel per iteration."""
    N, C, H, W = dx.shape
    Hp, L, Q, T = _sizes(TH, TW, N)
    for c in prange(C):
        ev = numpy.zeros((Hp, L), dtype=dx.dtype)      # padded columns 0, 2, …: (col // 2, n)
        od = numpy.zeros((Hp, L), dtype=dx.dtype)
        qq = numpy.empty((4, 4, Q), dtype=dx.dtype)    # B dV of the tile row: (row u, column s)
        for i in range(TH):
            base = c * T + i * Q
            for s in range(4):
                # B dV: rows v0, v1 − v2 + v3, v1 + v2 − v0, −v3
                v0, v1, v2, v3 = _runs(dv, s * S + base, 4 * S, Q)
                q0, q1, q2, q3 = qq[0, s], qq[1, s], qq[2, s], qq[3, s]
                for q in range(Q):
                    q0[q] = v0[q]
                    q1[q] = v1[q] - v2[q] + v3[q]
                    q2[q] = v1[q] + v2[q] - v0[q]
                    q3[q] = -v3[q]
            for uu in range(4):
                # (B dV) Bᵀ: columns a0, a1 − a2 + a3, a1 + a2 − a0, −a3, added into padded columns
                # 2j, 2j + 1 (first loop) and 2j + 2, 2j + 3 (second: the same rows shifted by N)
                a0, a1, a2, a3 = qq[uu, 0], qq[uu, 1], qq[uu, 2], qq[uu, 3]
                e_lo = ev[2 * i + uu, :Q]
                o_lo = od[2 * i + uu, :Q]
                for q in range(Q):
                    e_lo[q] += a0[q]
                    o_lo[q] += a1[q] - a2[q] + a3[q]
                e_hi = ev[2 * i + uu, N:N + Q]
                o_hi = od[2 * i + uu, N:N + Q]
                for q in range(Q):
                    e_hi[q] += a1[q] + a2[q] - a0[q]
                    o_hi[q] -= a3[q]
        _pack(ev, od, c, ph, pw, dx)


@kernel(parallel=False)
def weight_transform_kernel(w, u):
    """u[4r+s, k, c] = (G w[k, c] Gᵀ)[r, s]:  G w has rows w0, (w0 + w1 + w2)/2, (w0 − w1 + w2)/2, w2,
    and the same combination of each row's three columns gives the four columns."""
    K, C = w.shape[0], w.shape[1]
    half = w.dtype.type(0.5)
    gw = numpy.empty((4, 3), dtype=w.dtype)
    row = numpy.empty((16, C), dtype=w.dtype)        # u[:, k, :], written plane by plane below
    for k in range(K):
        for c in range(C):
            for b in range(3):
                w0, w1, w2 = w[k, c, 0, b], w[k, c, 1, b], w[k, c, 2, b]
                gw[0, b] = w0
                gw[1, b] = (w0 + w1 + w2) * half
                gw[2, b] = (w0 - w1 + w2) * half
                gw[3, b] = w2
            for r in range(4):
                x0, x1, x2 = gw[r, 0], gw[r, 1], gw[r, 2]
                row[4 * r, c] = x0
                row[4 * r + 1, c] = (x0 + x1 + x2) * half
                row[4 * r + 2, c] = (x0 - x1 + x2) * half
                row[4 * r + 3, c] = x2
        for p in range(16):
            u[p, k] = row[p]


@kernel(parallel=False)
def weight_grad_transform_kernel(du, dw):
    """dw[k, c] = Gᵀ dU[:, k, c] G: Gᵀ x = (x0 + (x1 + x2)/2, (x1 − x2)/2, (x1 + x2)/2 + x3) for
    each column x of the 4×4 dU, then the same on each row of the 3×4 result."""
    K, C = dw.shape[0], dw.shape[1]
    half = dw.dtype.type(0.5)
    t = numpy.empty((3, 4), dtype=dw.dtype)
    for k in range(K):
        for c in range(C):
            for s in range(4):
                x0, x1, x2, x3 = du[s, k, c], du[4 + s, k, c], du[8 + s, k, c], du[12 + s, k, c]
                t[0, s] = x0 + (x1 + x2) * half
                t[1, s] = (x1 - x2) * half
                t[2, s] = (x1 + x2) * half + x3
            for a in range(3):
                x0, x1, x2, x3 = t[a, 0], t[a, 1], t[a, 2], t[a, 3]
                dw[k, c, a, 0] = x0 + (x1 + x2) * half
                dw[k, c, a, 1] = (x1 - x2) * half
                dw[k, c, a, 2] = (x1 + x2) * half + x3


# ----------------------------------------------------------------------------- dispatchers

def _out(out, shape, dtype, xp):
    if out is None:
        return transformed_empty(shape[1], shape[2], dtype, xp, planes=shape[0])
    if tuple(out.shape) != tuple(shape) or out.dtype != dtype or not _has_planes(out):
        raise ValueError(f"winograd: out must be a {dtype} array of shape {tuple(shape)} with contiguous "
                         f"(c, t) planes, got {out.dtype} {tuple(out.shape)} with strides {out.strides}")
    return out


def _has_planes(a):
    """True when the (planes, c, t) array ``a`` has contiguous (c, t) planes (strides of size-1 axes
    do not count), at least c·t values apart."""
    isz = a.itemsize
    if a.size == 0:
        return True
    return ((a.shape[2] <= 1 or a.strides[2] == isz) and (a.shape[1] <= 1 or a.strides[1] == a.shape[2] * isz)
            and a.strides[0] % isz == 0 and a.strides[0] >= a.shape[1] * a.shape[2] * isz)


def _flat(a):
    """(the 1-D contiguous span of a (planes, c, t) array with contiguous planes, its plane stride S)."""
    if not _has_planes(a):
        raise ValueError(f"winograd: transformed arrays need contiguous (c, t) planes, got strides {a.strides}")
    isz = a.itemsize
    s = a.strides[0] // isz
    span = (a.shape[0] - 1) * s + a.shape[1] * a.shape[2]
    return numpy.lib.stride_tricks.as_strided(a, shape=(span,), strides=(isz,)), s


def make_dispatchers(tiles, tile, planes, phases, kernel_size, kernels, refs, name):
    """The six public transforms of a Winograd module, each running its Numba kernel on host arrays
    (the fused kernels on) and its array reference otherwise; shared by F(2×2, 3×3), F(4×4, 3×3)
    and the stride-2 F(4×4, 2×2). ``kernels`` and ``refs``: (input, output, grad_output,
    grad_input, weight, weight_grad), the two weight kernels called as (w, u) and (du, dw)."""
    in_k, out_k, gout_k, gin_k, w_k, wg_k = kernels
    in_r, out_r, gout_r, gin_r, w_r, wg_r = refs
    kh, kw = kernel_size

    def input_transform(x, ph, pw, out=None):
        n, c, h, w = x.shape
        _, _, th, tw = tiles(h, w, ph, pw)
        impl, xp = select_impl(x)
        if impl != "numba":
            v = in_r(x, ph, pw, xp=xp)
            if out is None:
                return v
            out[...] = v
            return out
        v = _out(out, (planes, phases * c, n * th * tw), x.dtype, xp)
        if v.size:
            in_k(xp.ascontiguousarray(x), ph, pw, th, tw, *_flat(v))
        return v

    def output_transform(m, out, bias=None):
        n, k, oh, ow = out.shape
        th, tw = -(-oh // tile), -(-ow // tile)
        impl, xp = select_impl(m)
        if impl != "numba":
            out[...] = out_r(m, n, oh, ow, bias, xp=xp)
            return out
        if out.size:
            b = bias if bias is not None else xp.zeros(1, dtype=out.dtype)
            out_k(*_flat(m), b.astype(out.dtype, copy=False), bias is not None, th, tw, out)
        return out

    def grad_output_transform(g, out=None):
        n, k, oh, ow = g.shape
        th, tw = -(-oh // tile), -(-ow // tile)
        impl, xp = select_impl(g)
        if impl != "numba":
            dm = gout_r(g, xp=xp)
            if out is None:
                return dm
            out[...] = dm
            return out
        dm = _out(out, (planes, k, n * th * tw), g.dtype, xp)
        if dm.size:
            gout_k(xp.ascontiguousarray(g), th, tw, *_flat(dm))
        return dm

    def grad_input_transform(dv, out, ph, pw):
        n, c, h, w = out.shape
        _, _, th, tw = tiles(h, w, ph, pw)
        impl, xp = select_impl(dv)
        if impl != "numba":
            out[...] = gin_r(dv, out.shape, ph, pw, xp=xp)
            return out
        if out.size:
            gin_k(*_flat(dv), ph, pw, th, tw, out)
        return out

    def weight_transform(w):
        impl, xp = select_impl(w)
        if impl != "numba":
            return w_r(w, xp=xp)
        u = xp.empty((planes, w.shape[0], phases * w.shape[1]), dtype=w.dtype)
        w_k(xp.ascontiguousarray(w), u)
        return u

    def weight_grad_transform(du):
        impl, xp = select_impl(du)
        if impl != "numba":
            return wg_r(du, xp=xp)
        dw = xp.empty((du.shape[1], du.shape[2] // phases, kh, kw), dtype=du.dtype)
        wg_k(xp.ascontiguousarray(du), dw)
        return dw

    cin = f"{phases}·C" if phases > 1 else "C"
    input_transform.__doc__ = (f"V ({planes}, {cin}, N·TH·TW) of NCHW ``x`` for a {kh}×{kw} {name} "
                               "convolution padded by (ph, pw).")
    output_transform.__doc__ = (f"``out`` (N, C_out, OH, OW) ← Aᵀ M A per tile (+ bias) from M ({planes}, "
                                "C_out, N·TH·TW).")
    grad_output_transform.__doc__ = (f"dM ({planes}, C_out, N·TH·TW) = A dY Aᵀ for each {tile}×{tile} block of "
                                     "the output gradient ``g``.")
    grad_input_transform.__doc__ = (f"``out`` (N, C, H, W) ← the input gradient from dV ({planes}, {cin}, "
                                    "N·TH·TW) (adjoint of input_transform).")
    weight_transform.__doc__ = f"U ({planes}, C_out, {cin}_in) of a (C_out, C_in, {kh}, {kw}) weight."
    weight_grad_transform.__doc__ = f"∂L/∂w (C_out, C_in, {kh}, {kw}) from dU (the adjoint of weight_transform)."
    return (input_transform, output_transform, grad_output_transform, grad_input_transform, weight_transform,
            weight_grad_transform)


(input_transform, output_transform, grad_output_transform, grad_input_transform, weight_transform,
 weight_grad_transform) = make_dispatchers(
    tiles, TILE, PLANES, PHASES, (KERNEL, KERNEL),
    (input_transform_kernel, output_transform_kernel, grad_output_transform_kernel, grad_input_transform_kernel,
     weight_transform_kernel, weight_grad_transform_kernel),
    (input_transform_ref, output_transform_ref, grad_output_transform_ref, grad_input_transform_ref,
     weight_transform_ref, weight_grad_transform_ref), "stride-1")
