"""Neural-network functions: ``import tinygen.functional as F``.

Thin wrappers over the differentiable ops of ``tinygen.autograd`` (activations, linear, conv,
pooling, normalization, dropout), with PyTorch's names, argument names and layouts (NCHW;
conv weight (C_out, C_in, kH, kW); conv-transpose weight (C_in, C_out, kH, kW)).

Arrays and Python numbers are accepted wherever a Tensor is expected (wrapped as constants,
no gradient). Axis arguments take NumPy's ``axis=`` and PyTorch's ``dim=``. Every op here has
a backward that is itself differentiable, so ``create_graph=True`` (double backward, gradient
penalties) works through all of them.
"""
from __future__ import annotations

from .autograd import activations as _act
from .tensor import Tensor

__all__ = ["linear", "conv2d", "conv_transpose2d", "max_pool2d", "avg_pool2d", "upsample_nearest",
           "batch_norm", "layer_norm", "dropout", "embedding", "one_hot", "relu", "leaky_relu", "elu",
           "gelu", "sigmoid", "tanh", "softplus", "log_sigmoid", "silu", "softmax", "log_softmax"]


def _t(x, name="input"):
    """A Tensor for ``x`` (Tensors pass through; arrays and numbers become constants)."""
    if isinstance(x, Tensor):
        return x
    if x is None:
        raise TypeError(f"expected a Tensor, array or number for {name}, got None")
    return Tensor(x)


def _axis(axis, dim, default=-1):
    """``dim=`` (PyTorch) is an alias of ``axis=`` (NumPy)."""
    if dim is not None:
        if axis is not None and axis != default and axis != dim:
            raise TypeError(f"give axis= or dim=, not both (axis={axis}, dim={dim})")
        return dim
    return default if axis is None else axis


# ============================================================================ activations
def relu(x):
    """max(x, 0); gradient 0 at x = 0 (as PyTorch)."""
    return _t(x).relu()


def leaky_relu(x, negative_slope=0.01):
    """x for x > 0, ``negative_slope``·x otherwise."""
    return _act.LeakyRelu.apply(_t(x), negative_slope=float(negative_slope))


def elu(x, alpha=1.0):
    """x for x > 0, α(eˣ − 1) otherwise."""
    return _act.Elu.apply(_t(x), alpha=float(alpha))


def gelu(x, approximate="none"):
    """Gaussian error linear unit. ``approximate="none"``: the exact x·Φ(x) with Φ the standard
    normal CDF (via erf, as PyTorch); ``"tanh"``: ½x(1 + tanh(√(2/π)(x + 0.044715x³)))."""
    if approximate == "none":
        return _act.Gelu.apply(_t(x))
    if approximate == "tanh":
        return _act.GeluTanh.apply(_t(x))
    raise ValueError(f"gelu: approximate must be 'none' or 'tanh', got {approximate!r}")


def sigmoid(x):
    """1 / (1 + e⁻ˣ), without overflow for any finite x."""
    return _t(x).sigmoid()


def tanh(x):
    return _t(x).tanh()


def softplus(x, beta=1.0, threshold=20.0):
    """(1/β)·log(1 + e^{βx}), stable for any finite x; equals x where βx > ``threshold`` (PyTorch)."""
    if beta <= 0:
        raise ValueError(f"softplus: beta must be positive, got {beta}")
    return _act.Softplus.apply(_t(x), beta=float(beta), threshold=float(threshold))


def log_sigmoid(x):
    """log σ(x) = −softplus(−x), stable for any finite x."""
    return _act.LogSigmoid.apply(_t(x))


def silu(x):
    """x·σ(x) (also called swish)."""
    return _act.Silu.apply(_t(x))


def softmax(x, axis=-1, *, dim=None):
    """e^{xᵢ} / Σⱼ e^{xⱼ} along ``axis`` (default −1), computed with the max subtracted."""
    return _act.Softmax.apply(_t(x), axis=_axis(axis, dim))


def log_softmax(x, axis=-1, *, dim=None):
    """xᵢ − log Σⱼ e^{xⱼ} along ``axis`` (default −1), via log-sum-exp (stable for any finite x)."""
    return _act.LogSoftmax.apply(_t(x), axis=_axis(axis, dim))
