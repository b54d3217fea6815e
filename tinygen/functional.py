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

from . import backend as _backend
from .autograd import activations as _act
from .autograd import conv as _conv
from .autograd import dropout as _drop
from .autograd import linear as _lin
from .autograd import normalization as _norm
from .autograd import pooling as _pool
from .tensor import Tensor, int64

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


def _opt(x, name):
    return None if x is None else _t(x, name)


def _data(x):
    return x.data if isinstance(x, Tensor) else x


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
    """Hyperbolic tangent."""
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


# ============================================================================ linear maps
def linear(x, weight, bias=None):
    """y = x Wᵀ + b for x (..., in_features), weight (out_features, in_features), bias (out_features,).

    One fused node: ∂L/∂x = g W, ∂L/∂W = gᵀx, ∂L/∂b = Σg (a GEMM each)."""
    return _lin.Linear.apply(_t(x), _t(weight, "weight"), _opt(bias, "bias"))


def embedding(input, weight, padding_idx=None):
    """Rows of ``weight`` (num_embeddings, embedding_dim) picked by the integer ``input`` (any shape);
    the result has shape input.shape + (embedding_dim,). Rows at ``padding_idx`` get no gradient.
    The gradient is a sort-based scatter-add (repeated indices accumulate)."""
    idx = _data(input)
    if not hasattr(idx, "dtype"):
        import numpy
        idx = numpy.asarray(idx)
    w = _t(weight, "weight")
    if _backend.device_of(idx) != w.device:       # integer indices follow the table (explicit copy)
        idx = _backend.to_device(idx, w.device)
    if padding_idx is not None:
        padding_idx = int(padding_idx)
        if padding_idx < 0:
            padding_idx += w.shape[0]
    return _lin.Embedding.apply(w, idx, padding_idx=padding_idx)


def one_hot(labels, num_classes=-1, dtype=int64):
    """labels (integers, any shape) → labels.shape + (num_classes,) with a 1 at each label (no gradient).

    As PyTorch, the result is int64 and ``num_classes=-1`` means max(labels) + 1; pass
    ``dtype=tg.float32`` (or call ``.float()``) to feed it to a network."""
    lab = _data(labels)
    if not hasattr(lab, "dtype"):
        import numpy
        lab = numpy.asarray(lab)
    return Tensor._make(_lin.one_hot_array(lab, int(num_classes), dtype), False, None)


# ============================================================================ convolutions
def conv2d(x, weight, bias=None, stride=1, padding=0):
    """2-D cross-correlation, NCHW. x (N, C_in, H, W), weight (C_out, C_in, kH, kW), bias (C_out,);
    ``stride`` and ``padding`` (zeros) are ints or (h, w) pairs. Output (N, C_out, H_out, W_out),
    H_out = ⌊(H + 2p − kH)/s⌋ + 1. Forward by im2col + one GEMM; double backward supported."""
    stride = _conv.pair(stride, "stride", "conv2d", 1)
    padding = _conv.pair(padding, "padding", "conv2d", 0)
    return _conv.Conv2d.apply(_t(x), _t(weight, "weight"), _opt(bias, "bias"), stride=stride, padding=padding)


def conv_transpose2d(x, weight, bias=None, stride=1, padding=0, output_padding=0):
    """Transposed convolution (the adjoint of conv2d), NCHW. x (N, C_in, H, W), weight
    (C_in, C_out, kH, kW) (PyTorch's layout), bias (C_out,). Output H_out = (H − 1)·s − 2p + kH
    + output_padding, with 0 ≤ output_padding < stride. Double backward supported."""
    stride = _conv.pair(stride, "stride", "conv_transpose2d", 1)
    padding = _conv.pair(padding, "padding", "conv_transpose2d", 0)
    op = _conv.pair(output_padding, "output_padding", "conv_transpose2d", 0)
    if op[0] >= stride[0] or op[1] >= stride[1]:
        raise ValueError(f"conv_transpose2d: output_padding {output_padding} must be smaller than the stride {stride}")
    x, w = _t(x), _t(weight, "weight")
    if x.ndim != 4 or w.ndim != 4:
        raise ValueError(f"conv_transpose2d: input must be 4-D (N, C, H, W) and weight 4-D (C_in, C_out, kH, kW); "
                         f"got input {x.shape}, weight {w.shape}")
    kh, kw = w.shape[2:]
    out = ((x.shape[2] - 1) * stride[0] - 2 * padding[0] + kh + op[0],
           (x.shape[3] - 1) * stride[1] - 2 * padding[1] + kw + op[1])
    return _conv.ConvTranspose2d.apply(x, w, _opt(bias, "bias"), stride=stride, padding=padding, output_size=out)


# ============================================================================ pooling
def max_pool2d(x, kernel_size, stride=None, padding=0):
    """Maximum over kH×kW windows of an NCHW tensor (``stride`` defaults to ``kernel_size``; the
    padding counts as −∞ and is at most half the kernel). The gradient goes to each window's arg-max."""
    return _pool.MaxPool2d.apply(_t(x), kernel_size=kernel_size, stride=stride, padding=padding)


def avg_pool2d(x, kernel_size, stride=None, padding=0):
    """Mean over kH×kW windows of an NCHW tensor (``stride`` defaults to ``kernel_size``; zero padding
    is included in the count, PyTorch's default count_include_pad=True)."""
    return _pool.AvgPool2d.apply(_t(x), kernel_size=kernel_size, stride=stride, padding=padding)


def upsample_nearest(x, scale_factor=2):
    """Nearest-neighbour upsampling of an NCHW tensor by an integer factor (or an (h, w) pair):
    each pixel becomes an s×s block. The gradient sums each block."""
    return _pool.UpsampleNearest.apply(_t(x), scale_factor=scale_factor)


# ============================================================================ normalisation
def batch_norm(x, running_mean, running_var, weight=None, bias=None, training=False, momentum=0.1, eps=1e-5):
    """Batch normalisation over axis 1 of (N, C) or (N, C, ...) inputs, as ``torch.nn.functional.batch_norm``.

    ``training=True``: normalise with the batch mean and biased variance, and update
    ``running_mean``/``running_var`` (Tensors or arrays, may be None) in place with ``momentum``
    (the running variance takes the unbiased batch variance). ``training=False``: normalise with
    the running statistics. ``weight`` (γ) and ``bias`` (β) have shape (C,). One node with the
    analytic backward; differentiable twice."""
    if momentum is None:
        raise ValueError("batch_norm: momentum=None (cumulative averaging) is not supported; pass a number")
    return _norm.BatchNorm.apply(_t(x), _opt(weight, "weight"), _opt(bias, "bias"),
                                 running_mean=_data(running_mean), running_var=_data(running_var),
                                 training=bool(training), momentum=float(momentum), eps=float(eps))


def layer_norm(x, normalized_shape, weight=None, bias=None, eps=1e-5):
    """Layer normalisation over the trailing ``normalized_shape`` axes (an int or a tuple), with
    optional ``weight``/``bias`` of that shape, as ``torch.nn.functional.layer_norm``."""
    if isinstance(normalized_shape, int):
        normalized_shape = (normalized_shape,)
    return _norm.LayerNorm.apply(_t(x), _opt(weight, "weight"), _opt(bias, "bias"),
                                 normalized_shape=tuple(int(s) for s in normalized_shape), eps=float(eps))


def dropout(x, p=0.5, training=True):
    """Inverted dropout: during training zero each element with probability ``p`` and scale the rest
    by 1/(1 − p) (mask from tinygen's seeded generator of x's device); the identity otherwise."""
    if not 0.0 <= p <= 1.0:
        raise ValueError(f"dropout: p must be in [0, 1], got {p}")
    x = _t(x)
    if not training or p == 0.0:
        return x
    if x.dtype.kind != "f":
        raise TypeError(f"dropout: input must be floating point, got dtype {x.dtype}")
    return _drop.Dropout.apply(x, p=float(p))
