"""Weight initialisers, with PyTorch's names and formulas, drawing from ``tinygen.random``.

Each fills a Tensor in place (no gradient is recorded) and returns it. For a weight of shape
``(fan_out, fan_in, *kernel)``: ``fan_in = shape[1] · prod(kernel)``, ``fan_out = shape[0] · prod(kernel)``.

* ``xavier_uniform_``: U(−a, a), a = gain · √(6 / (fan_in + fan_out))
* ``xavier_normal_``:  N(0, σ²), σ = gain · √(2 / (fan_in + fan_out))
* ``kaiming_uniform_``: U(−b, b), b = gain · √(3 / fan), gain = calculate_gain(nonlinearity, a)
* ``kaiming_normal_``: N(0, σ²), σ = gain / √fan

``Linear`` and ``Conv2d`` use ``kaiming_uniform_(w, a=√5)``, i.e. U(−1/√fan_in, 1/√fan_in).
"""
from __future__ import annotations

import math

from ..autograd import grad_mode
from ..random import normal_array, uniform_array
from ..tensor import Tensor

__all__ = ["calculate_gain", "uniform_", "normal_", "trunc_normal_", "constant_", "zeros_", "ones_",
           "eye_", "xavier_uniform_", "xavier_normal_", "kaiming_uniform_", "kaiming_normal_",
           "orthogonal_"]


def _check(tensor, name):
    if not isinstance(tensor, Tensor):
        raise TypeError(f"init.{name}: expected a Tensor, got {type(tensor).__name__}")
    if tensor.grad_fn is not None:
        raise RuntimeError(f"init.{name}: only leaf tensors can be initialised in place")


def _fill(tensor, arr):
    with grad_mode.no_grad():
        tensor.data[...] = arr
    return tensor


def calculate_gain(nonlinearity: str, param=None) -> float:
    """The recommended gain for a nonlinearity (PyTorch's table)."""
    linear_fns = ["linear", "conv1d", "conv2d", "conv3d", "conv_transpose1d", "conv_transpose2d",
                  "conv_transpose3d"]
    if nonlinearity in linear_fns or nonlinearity == "sigmoid":
        return 1.0
    if nonlinearity == "tanh":
        return 5.0 / 3
    if nonlinearity == "relu":
        return math.sqrt(2.0)
    if nonlinearity == "leaky_relu":
        if param is None:
            slope = 0.01
        elif not isinstance(param, bool) and isinstance(param, (int, float)):
            slope = param
        else:
            raise ValueError(f"negative_slope {param} not a valid number")
        return math.sqrt(2.0 / (1 + slope ** 2))
    if nonlinearity == "selu":
        return 3.0 / 4
    raise ValueError(f"Unsupported nonlinearity {nonlinearity}")


def _calculate_fan_in_and_fan_out(tensor):
    if tensor.ndim < 2:
        raise ValueError("Fan in and fan out can not be computed for tensor with fewer than 2 dimensions "
                         f"(shape {tuple(tensor.shape)})")
    receptive = 1
    for s in tensor.shape[2:]:
        receptive *= int(s)
    return int(tensor.shape[1]) * receptive, int(tensor.shape[0]) * receptive


def _fan(tensor, mode):
    mode = mode.lower()
    if mode not in ("fan_in", "fan_out"):
        raise ValueError(f"Mode {mode} not supported, please use one of fan_in, fan_out")
    fan_in, fan_out = _calculate_fan_in_and_fan_out(tensor)
    return fan_in if mode == "fan_in" else fan_out


def uniform_(tensor, a: float = 0.0, b: float = 1.0):
    """Fill with U(a, b)."""
    _check(tensor, "uniform_")
    return _fill(tensor, uniform_array(tensor.shape, a, b, tensor.dtype, tensor.device))


def normal_(tensor, mean: float = 0.0, std: float = 1.0):
    """Fill with N(mean, std²)."""
    _check(tensor, "normal_")
    return _fill(tensor, normal_array(tensor.shape, tensor.dtype, tensor.device) * std + mean)


def trunc_normal_(tensor, mean: float = 0.0, std: float = 1.0, a: float = -2.0, b: float = 2.0):
    """Fill with N(mean, std²) truncated to [a, b] (by redrawing the values outside)."""
    _check(tensor, "trunc_normal_")
    import numpy as np
    from .. import backend
    out = backend.to_numpy(normal_array(tensor.shape, np.float64, "cpu")) * std + mean
    bad = (out < a) | (out > b)
    for _ in range(100):
        if not bad.any():
            break
        out[bad] = backend.to_numpy(normal_array((int(bad.sum()),), np.float64, "cpu")) * std + mean
        bad = (out < a) | (out > b)
    out = np.clip(out, a, b).astype(tensor.dtype)
    return _fill(tensor, backend.to_device(out, tensor.device))


def constant_(tensor, val: float):
    _check(tensor, "constant_")
    return _fill(tensor, val)


def zeros_(tensor):
    return constant_(tensor, 0.0)


def ones_(tensor):
    return constant_(tensor, 1.0)


def eye_(tensor):
    """The identity matrix (2-D tensors)."""
    _check(tensor, "eye_")
    if tensor.ndim != 2:
        raise ValueError(f"eye_: only 2-D tensors are supported, got shape {tuple(tensor.shape)}")
    from .. import backend
    xp = backend.xp_for(tensor.device)
    return _fill(tensor, xp.eye(*tensor.shape, dtype=tensor.dtype))


def xavier_uniform_(tensor, gain: float = 1.0):
    """Glorot uniform: U(−a, a), a = gain·√(6/(fan_in + fan_out))."""
    _check(tensor, "xavier_uniform_")
    fan_in, fan_out = _calculate_fan_in_and_fan_out(tensor)
    a = gain * math.sqrt(6.0 / float(fan_in + fan_out))
    return uniform_(tensor, -a, a)


def xavier_normal_(tensor, gain: float = 1.0):
    """Glorot normal: N(0, σ²), σ = gain·√(2/(fan_in + fan_out))."""
    _check(tensor, "xavier_normal_")
    fan_in, fan_out = _calculate_fan_in_and_fan_out(tensor)
    return normal_(tensor, 0.0, gain * math.sqrt(2.0 / float(fan_in + fan_out)))


def kaiming_uniform_(tensor, a: float = 0.0, mode: str = "fan_in", nonlinearity: str = "leaky_relu"):
    """He uniform: U(−b, b), b = gain·√(3/fan), gain = calculate_gain(nonlinearity, a)."""
    _check(tensor, "kaiming_uniform_")
    if 0 in tensor.shape:
        return tensor
    fan = _fan(tensor, mode)
    bound = math.sqrt(3.0) * calculate_gain(nonlinearity, a) / math.sqrt(fan)
    return uniform_(tensor, -bound, bound)


def kaiming_normal_(tensor, a: float = 0.0, mode: str = "fan_in", nonlinearity: str = "leaky_relu"):
    """He normal: N(0, σ²), σ = gain/√fan."""
    _check(tensor, "kaiming_normal_")
    if 0 in tensor.shape:
        return tensor
    fan = _fan(tensor, mode)
    return normal_(tensor, 0.0, calculate_gain(nonlinearity, a) / math.sqrt(fan))


def orthogonal_(tensor, gain: float = 1.0):
    """A (semi-)orthogonal matrix from the QR decomposition of a Gaussian one, times ``gain``."""
    _check(tensor, "orthogonal_")
    if tensor.ndim < 2:
        raise ValueError("Only tensors with 2 or more dimensions are supported")
    import numpy as np
    from .. import backend
    rows = int(tensor.shape[0])
    cols = int(tensor.size) // rows
    flat = backend.to_numpy(normal_array((rows, cols), np.float64, "cpu"))
    if rows < cols:
        flat = flat.T
    q, r = np.linalg.qr(flat)
    q = q * np.sign(np.diag(r))
    if rows < cols:
        q = q.T
    out = (gain * q).reshape(tensor.shape).astype(tensor.dtype)
    return _fill(tensor, backend.to_device(out, tensor.device))
