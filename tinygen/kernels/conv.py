"""im2col / col2im for NCHW convolutions.

Column layout (one GEMM per convolution, no copy of the columns)::

    cols.shape == (C*kh*kw, N*OH*OW)
    cols[(c*kh + i)*kw + j, (n*OH + oh)*OW + ow] = xpad[n, c, oh*sh + i, ow*sw + j]

where ``xpad`` is ``x`` zero-padded by ``ph`` rows and ``pw`` columns on each side and
``OH = (H + 2 ph − kh) // sh + 1``, ``OW = (W + 2 pw − kw) // sw + 1``. With ``Wm = w.reshape(O, C*kh*kw)``
a conv2d is then three plain 2-D GEMMs on contiguous operands::

    y    = (Wm @ cols).reshape(O, N, OH, OW).transpose(1, 0, 2, 3)      # forward
    gm   = gy.transpose(1, 0, 2, 3).reshape(O, N*OH*OW)                 # backward
    dW   = (gm @ cols.T).reshape(w.shape)
    dx   = col2im(Wm.T @ gm, x.shape, kh, kw, stride, padding)

``col2im`` is the exact adjoint of ``im2col``: ``<im2col(x), c> == <x, col2im(c)>``; every
element of ``dx`` is the sum of the column entries that copied it, added in the order
``i`` then ``j`` (so the Numba kernel, the NumPy reference and the CuPy kernel agree bit for bit).

The Numba kernels run in parallel over the (c, n) planes; each output element is written by
exactly one iteration, so the result does not depend on the thread count.
"""
from __future__ import annotations

import numpy

from ._jit import cupy_kernel, kernel, prange, select_impl


def _pair(name, v):
    if isinstance(v, (tuple, list)):
        if len(v) != 2:
            raise ValueError(f"{name} must be an int or a pair of ints, got {v!r}")
        a, b = v
    else:
        a = b = v
    try:
        a, b = int(a), int(b)
    except (TypeError, ValueError):
        raise TypeError(f"{name} must be an int or a pair of ints, got {v!r}") from None
    return a, b


def conv_geometry(x_shape, kh, kw, stride=1, padding=0):
    """Check the arguments; return ``(N, C, H, W, kh, kw, sh, sw, ph, pw, OH, OW)``."""
    if len(x_shape) != 4:
        raise ValueError(f"im2col/col2im expect an NCHW shape with 4 dimensions, got {tuple(x_shape)}")
    N, C, H, W = (int(s) for s in x_shape)
    kh, kw = int(kh), int(kw)
    sh, sw = _pair("stride", stride)
    ph, pw = _pair("padding", padding)
    if kh < 1 or kw < 1:
        raise ValueError(f"kernel size must be positive, got ({kh}, {kw})")
    if sh < 1 or sw < 1:
        raise ValueError(f"stride must be positive, got ({sh}, {sw})")
    if ph < 0 or pw < 0:
        raise ValueError(f"padding must be non-negative, got ({ph}, {pw})")
    if H + 2 * ph < kh or W + 2 * pw < kw:
        raise ValueError(f"kernel ({kh}, {kw}) is larger than the padded input ({H + 2 * ph}, "
                         f"{W + 2 * pw}) (input {(N, C, H, W)}, padding ({ph}, {pw}))")
    OH = (H + 2 * ph - kh) // sh + 1
    OW = (W + 2 * pw - kw) // sw + 1
    return N, C, H, W, kh, kw, sh, sw, ph, pw, OH, OW


# ----------------------------------------------------------------------------- references

def im2col_ref(x, kh, kw, stride=1, padding=0, xp=None):
    """Reference im2col with array-namespace ops (NumPy, CuPy, the fake device)."""
    N, C, H, W, kh, kw, sh, sw, ph, pw, OH, OW = conv_geometry(x.shape, kh, kw, stride, padding)
    xp = xp or select_impl(x)[1]
    if ph or pw:
        xpad = xp.zeros((N, C, H + 2 * ph, W + 2 * pw), dtype=x.dtype)
        xpad[:, :, ph:ph + H, pw:pw + W] = x
    else:
        xpad = x
    cols = xp.empty((C, kh, kw, N, OH, OW), dtype=x.dtype)
    for i in range(kh):
        for j in range(kw):
            patch = xpad[:, :, i:i + sh * (OH - 1) + 1:sh, j:j + sw * (OW - 1) + 1:sw]
            cols[:, i, j] = patch.transpose(1, 0, 2, 3)
    return cols.reshape(C * kh * kw, N * OH * OW)


def col2im_ref(cols, x_shape, kh, kw, stride=1, padding=0, xp=None):
    """Reference col2im (adjoint of im2col_ref): overlapping entries are summed, i then j."""
    N, C, H, W, kh, kw, sh, sw, ph, pw, OH, OW = conv_geometry(x_shape, kh, kw, stride, padding)
    _check_cols(cols, C * kh * kw, N * OH * OW)
    xp = xp or select_impl(cols)[1]
    dxpad = xp.zeros((N, C, H + 2 * ph, W + 2 * pw), dtype=cols.dtype)
    c6 = cols.reshape(C, kh, kw, N, OH, OW)
    for i in range(kh):
        for j in range(kw):
            dxpad[:, :, i:i + sh * (OH - 1) + 1:sh, j:j + sw * (OW - 1) + 1:sw] += \
                c6[:, i, j].transpose(1, 0, 2, 3)
    if ph or pw:
        return xp.ascontiguousarray(dxpad[:, :, ph:ph + H, pw:pw + W])
    return dxpad


def _check_cols(cols, rows, ncols):
    if cols.ndim != 2 or tuple(cols.shape) != (rows, ncols):
        raise ValueError(f"col2im: cols has shape {tuple(cols.shape)} but this geometry needs "
                         f"(C*kh*kw, N*OH*OW) = ({rows}, {ncols})")


# ----------------------------------------------------------------------------- Numba kernels

@kernel(parallel=True, streaming=True)
def im2col_kernel(x, kh, kw, sh, sw, ph, pw, OH, OW, cols):
    """cols[(c*kh + i)*kw + j, (n*OH + oh)*OW + ow] = xpad[n, c, oh*sh + i, ow*sw + j].

    Each (n, c) plane is copied into a zero-padded local plane (flat, row length Wp); the
    (i, j) window is then the gather ``plane[i*Wp + j + idx[t]]`` with the shared offsets
    ``idx[oh*OW + ow] = oh*sh*Wp + ow*sw``: one loop over the OH*OW outputs, no bounds tests.
    Iterations run channel-major, so each thread writes its column rows front to back.
    """
    N, C, H, W = x.shape
    P = OH * OW
    Hp = H + 2 * ph
    Wp = W + 2 * pw
    idx = numpy.empty(P, numpy.int64)
    for oh in range(OH):
        for ow in range(OW):
            idx[oh * OW + ow] = oh * sh * Wp + ow * sw
    for cn in prange(C * N):
        c = cn // N
        n = cn - c * N
        plane = numpy.zeros(Hp * Wp, dtype=x.dtype)
        plane.reshape((Hp, Wp))[ph:ph + H, pw:pw + W] = x[n, c]
        for i in range(kh):
            for j in range(kw):
                dst = cols[(c * kh + i) * kw + j, n * P:(n + 1) * P]
                src = plane[i * Wp + j:]
                for t in range(P):
                    dst[t] = src[idx[t]]


@kernel(parallel=True, streaming=True)
def col2im_kernel(cols, kh, kw, sh, sw, ph, pw, OH, OW, dx):
    """dx[n, c] = interior of Σ_{i, j} (cols row (c, i, j) added into xpad[oh*sh + i, ow*sw + j]).

    The adjoint of im2col_kernel's gather: a scatter-add into a zeroed local padded plane, i then
    j (the reference's order), then the interior is copied out; each (n, c) plane belongs to one
    iteration.
    """
    N, C, H, W = dx.shape
    P = OH * OW
    Hp = H + 2 * ph
    Wp = W + 2 * pw
    idx = numpy.empty(P, numpy.int64)
    for oh in range(OH):
        for ow in range(OW):
            idx[oh * OW + ow] = oh * sh * Wp + ow * sw
    for cn in prange(C * N):
        c = cn // N
        n = cn - c * N
        plane = numpy.zeros(Hp * Wp, dtype=dx.dtype)
        for i in range(kh):
            for j in range(kw):
                src = cols[(c * kh + i) * kw + j, n * P:(n + 1) * P]
                dst = plane[i * Wp + j:]
                for t in range(P):
                    dst[idx[t]] += src[t]
        dx[n, c] = plane.reshape((Hp, Wp))[ph:ph + H, pw:pw + W]


# ----------------------------------------------------------------------------- CuPy kernels

_CUPY_PARAMS = "int64 N, int64 C, int64 H, int64 W, int64 kh, int64 kw, int64 sh, int64 sw, int64 ph, int64 pw, int64 OH, int64 OW"


def _cupy_im2col(xp):
    return cupy_kernel("im2col", lambda: xp.ElementwiseKernel(
        "raw T x, " + _CUPY_PARAMS, "T col",
        """
        long long NP = N * OH * OW;
        long long q = i % NP, row = i / NP;
        long long j = row % kw, ii = (row / kw) % kh, c = row / (kw * kh);
        long long ow = q % OW, oh = (q / OW) % OH, n = q / (OW * OH);
        long long h = oh * sh - ph + ii, w = ow * sw - pw + j;
        col = (h >= 0 && h < H && w >= 0 && w < W) ? x[((n * C + c) * H + h) * W + w] : (T)0;
        """, "tinygen_im2col"))


def _cupy_col2im(xp):
    return cupy_kernel("col2im", lambda: xp.ElementwiseKernel(
        "raw T cols, " + _CUPY_PARAMS, "T dx",
        """
        long long NP = N * OH * OW;
        long long w = i % W, h = (i / W) % H, c = (i / (W * H)) % C, n = i / (W * H * C);
        T acc = 0;
        for (long long ii = 0; ii < kh; ++ii) {
            long long hh = h + ph - ii;
            if (hh < 0 || hh % sh != 0 || hh / sh >= OH) continue;
            for (long long j = 0; j < kw; ++j) {
                long long ww = w + pw - j;
                if (ww < 0 || ww % sw != 0 || ww / sw >= OW) continue;
                acc += cols[((c * kh + ii) * kw + j) * NP + (n * OH + hh / sh) * OW + ww / sw];
            }
        }
        dx = acc;
        """, "tinygen_col2im"))


# ----------------------------------------------------------------------------- dispatchers

def _check_out(name, out, shape, dtype):
    if out is not None and (tuple(out.shape) != tuple(shape) or out.dtype != dtype
                            or not out.flags.c_contiguous):
        raise ValueError(f"{name}: out must be a C-contiguous {dtype} array of shape {tuple(shape)}, "
                         f"got {out.dtype} {tuple(out.shape)}"
                         f"{'' if out.flags.c_contiguous else ' (not contiguous)'}")


def im2col(x, kh, kw, stride=1, padding=0, out=None):
    """Unfold NCHW ``x`` into columns of shape ``(C*kh*kw, N*OH*OW)`` (layout in the module doc).

    ``stride`` and ``padding`` are ints or ``(h, w)`` pairs. ``out``: an optional C-contiguous
    array of that shape and x's dtype to fill (a reused workspace saves the page faults of a
    fresh 10+ MB allocation on every call).
    """
    geo = conv_geometry(x.shape, kh, kw, stride, padding)
    N, C, H, W, kh, kw, sh, sw, ph, pw, OH, OW = geo
    shape = (C * kh * kw, N * OH * OW)
    _check_out("im2col", out, shape, x.dtype)
    impl, xp = select_impl(x)
    if impl == "reference":
        cols = im2col_ref(x, kh, kw, (sh, sw), (ph, pw), xp=xp)
        if out is None:
            return cols
        out[...] = cols
        return out
    x = xp.ascontiguousarray(x)
    cols = xp.empty(shape, dtype=x.dtype) if out is None else out
    if cols.size == 0:
        return cols
    if impl == "numba":
        im2col_kernel(x, kh, kw, sh, sw, ph, pw, OH, OW, cols)
    else:
        _cupy_im2col(xp)(x, N, C, H, W, kh, kw, sh, sw, ph, pw, OH, OW, cols)
    return cols


def col2im(cols, x_shape, kh, kw, stride=1, padding=0, out=None):
    """Fold columns ``(C*kh*kw, N*OH*OW)`` back to an NCHW array of ``x_shape``, summing overlaps.

    The adjoint of :func:`im2col` with the same geometry (the input gradient of a convolution).
    ``out``: an optional C-contiguous array of ``x_shape`` and cols' dtype to write into.
    """
    geo = conv_geometry(x_shape, kh, kw, stride, padding)
    N, C, H, W, kh, kw, sh, sw, ph, pw, OH, OW = geo
    _check_cols(cols, C * kh * kw, N * OH * OW)
    _check_out("col2im", out, (N, C, H, W), cols.dtype)
    impl, xp = select_impl(cols)
    if impl == "reference":
        dx = col2im_ref(cols, x_shape, kh, kw, (sh, sw), (ph, pw), xp=xp)
        if out is None:
            return dx
        out[...] = dx
        return out
    cols = xp.ascontiguousarray(cols)
    dx = xp.empty((N, C, H, W), dtype=cols.dtype) if out is None else out
    if dx.size == 0:
        return dx
    if impl == "numba":
        col2im_kernel(cols, kh, kw, sh, sw, ph, pw, OH, OW, dx)
    else:
        _cupy_col2im(xp)(cols, N, C, H, W, kh, kw, sh, sw, ph, pw, OH, OW, dx)
    return dx
