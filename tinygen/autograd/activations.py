"""Activation functions: leaky_relu, elu, gelu (exact and tanh), softplus, log_sigmoid, silu,
softmax and log_softmax.

Each backward is written with operators and the helpers of :mod:`tinygen.autograd.dual`, so it
is itself differentiable (``create_graph=True``): second derivatives of every activation are
available for Hessian-vector products and gradient penalties. Piecewise choices (x > 0,
βx > threshold) are constant masks taken from the raw data.

All forwards are evaluated without overflow for any finite input: softplus and log_sigmoid
through max(t, 0) + log1p(e^{−|t|}), softmax/log_softmax through the log-sum-exp shift.

The element-wise forwards, and their backwards on the fast path (arrays), run as the fused
kernels of :mod:`tinygen.kernels` (``act_forward``/``act_backward``: one Numba pass on the CPU,
a CuPy kernel on the GPU, the array reference elsewhere). Under create_graph the backward is
the dual formula written here, so it is recorded and differentiable again.
"""
from __future__ import annotations

import math

from .. import backend
from ..kernels import act_backward, act_forward
from ..kernels._math import erfc_ref
from .dual import exp, is_tensor, sigmoid, tanh, where
from .function import Function

_SQRT_HALF = math.sqrt(0.5)
_INV_SQRT_2PI = 1.0 / math.sqrt(2.0 * math.pi)
_SQRT_2_OVER_PI = math.sqrt(2.0 / math.pi)
_GELU_C = 0.044715


def _raw(a):
    return a.data if is_tensor(a) else a


def normal_cdf_array(x):
    """Φ(x) = ½ erfc(−x/√2): the standard normal CDF, accurate in both tails (any device)."""
    return 0.5 * erfc_ref(-x * _SQRT_HALF)


def _axis(axis, ndim, op):
    if not -ndim <= axis < max(ndim, 1):
        raise ValueError(f"{op}: axis {axis} is out of range for a tensor with {ndim} dimensions")
    return axis % ndim if ndim else 0


# --------------------------------------------------------------------------- piecewise linear
class LeakyRelu(Function):
    """y = x if x > 0 else s·x.    ∂L/∂x = g · (1 if x > 0 else s)."""

    def forward(self, x, negative_slope=0.01):
        self.slope = negative_slope
        return act_forward("leaky_relu", x, negative_slope=negative_slope)

    def backward(self, g, y, x):
        if not is_tensor(g):
            return act_backward("leaky_relu", x, None, g, negative_slope=self.slope)
        xd = _raw(x)
        xp = backend.get_array_module(xd)
        return g * xp.where(xd > 0, 1.0, self.slope).astype(xd.dtype, copy=False)


class Elu(Function):
    """y = x if x > 0 else α(eˣ − 1).    ∂L/∂x = g if x > 0 else g·(y + α)   (= g·α eˣ).

    The derivative uses the output y (no overflow from eˣ at large x); under ``create_graph``
    y is the recorded output, so d(y + α)/dx = α eˣ follows automatically."""
    saves_output = True

    def forward(self, x, alpha=1.0):
        self.alpha = alpha
        return act_forward("elu", x, alpha=alpha)

    def backward(self, g, y, x):
        if not is_tensor(g):
            return act_backward("elu", x, None, g, alpha=self.alpha)
        pos = _raw(x) > 0
        return where(pos, g, g * (y + self.alpha))


# --------------------------------------------------------------------------- smooth
class NormalCdf(Function):
    """y = Φ(x) = ½ erfc(−x/√2).    ∂L/∂x = g · φ(x),  φ(x) = e^{−x²/2}/√(2π)."""

    def forward(self, x):
        return normal_cdf_array(x)

    def backward(self, g, y, x):
        return g * (exp(x * x * -0.5) * _INV_SQRT_2PI)


def _normal_cdf(x):
    return NormalCdf.apply(x) if is_tensor(x) else normal_cdf_array(x)


class Gelu(Function):
    """Exact GELU, y = x·Φ(x).    ∂L/∂x = g · (Φ(x) + x·φ(x))."""

    def forward(self, x):
        return act_forward("gelu", x)

    def backward(self, g, y, x):
        if not is_tensor(g):
            return act_backward("gelu", x, None, g)
        return g * (_normal_cdf(x) + x * (exp(x * x * -0.5) * _INV_SQRT_2PI))


class GeluTanh(Function):
    """GELU, tanh approximation: y = ½x(1 + tanh u),  u = √(2/π)(x + 0.044715x³).
    ∂L/∂x = g · (½(1 + t) + ½x(1 − t²)·√(2/π)(1 + 3·0.044715x²)),  t = tanh u."""

    def forward(self, x):
        return act_forward("gelu", x, approximate="tanh")

    def backward(self, g, y, x):
        if not is_tensor(g):
            return act_backward("gelu", x, None, g, approximate="tanh")
        x2 = x * x
        t = tanh((x + x2 * x * _GELU_C) * _SQRT_2_OVER_PI)
        du = (x2 * (3 * _GELU_C) + 1) * _SQRT_2_OVER_PI
        return g * ((t + 1) * 0.5 + x * (1 - t * t) * du * 0.5)


class Softplus(Function):
    """y = (1/β)·log(1 + e^{βx}), and y = x where βx > threshold (as PyTorch).
    ∂L/∂x = g · σ(βx)   (g where βx > threshold)."""

    def forward(self, x, beta=1.0, threshold=20.0):
        self.beta, self.threshold = beta, threshold
        return act_forward("softplus", x, beta=beta, threshold=threshold)

    def backward(self, g, y, x):
        if not is_tensor(g):
            return act_backward("softplus", x, None, g, beta=self.beta, threshold=self.threshold)
        xd = _raw(x)
        beta = self.beta
        lin = (xd * beta if beta != 1 else xd) > self.threshold
        s = sigmoid(x * beta if beta != 1 else x)
        return where(lin, g, g * s)


class LogSigmoid(Function):
    """y = log σ(x) = −softplus(−x) = min(x, 0) − log(1 + e^{−|x|}).    ∂L/∂x = g · σ(−x).

    Through the fused softplus with no threshold (exact for every x)."""

    def forward(self, x):
        return -act_forward("softplus", -x, threshold=math.inf)

    def backward(self, g, y, x):
        if not is_tensor(g):
            return act_backward("softplus", -x, None, g, threshold=math.inf)
        return g * sigmoid(-x)


class Silu(Function):
    """y = x·σ(x).    ∂L/∂x = g · σ(x)·(1 + x·(1 − σ(x)))."""

    def forward(self, x):
        return act_forward("silu", x)

    def backward(self, g, y, x):
        if not is_tensor(g):
            return act_backward("silu", x, None, g)
        s = sigmoid(x)
        return g * (s * (x * (1 - s) + 1))


# --------------------------------------------------------------------------- along an axis
class Softmax(Function):
    """yᵢ = e^{xᵢ − m} / Σⱼ e^{xⱼ − m}  (m = max x, along ``axis``).
    ∂L/∂x = y ⊙ (g − Σ(g ⊙ y))   (the sum along ``axis``)."""
    saves_output = True

    def forward(self, x, axis=-1):
        self.axis = _axis(axis, x.ndim, "softmax")
        xp = self.xp
        if x.ndim == 0:
            return xp.ones_like(x)
        e = xp.exp(x - x.max(axis=self.axis, keepdims=True))
        e /= e.sum(axis=self.axis, keepdims=True)
        return e

    def backward(self, g, y, x):
        if x.ndim == 0:
            return g * 0
        return y * (g - (g * y).sum(axis=self.axis, keepdims=True))


class LogSoftmax(Function):
    """yᵢ = xᵢ − m − log Σⱼ e^{xⱼ − m}  (log-sum-exp, m = max x, along ``axis``).
    ∂L/∂x = g − e^{y} ⊙ Σ g   (the sum along ``axis``)."""
    saves_output = True

    def forward(self, x, axis=-1):
        self.axis = _axis(axis, x.ndim, "log_softmax")
        xp = self.xp
        if x.ndim == 0:
            return xp.zeros_like(x)
        shifted = x - x.max(axis=self.axis, keepdims=True)
        return shifted - xp.log(xp.exp(shifted).sum(axis=self.axis, keepdims=True))

    def backward(self, g, y, x):
        if x.ndim == 0:
            return g * 0
        return g - exp(y) * g.sum(axis=self.axis, keepdims=True)
