"""Gradient utilities: clip_grad_norm_, clip_grad_value_, parameters_to_vector, vector_to_parameters."""
from __future__ import annotations

import math

from .. import backend
from ..autograd import grad_mode
from ..tensor import Tensor


def _params_with_grad(parameters):
    if isinstance(parameters, Tensor):
        parameters = [parameters]
    return [p for p in parameters if p.grad is not None]


def clip_grad_norm_(parameters, max_norm: float, norm_type: float = 2.0, error_if_nonfinite: bool = False):
    """Scale all gradients together so their joint ``norm_type`` norm is at most ``max_norm``.

    Returns the total norm before clipping (a 0-d Tensor), as PyTorch. The scale is
    ``max_norm / (total + 1e-6)``, applied only when it is below 1.
    """
    params = _params_with_grad(parameters)
    if not params:
        return Tensor(0.0)
    norm_type = float(norm_type)
    with grad_mode.no_grad():
        parts = []
        for p in params:
            g = p.grad.data
            xp = backend.get_array_module(g)
            if norm_type == math.inf:
                parts.append(float(xp.abs(g).max()) if g.size else 0.0)
            else:
                parts.append(float((xp.abs(g.astype("float64", copy=False)) ** norm_type).sum()))
        total = max(parts) if norm_type == math.inf else sum(parts) ** (1.0 / norm_type)
        if error_if_nonfinite and not math.isfinite(total):
            raise RuntimeError(f"The total norm of order {norm_type} for gradients from `parameters` is "
                               "non-finite, so it cannot be clipped")
        coef = max_norm / (total + 1e-6)
        if coef < 1.0:
            for p in params:
                p.grad.data[...] *= coef
    return Tensor(total)


def clip_grad_value_(parameters, clip_value: float):
    """Clip every gradient element to [−clip_value, clip_value] in place."""
    clip_value = float(clip_value)
    for p in _params_with_grad(parameters):
        g = p.grad.data
        backend.get_array_module(g).clip(g, -clip_value, clip_value, out=g)


def parameters_to_vector(parameters):
    """All parameters flattened and concatenated into one 1-D Tensor (a copy, no graph)."""
    params = list(parameters)
    xp = backend.get_array_module(*[p.data for p in params])
    return Tensor._make(xp.concatenate([p.data.reshape(-1) for p in params]), False, None)


def vector_to_parameters(vec, parameters):
    """Copy the consecutive slices of ``vec`` into the parameters (in place)."""
    data = vec.data if isinstance(vec, Tensor) else vec
    i = 0
    for p in parameters:
        n = int(p.size)
        p.data[...] = data[i:i + n].reshape(p.shape)
        i += n
    if i != data.size:
        raise ValueError(f"vector_to_parameters: vector has {data.size} elements but the parameters have {i}")
