"""Normalisation: batch_norm and layer_norm, each ONE node with the analytic backward.

With x̂ = (x − μ)/σ, σ = √(var + ε) (biased variance over the m elements of each group) and
y = γ x̂ + β, the gradient is

    ∂L/∂x = (1/σ) · (ĝ − mean(ĝ) − x̂ · mean(ĝ x̂)),   ĝ = γ g = ∂L/∂x̂
          = (1/m)·(γ/σ)·(m·g − Σg − x̂·Σ(g x̂))   for batch norm (γ constant within a group)
    ∂L/∂γ = Σ g x̂,      ∂L/∂β = Σ g

(means and sums over the group: the batch and spatial axes for batch norm, the trailing
``normalized_shape`` axes for layer norm). On the fast path x̂ and 1/σ come from the forward;
under create_graph they are recomputed from x with recorded ops, so the same formula is
differentiable again (gradient penalties through normalised critics).

Batch norm in training uses the batch statistics and updates the running statistics in place
(no gradient), as PyTorch: running_mean ← (1 − m)·running_mean + m·μ, running_var ←
(1 − m)·running_var + m·var·n/(n − 1) (the unbiased variance). In evaluation it normalises with
the running statistics, an affine map of x.

With the fused kernels (NumPy arrays, Numba), training-mode batch norm runs as
:func:`tinygen.kernels.batch_norm_forward`/``batch_norm_backward``: two read passes for the
statistics (float64 sums) and one write pass forward, one read and one write pass backward, x̂
never stored. Elsewhere, and under create_graph, the array formulas below run.
"""
from __future__ import annotations

from .. import backend
from ..kernels import batch_norm_backward, batch_norm_forward, select_impl
from .dual import is_tensor, sqrt, sum_to
from .function import Function


def _mean(a, axes, m):
    return a.sum(axis=axes, keepdims=True) * (1.0 / m)


class _Normalize(Function):
    """Shared backward of batch and layer norm: groups over ``self.axes`` of size ``self.m``,
    affine parameters broadcast as ``self.pshape``."""

    def _stats(self, x):
        """x̂ and 1/σ: saved arrays on the fast path, recorded ops on Tensors under create_graph."""
        if not is_tensor(x):
            return self.xhat, self.inv_std
        axes, m = self.axes, self.m
        d = x - _mean(x, axes, m)
        inv_std = 1 / sqrt(_mean(d * d, axes, m) + self.eps)
        return d * inv_std, inv_std

    def backward(self, g, y, x, w=None, b=None):
        nx, nw, nb = (list(self.needs) + [False, False])[:3]
        axes, m = self.axes, self.m
        if self.use_batch_stats:
            xhat, inv_std = self._stats(x)
        else:  # fixed statistics: x̂ = (x − μ_run)/σ_run is affine in x
            inv_std = self.inv_std
            xhat = (x - self.mean) * inv_std if is_tensor(x) else self.xhat
        gx = gw = gb = None
        if nx:
            gh = g if w is None else g * w.reshape(self.pshape)      # ∂L/∂x̂
            if self.use_batch_stats:
                gx = inv_std * (gh - _mean(gh, axes, m) - xhat * _mean(gh * xhat, axes, m))
            else:
                gx = gh * inv_std
        if nw:
            gw = sum_to(g * xhat, self.pshape).reshape(w.shape)
        if nb:
            gb = sum_to(g, self.pshape).reshape(b.shape)
        return gx, gw, gb


class BatchNorm(_Normalize):
    """y = γ (x − μ)/√(var + ε) + β per channel (axis 1) of (N, C) or (N, C, ...) inputs.
    Training: batch statistics (and an in-place running-statistics update); eval: running ones."""

    def forward(self, x, w=None, b=None, running_mean=None, running_var=None, training=True,
                momentum=0.1, eps=1e-5):
        if x.ndim < 2:
            raise ValueError(f"batch_norm: input must be (N, C) or (N, C, ...), got shape {x.shape}")
        c = x.shape[1]
        for name, a in (("weight", w), ("bias", b), ("running_mean", running_mean), ("running_var", running_var)):
            if a is not None and tuple(a.shape) != (c,):
                raise ValueError(f"batch_norm: {name} must have shape ({c},) for an input with {c} channels, "
                                 f"got {tuple(a.shape)} (input {x.shape})")
        for name, a in (("running_mean", running_mean), ("running_var", running_var)):
            if a is not None and backend.device_of(a) != backend.device_of(x):
                raise ValueError(f"batch_norm: {name} is on {backend.device_of(a)} but the input is on "
                                 f"{backend.device_of(x)}; move the running statistics with the module")
        xp = self.xp
        self.axes = (0,) + tuple(range(2, x.ndim))
        self.pshape = (1, c) + (1,) * (x.ndim - 2)
        self.m = x.size // c if c else 0
        self.eps = eps
        self.use_batch_stats = bool(training) or running_mean is None or running_var is None
        self.fused = None
        if self.use_batch_stats:
            if self.m <= 1:
                raise ValueError(f"batch_norm: expected more than 1 value per channel when training "
                                 f"(input {x.shape})")
            if select_impl(x)[0] == "numba" and (w is None or w.dtype == x.dtype) \
                    and (b is None or b.dtype == x.dtype):
                return self._forward_fused(x, w, b, running_mean, running_var, training, momentum, eps)
            mean = x.mean(axis=self.axes, keepdims=True)
            d = x - mean
            var = (d * d).mean(axis=self.axes, keepdims=True)
            if training and running_mean is not None:
                running_mean *= 1 - momentum
                running_mean += momentum * mean.reshape(c).astype(running_mean.dtype, copy=False)
            if training and running_var is not None:
                unbiased = var.reshape(c) * (self.m / (self.m - 1))
                running_var *= 1 - momentum
                running_var += momentum * unbiased.astype(running_var.dtype, copy=False)
        else:
            mean = running_mean.reshape(self.pshape).astype(x.dtype, copy=False)
            var = running_var.reshape(self.pshape).astype(x.dtype, copy=False)
            d = x - mean
        self.mean = mean
        self.inv_std = 1 / xp.sqrt(var + eps)
        self.xhat = d * self.inv_std
        y = self.xhat
        if w is not None:
            y = y * w.reshape(self.pshape)
        if b is not None:
            y = y + b.reshape(self.pshape)
        return y if (w is not None or b is not None) else y.copy()

    def _forward_fused(self, x, w, b, running_mean, running_var, training, momentum, eps):
        """Training mode through the batch-norm kernels; keeps the float64 mean and 1/σ, not x̂."""
        y, mean, var, istd = batch_norm_forward(x, w, b, eps)
        if training and running_mean is not None:
            running_mean *= 1 - momentum
            running_mean += (momentum * mean).astype(running_mean.dtype, copy=False)
        if training and running_var is not None:
            running_var *= 1 - momentum
            running_var += (momentum * (self.m / (self.m - 1)) * var).astype(running_var.dtype, copy=False)
        self.fused = (mean, istd)
        self.mean = mean.astype(x.dtype).reshape(self.pshape)
        self.inv_std = istd.astype(x.dtype).reshape(self.pshape)
        self.xhat = None
        return y

    def backward(self, g, y, x, w=None, b=None):
        if self.fused is not None and not is_tensor(g):
            nx, nw, nb = (list(self.needs) + [False, False])[:3]
            if select_impl(x)[0] == "numba":
                return batch_norm_backward(x, g, w, *self.fused, need_x=nx, need_w=nw, need_b=nb)
            self.xhat = (x - self.mean) * self.inv_std    # the kernels were switched off meanwhile
        return super().backward(g, y, x, w, b)


class LayerNorm(_Normalize):
    """y = γ (x − μ)/√(var + ε) + β with μ, var over the trailing ``normalized_shape`` axes of each sample."""

    def forward(self, x, w=None, b=None, normalized_shape=None, eps=1e-5):
        shp = tuple(normalized_shape)
        k = len(shp)
        if k == 0 or x.ndim < k or tuple(x.shape[x.ndim - k:]) != shp:
            raise ValueError(f"layer_norm: normalized_shape {shp} must match the trailing dimensions of the "
                             f"input {x.shape}")
        for name, a in (("weight", w), ("bias", b)):
            if a is not None and tuple(a.shape) != shp:
                raise ValueError(f"layer_norm: {name} must have shape {shp}, got {tuple(a.shape)}")
        xp = self.xp
        self.axes = tuple(range(x.ndim - k, x.ndim))
        self.pshape = shp
        m = 1
        for s in shp:
            m *= s
        self.m, self.eps = m, eps
        self.use_batch_stats = True
        mean = x.mean(axis=self.axes, keepdims=True)
        d = x - mean
        var = (d * d).mean(axis=self.axes, keepdims=True)
        self.inv_std = 1 / xp.sqrt(var + eps)
        self.xhat = d * self.inv_std
        y = self.xhat
        if w is not None:
            y = y * w
        if b is not None:
            y = y + b
        return y if (w is not None or b is not None) else y.copy()
