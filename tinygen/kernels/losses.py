"""Fused elementwise losses: forward (with reduction) and backward, one pass each.

BCE with logits (x: logits, z: targets in [0, 1])::

    ℓ(x, z) = max(x, 0) − x z + log(1 + e^(−|x|))          (stable form of −z log σ(x) − (1−z) log(1−σ(x)))
    ∂ℓ/∂x   = σ(x) − z
    bce_logits_backward(x, z, g, scale) = (σ(x) − z) · g · scale

MSE::

    ℓ(x, z) = (x − z)²
    mse_backward(x, z, g, scale) = 2 (x − z) · g · scale

``reduction`` is ``"mean"``, ``"sum"`` or ``"none"``. For "mean"/"sum" the result is a 0-d array
of x's dtype (on x's device); the sum is accumulated in float64. ``g`` in the backward is an array
of x's shape or a scalar (a Python number or a 0-d/size-1 array; e.g. the upstream gradient of a
mean loss with ``scale = 1/N``).

Numba kernels compute in float64, except BCE on float32 arrays, which uses float32 arithmetic
(division-free float32 exp/log1p: twice the SIMD width and no slow float64 divisions); its sum
is still accumulated in float64.

Deterministic parallel sum (Numba): the elements are cut into fixed chunks of ``CHUNK`` values;
each chunk's losses go to a small buffer whose float64 sum is computed by ``_chunk_sum`` (a loop
LLVM may vectorise: its order is fixed by the compiled code); the chunk sums are then added in
chunk order. None of this depends on the number of threads (CPUs with different vector widths
may differ in the last bits).
"""
from __future__ import annotations

import numpy

from ._jit import check_same_shape, cupy_kernel, helper, kernel, prange, select_impl
from ._math import fexp, fexpf, flog1p01, flog1p01f, fsigmoid, fsigmoidf

CHUNK = 4096
_REDUCTIONS = ("mean", "sum", "none")


def _check(name, x, z, reduction=None):
    if reduction is not None and reduction not in _REDUCTIONS:
        raise ValueError(f"{name}: reduction must be one of {_REDUCTIONS}, got {reduction!r}")
    if x.dtype.kind != "f":
        raise TypeError(f"{name}: x must be a floating-point array, got dtype {x.dtype}")
    check_same_shape(name, "x", x, z=z)


def _reduce_ref(xp, loss, reduction, dtype):
    if reduction == "none":
        return loss.astype(dtype, copy=False)
    total = xp.sum(loss.astype(xp.float64))
    if reduction == "mean":
        total = total / loss.size if loss.size else xp.asarray(numpy.nan)
    return xp.asarray(total, dtype=dtype)


def _scalar_g(g):
    """g as a Python float when it is a scalar (number, 0-d or size-1 array), else None."""
    if isinstance(g, (int, float, numpy.generic)):
        return float(g)
    return None


# ----------------------------------------------------------------------------- references

def bce_logits_forward_ref(x, z, reduction="mean", xp=None):
    """Reference BCE-with-logits loss: max(x, 0) − x z + log1p(exp(−|x|)), then reduced."""
    _check("bce_logits_forward", x, z, reduction)
    xp = xp or select_impl(x)[1]
    z = z.astype(x.dtype, copy=False)
    loss = xp.maximum(x, 0) - x * z + xp.log1p(xp.exp(-xp.abs(x)))
    return _reduce_ref(xp, loss, reduction, x.dtype)


def bce_logits_backward_ref(x, z, g=1.0, scale=1.0, xp=None):
    """Reference BCE-with-logits gradient: (σ(x) − z) · g · scale."""
    _check("bce_logits_backward", x, z)
    xp = xp or select_impl(x)[1]
    z = z.astype(x.dtype, copy=False)
    e = xp.exp(-xp.abs(x))
    r = 1 / (1 + e)
    s = xp.where(x >= 0, r, e * r)
    return ((s - z) * (g * scale)).astype(x.dtype, copy=False)


def mse_forward_ref(x, z, reduction="mean", xp=None):
    """Reference MSE loss: (x − z)², then reduced."""
    _check("mse_forward", x, z, reduction)
    xp = xp or select_impl(x)[1]
    d = x - z.astype(x.dtype, copy=False)
    return _reduce_ref(xp, d * d, reduction, x.dtype)


def mse_backward_ref(x, z, g=1.0, scale=1.0, xp=None):
    """Reference MSE gradient: 2 (x − z) · g · scale."""
    _check("mse_backward", x, z)
    xp = xp or select_impl(x)[1]
    d = x - z.astype(x.dtype, copy=False)
    return (2 * d * (g * scale)).astype(x.dtype, copy=False)


# ----------------------------------------------------------------------------- Numba kernels

@helper(inline=False, fastmath={"reassoc"})
def _chunk_sum(buf, m):
    """float64 sum of buf[:m]. Reassociation is allowed here only, so LLVM vectorises it; the
    order is then fixed by the compiled code and m, not by the thread count."""
    total = 0.0
    for j in range(m):
        total += buf[j]
    return total


@helper(inline=False)
def _chunk_outside_unit(zs, m):
    """How many of zs[:m] are outside [0, 1] (NaN counts: it fails both comparisons)."""
    k = 0
    for j in range(m):
        v = zs[j]
        if not (v >= 0.0 and v <= 1.0):
            k += 1
    return k


# BCE kernels are compute-bound (an exp and a log1p per element, ~1.2 ns fwd+bwd on one thread),
# unlike the streaming MSE ones, so a second thread halves them (1M float32: 0.85 → 0.39 ms
# forward). But a parallel region started while OpenBLAS's workers still spin after a GEMM can
# stall for milliseconds (an MLP VAE step with its 100K-element BCE: 6.5 → 13 ms), so they go
# parallel only from BCE_MIN_PARALLEL elements, where the saving outweighs that risk.
BCE_MIN_PARALLEL = 1 << 19


@kernel(parallel=True, contract=True, min_parallel_size=BCE_MIN_PARALLEL)
def bce_forward_kernel(x, z, out, write_out, bad):
    """Σ ℓ(x, z) in float64 over fixed chunks; also writes ℓ into out when write_out, and counts
    the targets outside [0, 1] into bad[0] when bad has an element (a check in the same pass)."""
    n = x.size
    nchunks = (n + CHUNK - 1) // CHUNK
    partial = numpy.empty(nchunks)
    nbad = numpy.zeros(nchunks, numpy.int64)
    for c in prange(nchunks):
        lo = c * CHUNK
        m = min(CHUNK, n - lo)
        buf = numpy.empty(CHUNK)
        xs = x[lo:lo + m]
        zs = z[lo:lo + m]
        for j in range(m):
            v = 1.0 * xs[j]
            buf[j] = max(v, 0.0) - v * zs[j] + flog1p01(fexp(-abs(v)))
        if write_out:
            os = out[lo:lo + m]
            for j in range(m):
                os[j] = buf[j]
        if bad.size:
            nbad[c] = _chunk_outside_unit(zs, m)
        partial[c] = _chunk_sum(buf, m)
    total = 0.0
    for c in range(nchunks):
        total += partial[c]
    if bad.size:
        bad[0] = nbad.sum()
    return total


@kernel(parallel=True, contract=True, min_parallel_size=BCE_MIN_PARALLEL)
def bce_backward_kernel(x, z, g, g_scalar, use_scalar, scale, dx):
    """dx = (σ(x) − z) · g · scale, in float64 (g[i] or the scalar g_scalar)."""
    for i in prange(x.size):
        gi = g_scalar if use_scalar else g[i]
        dx[i] = (fsigmoid(1.0 * x[i]) - z[i]) * (gi * scale)


@kernel(parallel=True, contract=True, min_parallel_size=BCE_MIN_PARALLEL)
def bce_forward_f32_kernel(x, z, out, write_out, bad):
    """float32 version of bce_forward_kernel: ℓ in float32 arithmetic, Σ of those in float64."""
    n = x.size
    nchunks = (n + CHUNK - 1) // CHUNK
    partial = numpy.empty(nchunks)
    nbad = numpy.zeros(nchunks, numpy.int64)
    zero = numpy.float32(0.0)
    for c in prange(nchunks):
        lo = c * CHUNK
        m = min(CHUNK, n - lo)
        buf = numpy.empty(CHUNK, numpy.float32)   # float32 keeps the loop 16 lanes wide
        xs = x[lo:lo + m]
        zs = z[lo:lo + m]
        if write_out:
            os = out[lo:lo + m]
            for j in range(m):
                v = xs[j]
                loss = max(v, zero) - v * zs[j] + flog1p01f(fexpf(-abs(v)))
                os[j] = loss
                buf[j] = loss
        else:
            for j in range(m):
                v = xs[j]
                buf[j] = max(v, zero) - v * zs[j] + flog1p01f(fexpf(-abs(v)))
        if bad.size:
            nbad[c] = _chunk_outside_unit(zs, m)
        partial[c] = _chunk_sum(buf, m)
    total = 0.0
    for c in range(nchunks):
        total += partial[c]
    if bad.size:
        bad[0] = nbad.sum()
    return total


@kernel(parallel=True, contract=True, min_parallel_size=BCE_MIN_PARALLEL)
def bce_backward_f32_kernel(x, z, g, g_scalar, use_scalar, scale, dx):
    """float32 version of bce_backward_kernel (g_scalar and scale are float32 here)."""
    gs = g_scalar * scale
    for i in prange(x.size):
        gi = gs if use_scalar else g[i] * scale
        dx[i] = (fsigmoidf(x[i]) - z[i]) * gi


@kernel(parallel=True, contract=True, streaming=True)
def mse_forward_kernel(x, z, out, write_out):
    """Σ (x − z)² in float64 over fixed chunks; also writes (x − z)² into out when write_out."""
    n = x.size
    nchunks = (n + CHUNK - 1) // CHUNK
    partial = numpy.empty(nchunks)
    for c in prange(nchunks):
        lo = c * CHUNK
        m = min(CHUNK, n - lo)
        buf = numpy.empty(CHUNK)
        xs = x[lo:lo + m]
        zs = z[lo:lo + m]
        for j in range(m):
            d = 1.0 * xs[j] - zs[j]
            buf[j] = d * d
        if write_out:
            os = out[lo:lo + m]
            for j in range(m):
                os[j] = buf[j]
        partial[c] = _chunk_sum(buf, m)
    total = 0.0
    for c in range(nchunks):
        total += partial[c]
    return total


@kernel(parallel=True, contract=True, streaming=True)
def mse_backward_kernel(x, z, g, g_scalar, use_scalar, scale, dx):
    """dx = 2 (x − z) · g · scale, in float64 (g[i] or the scalar g_scalar)."""
    for i in prange(x.size):
        gi = g_scalar if use_scalar else g[i]
        dx[i] = (1.0 * x[i] - z[i]) * (2.0 * gi * scale)


# ----------------------------------------------------------------------------- CuPy kernels

_CUPY_PRE = """
__device__ double tg_bce(double x, double z) { return fmax(x, 0.0) - x * z + log1p(exp(-fabs(x))); }
__device__ double tg_sigmoid(double t) { double e = exp(-fabs(t)); double r = 1.0 / (1.0 + e); return t >= 0 ? r : e * r; }
__device__ double tg_mse(double x, double z) { double d = x - z; return d * d; }
"""
_CUPY_LOSS = {"bce": "tg_bce((double)x, (double)z)", "mse": "tg_mse((double)x, (double)z)"}
_CUPY_GRAD = {"bce": "(tg_sigmoid((double)x) - (double)z)", "mse": "2.0 * ((double)x - (double)z)"}


def _cupy_sum(xp, loss):
    # CuPy reductions use a fixed tree per launch configuration: deterministic for a given size.
    return cupy_kernel(("sum", loss), lambda: xp.ReductionKernel(
        "T x, T z", "float64 y", _CUPY_LOSS[loss], "a + b", "y = a", "0",
        f"tinygen_{loss}_sum", preamble=_CUPY_PRE))


def _cupy_none(xp, loss):
    return cupy_kernel(("none", loss), lambda: xp.ElementwiseKernel(
        "T x, T z", "T y", f"y = (T)({_CUPY_LOSS[loss]});", f"tinygen_{loss}_none",
        preamble=_CUPY_PRE))


def _cupy_grad(xp, loss):
    return cupy_kernel(("grad", loss), lambda: xp.ElementwiseKernel(
        "T x, T z, G g, float64 scale", "T dx",
        f"dx = (T)({_CUPY_GRAD[loss]} * ((double)g * scale));", f"tinygen_{loss}_grad",
        preamble=_CUPY_PRE))


# ----------------------------------------------------------------------------- dispatchers

def _count_outside_unit(z, count_outside):
    """count_outside[0] = how many of z lie outside [0, 1] (NaN included), with array ops."""
    if count_outside is not None:
        count_outside[0] = int((~((z >= 0) & (z <= 1))).sum())


def _forward(loss, fwd_kernel, ref, x, z, reduction, f32_kernel=None, count_outside=None):
    """``count_outside`` (BCE only): a 1-element int64 host array that receives the number of
    targets outside [0, 1]; the Numba kernels count them in the same pass."""
    _check(f"{loss}_forward", x, z, reduction)
    impl, xp = select_impl(x, z)
    if impl == "reference":
        _count_outside_unit(z, count_outside)
        return ref(x, z, reduction, xp=xp)
    x = xp.ascontiguousarray(x)
    z = xp.ascontiguousarray(z, dtype=x.dtype)
    if impl == "cupy":
        _count_outside_unit(z, count_outside)
        if reduction == "none":
            return _cupy_none(xp, loss)(x, z)
        total = _cupy_sum(xp, loss)(x, z)
    else:
        if f32_kernel is not None and x.dtype == numpy.float32:
            fwd_kernel = f32_kernel
        extra = ()
        if loss == "bce":
            extra = (count_outside if count_outside is not None else numpy.zeros(0, numpy.int64),)
        if reduction == "none":
            out = xp.empty_like(x)
            fwd_kernel(x.reshape(-1), z.reshape(-1), out.reshape(-1), True, *extra)
            return out
        total = fwd_kernel(x.reshape(-1), z.reshape(-1), x.reshape(-1)[:0], False, *extra)
    if reduction == "mean":
        total = total / x.size if x.size else numpy.nan
    return xp.asarray(total, dtype=x.dtype)


def _backward(loss, bwd_kernel, ref, x, z, g, scale, f32_kernel=None):
    _check(f"{loss}_backward", x, z)
    impl, xp = select_impl(x, z, g if hasattr(g, "shape") else None)
    if impl == "reference":
        return ref(x, z, g, scale, xp=xp)
    x = xp.ascontiguousarray(x)
    z = xp.ascontiguousarray(z, dtype=x.dtype)
    if impl == "cupy":
        g = xp.asarray(g, dtype=x.dtype)
        return _cupy_grad(xp, loss)(x, z, g, float(scale))
    gs = _scalar_g(g)
    if gs is None and getattr(g, "size", 0) == 1:
        gs = float(g.reshape(-1)[0])
    dx = xp.empty_like(x)
    t = float
    if f32_kernel is not None and x.dtype == numpy.float32:
        bwd_kernel, t = f32_kernel, numpy.float32
    if gs is not None:
        bwd_kernel(x.reshape(-1), z.reshape(-1), x.reshape(-1)[:0], t(gs), True, t(scale),
                   dx.reshape(-1))
    else:
        if tuple(g.shape) != tuple(x.shape):
            g = xp.broadcast_to(g, x.shape)
        g = xp.ascontiguousarray(g, dtype=x.dtype)
        bwd_kernel(x.reshape(-1), z.reshape(-1), g.reshape(-1), t(0.0), False, t(scale),
                   dx.reshape(-1))
    return dx


def bce_logits_forward(x, z, reduction="mean", count_outside=None):
    """BCE with logits, ``max(x, 0) − x z + log1p(exp(−|x|))``, reduced by ``reduction``
    ("mean" | "sum" | "none"). Mean/sum: a 0-d array of x's dtype, summed in float64.
    ``count_outside``: optional 1-element int64 array receiving the number of targets outside
    [0, 1] (NaN included), counted in the same pass (the loss checks its targets with it)."""
    return _forward("bce", bce_forward_kernel, bce_logits_forward_ref, x, z, reduction,
                    bce_forward_f32_kernel, count_outside)


def bce_logits_backward(x, z, g=1.0, scale=1.0):
    """``dx = (σ(x) − z) · g · scale``; g is an array of x's shape or a scalar."""
    return _backward("bce", bce_backward_kernel, bce_logits_backward_ref, x, z, g, scale,
                     bce_backward_f32_kernel)


def mse_forward(x, z, reduction="mean"):
    """Mean squared error ``(x − z)²`` reduced by ``reduction`` ("mean" | "sum" | "none")."""
    return _forward("mse", mse_forward_kernel, mse_forward_ref, x, z, reduction)


def mse_backward(x, z, g=1.0, scale=1.0):
    """``dx = 2 (x − z) · g · scale``; g is an array of x's shape or a scalar."""
    return _backward("mse", mse_backward_kernel, mse_backward_ref, x, z, g, scale)
