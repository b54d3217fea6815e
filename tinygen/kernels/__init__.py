"""Fused CPU kernels (Numba) with NumPy/CuPy references, and the dispatcher that picks one.

Every op has a plain array-namespace reference (``*_ref``, runs on NumPy, CuPy and the fake
test device) and a Numba kernel beside it in the same file; CuPy arrays get an
ElementwiseKernel/ReductionKernel version. :func:`select_impl` says which one runs::

    numpy arrays, Numba importable, fused enabled  -> Numba kernel
    cupy arrays, fused enabled                     -> CuPy kernel
    fake CUDA device (xp.IS_FAKE_CUDA)             -> reference with that xp
    otherwise                                      -> reference

Switches: ``TINYGEN_KERNELS=numpy`` in the environment, or :func:`use_fused` (a function and a
context manager) at run time; :func:`fused_enabled` reads the state. :func:`kernel_status`
reports Numba's version (or why it is unavailable) and each kernel's compile state and time;
:func:`warmup` compiles (or loads from Numba's on-disk cache) every kernel ahead of time.

Ops (see each module for formulas and layouts):

* :mod:`.conv`: ``im2col``, ``col2im`` (columns ``(C*kh*kw, N*OH*OW)``)
* :mod:`.winograd`, :mod:`.winograd4`: the Winograd F(2×2, 3×3) and F(4×4, 3×3) transforms of 3×3
  stride-1 convolutions; :mod:`.winograd_s2`: F(4×4, 2×2) for 4×4 stride-2 ones (space-to-depth)
* :mod:`.norm`: ``batch_norm_forward``, ``batch_norm_backward`` (training-mode batch norm)
* :mod:`.activations`: ``act_forward``, ``act_backward``
* :mod:`.optim`: ``sgd_update``, ``adam_update``, ``rmsprop_update`` (in place, PyTorch rules)
* :mod:`.losses`: ``bce_logits_forward``/``_backward``, ``mse_forward``/``_backward``
* :mod:`.embedding`: ``scatter_rows`` (the embedding gradient's row scatter-add)
* :mod:`.ufuncs`: ``sigmoid``, ``sigmoid_grad``, ``tanh_grad`` (Numba-built NumPy ufuncs for the
  per-op hot path of the autograd ops)
"""
from __future__ import annotations

import time

from ._jit import fused_enabled, kernel_status, numba_available, select_impl, use_fused
from .activations import ACTIVATIONS, act_backward, act_forward
from . import winograd, winograd4, winograd_s2
from .conv import col2im, conv_geometry, im2col
from .embedding import scatter_rows
from .losses import bce_logits_backward, bce_logits_forward, mse_backward, mse_forward
from .norm import batch_norm_backward, batch_norm_forward
from .optim import adam_update, rmsprop_update, sgd_update

__all__ = [
    "fused_enabled", "use_fused", "kernel_status", "numba_available", "select_impl", "warmup",
    "im2col", "col2im", "conv_geometry", "scatter_rows", "batch_norm_forward", "batch_norm_backward",
    "act_forward", "act_backward", "ACTIVATIONS",
    "sgd_update", "adam_update", "rmsprop_update",
    "bce_logits_forward", "bce_logits_backward", "mse_forward", "mse_backward",
]


def warmup(dtypes=("float32", "float64")) -> dict:
    """Compile (or load from cache) every Numba kernel for ``dtypes``; returns kernel_status().

    Does nothing but report when Numba is unavailable or the fused kernels are disabled.
    """
    import numpy as np
    t0 = time.perf_counter()
    if numba_available() and fused_enabled():
        for dt in dtypes:
            dt = np.dtype(dt)
            x = np.linspace(-2, 2, 16, dtype=dt).reshape(1, 1, 4, 4)
            cols = im2col(x, 3, 3, 1, 1)
            col2im(cols, x.shape, 3, 3, 1, 1)
            col2im(im2col(x, 3, 3, 1, 1, batch_minor=True), x.shape, 3, 3, 1, 1, batch_minor=True)
            w3 = np.ones((1, 1, 3, 3), dtype=dt)
            for wg in (winograd, winograd4):
                u = wg.weight_transform(w3)
                wg.weight_grad_transform(u)
                v = wg.input_transform(x, 1, 1)
                wg.output_transform(v, np.empty_like(x), v[0, 0, :1])
                wg.grad_input_transform(wg.grad_output_transform(x), np.empty_like(x), 1, 1)
            w4 = np.ones((1, 1, 4, 4), dtype=dt)
            winograd_s2.weight_grad_transform(winograd_s2.weight_transform(w4))
            y = np.empty((1, 1, 2, 2), dtype=dt)
            winograd_s2.output_transform(winograd_s2.input_transform(x, 1, 1)[:, :1], y, v[0, 0, :1])
            winograd_s2.grad_input_transform(winograd_s2.input_transform(x, 1, 1),
                                             np.empty_like(x), 1, 1)
            winograd_s2.grad_output_transform(y)
            v = x.reshape(-1)
            _, mean, _, istd = batch_norm_forward(x, v[:1], v[:1], 1e-5)
            batch_norm_backward(x, x, v[:1], mean, istd)
            for name in ("relu", "leaky_relu", "elu", "gelu", "gelu_tanh", "sigmoid", "tanh",
                         "softplus", "silu"):
                act_backward(name, v, act_forward(name, v), v)
            scatter_rows(4, np.array([0, 2, 0]), x.reshape(-1)[:6].reshape(3, 2))
            sgd_update(v.copy(), v, v.copy(), 0.1, momentum=0.9)
            adam_update(v.copy(), v, v.copy(), v.copy() ** 2, 0.1)
            rmsprop_update(v.copy(), v, v.copy() ** 2, 0.1)
            z = (v > 0).astype(dt)
            for fwd, bwd in ((bce_logits_forward, bce_logits_backward), (mse_forward, mse_backward)):
                fwd(v, z, "mean")
                fwd(v, z, "none")
                bwd(v, z, 1.0, 1.0)
                bwd(v, z, v, 1.0)
    status = kernel_status()
    status["warmup_seconds"] = round(time.perf_counter() - t0, 3)
    return status
