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

Deterministic parallel sum (Numba): the elements are cut into fixed chunks of ``CHUNK`` values;
each chunk's float64 sum is computed with 8 interleaved accumulators combined pairwise; the chunk
sums are then added in chunk order. None of this depends on the number of threads.
"""
from __future__ import annotations

import numpy

from ._jit import check_same_shape, cupy_kernel, kernel, prange, select_impl
from ._math import fexp, flog1p01, fsigmoid

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

@helper_free_sum := None  # placeholder removed below  # noqa
