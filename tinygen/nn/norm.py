"""Normalisation layers: BatchNorm1d, BatchNorm2d, LayerNorm (PyTorch's buffers and defaults)."""
from __future__ import annotations

import numpy as np

from .. import backend
from ..tensor import Tensor, as_dtype, float32
from . import init
from ._util import F, empty_param
from .module import Module


def _buffer(fill, shape, dtype, device):
    device = backend.normalize_device(device)
    arr = backend.xp_for(device).full(shape, fill, dtype=dtype)
    return Tensor._make(arr, False, None)


class _BatchNorm(Module):
    """y = (x − mean) / √(var + eps) · weight + bias, per channel (axis 1).

    Training: batch statistics (biased variance) normalise, and the running statistics are
    updated as running = (1 − momentum)·running + momentum·batch (unbiased variance for
    running_var); with ``momentum=None`` a cumulative average over ``num_batches_tracked``.
    Evaluation: the running statistics normalise. Parameters ``weight`` (ones) and ``bias`` (zeros);
    buffers ``running_mean`` (zeros), ``running_var`` (ones), ``num_batches_tracked`` (int64 0).
    """

    _expected_dims = ()

    def __init__(self, num_features, eps=1e-5, momentum=0.1, affine=True, track_running_stats=True,
                 device=None, dtype=None, bias=True):
        super().__init__()
        self.num_features = int(num_features)
        self.eps = float(eps)
        self.momentum = momentum
        self.affine = bool(affine)
        self.track_running_stats = bool(track_running_stats)
        dt = as_dtype(dtype) or float32
        if self.affine:
            self.weight = empty_param((self.num_features,), dt, device)
            if bias:
                self.bias = empty_param((self.num_features,), dt, device)
            else:
                self.register_parameter("bias", None)
        else:
            self.register_parameter("weight", None)
            self.register_parameter("bias", None)
        if self.track_running_stats:
            self.register_buffer("running_mean", _buffer(0.0, (self.num_features,), dt, device))
            self.register_buffer("running_var", _buffer(1.0, (self.num_features,), dt, device))
            self.register_buffer("num_batches_tracked", _buffer(0, (), np.dtype("int64"), device))
        else:
            self.register_buffer("running_mean", None)
            self.register_buffer("running_var", None)
            self.register_buffer("num_batches_tracked", None)
        self.reset_parameters()

    def reset_running_stats(self):
        if self.track_running_stats:
            self.running_mean.data[...] = 0
            self.running_var.data[...] = 1
            self.num_batches_tracked.data[...] = 0

    def reset_parameters(self):
        self.reset_running_stats()
        if self.affine:
            init.ones_(self.weight)
            if self.bias is not None:
                init.zeros_(self.bias)

    def _check_input_dim(self, x):
        if x.ndim not in self._expected_dims:
            dims = " or ".join(f"{d}D" for d in self._expected_dims)
            raise ValueError(f"{type(self).__name__}: expected {dims} input (got {x.ndim}D input of shape "
                             f"{tuple(x.shape)})")
        if x.shape[1] != self.num_features:
            raise ValueError(f"{type(self).__name__}: input has {x.shape[1]} channels (shape {tuple(x.shape)}) "
                             f"but the layer was built for num_features={self.num_features}")

    def forward(self, x):
        self._check_input_dim(x)
        factor = 0.0 if self.momentum is None else self.momentum
        if self.training and self.track_running_stats and self.num_batches_tracked is not None:
            self.num_batches_tracked.data[...] += 1
            if self.momentum is None:
                factor = 1.0 / float(self.num_batches_tracked.data)
        bn_training = self.training or (self.running_mean is None and self.running_var is None)
        use_running = not self.training or self.track_running_stats
        return F().batch_norm(x, self.running_mean if use_running else None,
                              self.running_var if use_running else None, self.weight, self.bias,
                              bn_training, factor, self.eps)

    def _load_from_state_dict(self, state_dict, prefix, missing, errors, expected):
        # Checkpoints written before num_batches_tracked existed lack it: start it at 0, as PyTorch.
        key = prefix + "num_batches_tracked"
        n_missing = len(missing)
        super()._load_from_state_dict(state_dict, prefix, missing, errors, expected)
        if self.track_running_stats and key in missing[n_missing:]:
            missing.remove(key)
            self.num_batches_tracked.data[...] = 0

    def extra_repr(self):
        return (f"{self.num_features}, eps={self.eps}, momentum={self.momentum}, affine={self.affine}, "
                f"track_running_stats={self.track_running_stats}")


class BatchNorm1d(_BatchNorm):
    """Batch normalisation over (N, C) or (N, C, L) inputs."""
    _expected_dims = (2, 3)


class BatchNorm2d(_BatchNorm):
    """Batch normalisation over (N, C, H, W) inputs, per channel."""
    _expected_dims = (4,)


class LayerNorm(Module):
    """y = (x − mean) / √(var + eps) · weight + bias over the last ``len(normalized_shape)`` axes."""

    def __init__(self, normalized_shape, eps=1e-5, elementwise_affine=True, bias=True, device=None, dtype=None):
        super().__init__()
        if isinstance(normalized_shape, int):
            normalized_shape = (normalized_shape,)
        self.normalized_shape = tuple(int(s) for s in normalized_shape)
        self.eps = float(eps)
        self.elementwise_affine = bool(elementwise_affine)
        if self.elementwise_affine:
            self.weight = empty_param(self.normalized_shape, dtype, device)
            if bias:
                self.bias = empty_param(self.normalized_shape, dtype, device)
            else:
                self.register_parameter("bias", None)
        else:
            self.register_parameter("weight", None)
            self.register_parameter("bias", None)
        self.reset_parameters()

    def reset_parameters(self):
        if self.elementwise_affine:
            init.ones_(self.weight)
            if self.bias is not None:
                init.zeros_(self.bias)

    def forward(self, x):
        n = len(self.normalized_shape)
        if tuple(x.shape[x.ndim - n:]) != self.normalized_shape:
            raise ValueError(f"LayerNorm: input shape {tuple(x.shape)} does not end with normalized_shape "
                             f"{self.normalized_shape}")
        return F().layer_norm(x, self.normalized_shape, self.weight, self.bias, self.eps)

    def extra_repr(self):
        return f"{self.normalized_shape}, eps={self.eps}, elementwise_affine={self.elementwise_affine}"
