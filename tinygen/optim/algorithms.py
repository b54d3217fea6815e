"""SGD, Adam, AdamW and RMSprop with exactly PyTorch's update rules.

Notation: p parameter, g its gradient, γ lr, λ weight_decay, t the step (from 1).

SGD(momentum μ, dampening τ, nesterov)::

    g ← g + λ p
    b ← g (first step)   else   b ← μ b + (1 − τ) g          (when μ ≠ 0)
    g ← g + μ b (nesterov)   else   g ← b
    p ← p − γ g

Adam (L2 weight decay, added to the gradient) and AdamW (decoupled: p ← p (1 − γ λ) first)::

    g ← g + λ p                            (Adam only)
    m ← β₁ m + (1 − β₁) g
    v ← β₂ v + (1 − β₂) g²
    v̂ ← max(v̂, v) (amsgrad)   else   v̂ ← v
    p ← p − γ/(1 − β₁ᵗ) · m / (√v̂ / √(1 − β₂ᵗ) + ε)

RMSprop(α, momentum μ, centered)::

    g ← g + λ p
    v ← α v + (1 − α) g²
    ḡ ← α ḡ + (1 − α) g;  a = √(v − ḡ²) + ε    (centered)   else   a = √v + ε
    b ← μ b + g / a;  p ← p − γ b              (μ > 0)      else   p ← p − γ g / a

``maximize=True`` negates g first. The updates run as fused kernels (``tinygen.kernels``, one
pass over memory) and fall back to the NumPy/CuPy references below when those are unavailable;
AMSGrad always uses the reference.
"""
from __future__ import annotations

import math

from .. import backend
from .optimizer import Optimizer, _kernels

__all__ = ["SGD", "Adam", "AdamW", "RMSprop"]


def _lerp_(a, b, w):
    """a ← a + w (b − a) in place (torch.lerp's formula for |w| < ½; the other side for larger w)."""
    if abs(w) < 0.5:
        a += w * (b - a)
    else:
        a[...] = b - (b - a) * (1 - w)


# --------------------------------------------------------------------------- references
def sgd_reference(p, g, buf, lr, momentum, dampening, weight_decay, nesterov, first_step):
    if weight_decay != 0:
        g = g + weight_decay * p
    if momentum != 0:
        if first_step:
            buf[...] = g
        else:
            buf *= momentum
            buf += (1 - dampening) * g
        g = g + momentum * buf if nesterov else buf
    p -= lr * g


def adam_reference(p, g, m, v, vmax, lr, beta1, beta2, eps, weight_decay, step, decoupled):
    xp = backend.get_array_module(p)
    if weight_decay != 0:
        if decoupled:
            p *= 1 - lr * weight_decay
        else:
            g = g + weight_decay * p
    _lerp_(m, g, 1 - beta1)
    v *= beta2
    v += (1 - beta2) * g * g
    bc1 = 1 - beta1 ** step
    bc2_sqrt = math.sqrt(1 - beta2 ** step)
    if vmax is not None:
        xp.maximum(vmax, v, out=vmax)
        denom = xp.sqrt(vmax)
    else:
        denom = xp.sqrt(v)
    denom /= bc2_sqrt
    denom += eps
    p -= (lr / bc1) * m / denom


def rmsprop_reference(p, g, v, buf, gavg, lr, alpha, eps, weight_decay, momentum, centered):
    xp = backend.get_array_module(p)
    if weight_decay != 0:
        g = g + weight_decay * p
    v *= alpha
    v += (1 - alpha) * g * g
    if centered:
        _lerp_(gavg, g, 1 - alpha)
        avg = xp.sqrt(v - gavg * gavg)
    else:
        avg = xp.sqrt(v)
    avg += eps
    if momentum > 0:
        buf *= momentum
        buf += g / avg
        p -= lr * buf
    else:
        p -= lr * g / avg


# --------------------------------------------------------------------------- SGD
class SGD(Optimizer):
    """Stochastic gradient descent with optional (Nesterov) momentum and L2 weight decay."""

    def __init__(self, params, lr=1e-3, momentum=0.0, dampening=0.0, weight_decay=0.0, nesterov=False, *,
                 maximize=False):
        defaults = dict(lr=lr, momentum=momentum, dampening=dampening, weight_decay=weight_decay,
                        nesterov=nesterov, maximize=maximize)
        super().__init__(params, defaults)

    def _validate(self, group):
        super()._validate(group)
        if group["momentum"] < 0.0:
            raise ValueError(f"Invalid momentum value: {group['momentum']} (must be >= 0)")
        if group["nesterov"] and (group["momentum"] <= 0 or group["dampening"] != 0):
            raise ValueError("Nesterov momentum requires a momentum and zero dampening")

    def _state_names(self, group):
        return ("momentum_buffer",) if group["momentum"] != 0 else ()

    def _advance(self, state, group):
        return group["momentum"] != 0 and "momentum_buffer" not in state     # first step of the buffer

    def _update(self, group, p, g, arrays, first):
        buf = arrays.get("momentum_buffer")
        args = (group["lr"], group["momentum"], group["dampening"], group["weight_decay"], group["nesterov"],
                bool(first))
        k = _kernels()
        if k is not None:
            k.sgd_update(p, g, buf, *args)
        else:
            sgd_reference(p, g.astype(p.dtype, copy=False), buf, *args)


# --------------------------------------------------------------------------- Adam / AdamW
class Adam(Optimizer):
    """Adam (Kingma & Ba) with bias correction; ``weight_decay`` is an L2 term added to the gradient
    (``decoupled_weight_decay=True`` gives AdamW); ``amsgrad`` keeps the running maximum of v."""

    _decoupled_default = False

    def __init__(self, params, lr=1e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=0.0, amsgrad=False, *,
                 maximize=False, decoupled_weight_decay=None):
        if decoupled_weight_decay is None:
            decoupled_weight_decay = self._decoupled_default
        defaults = dict(lr=lr, betas=tuple(betas), eps=eps, weight_decay=weight_decay, amsgrad=amsgrad,
                        maximize=maximize, decoupled_weight_decay=decoupled_weight_decay)
        super().__init__(params, defaults)

    def _validate(self, group):
        super()._validate(group)
        betas = group["betas"]
        if len(betas) != 2:
            raise ValueError(f"betas must be a pair (beta1, beta2), got {betas!r}")
        for i, b in enumerate(betas):
            if not 0.0 <= b < 1.0:
                raise ValueError(f"Invalid beta parameter at index {i}: {b} (must be in [0, 1))")
        group["betas"] = tuple(float(b) for b in betas)

    def _state_names(self, group):
        return ("exp_avg", "exp_avg_sq", "max_exp_avg_sq") if group["amsgrad"] else ("exp_avg", "exp_avg_sq")

    def _init_state(self, group):
        return {"step": 0}

    def _advance(self, state, group):
        state["step"] += 1
        return state["step"]

    def _update(self, group, p, g, arrays, step):
        beta1, beta2 = group["betas"]
        m, v = arrays["exp_avg"], arrays["exp_avg_sq"]
        lr, eps, wd = group["lr"], group["eps"], group["weight_decay"]
        decoupled = bool(group.get("decoupled_weight_decay", False))
        k = _kernels()
        if k is not None and not group["amsgrad"]:
            k.adam_update(p, g, m, v, lr, beta1, beta2, eps, wd, step, decoupled)
        else:
            adam_reference(p, g.astype(p.dtype, copy=False), m, v, arrays.get("max_exp_avg_sq"), lr, beta1,
                           beta2, eps, wd, step, decoupled)


class AdamW(Adam):
    """Adam with decoupled weight decay (Loshchilov & Hutter): p ← p (1 − γ λ) before the Adam step."""

    _decoupled_default = True

    def __init__(self, params, lr=1e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=1e-2, amsgrad=False, *,
                 maximize=False):
        super().__init__(params, lr, betas, eps, weight_decay, amsgrad, maximize=maximize,
                         decoupled_weight_decay=True)


# --------------------------------------------------------------------------- RMSprop
class RMSprop(Optimizer):
    """RMSprop (Hinton): divide by a running RMS of the gradient (centered: by its running std)."""

    def __init__(self, params, lr=1e-2, alpha=0.99, eps=1e-8, weight_decay=0.0, momentum=0.0, centered=False,
                 *, maximize=False):
        defaults = dict(lr=lr, momentum=momentum, alpha=alpha, eps=eps, centered=centered,
                        weight_decay=weight_decay, maximize=maximize)
        super().__init__(params, defaults)

    def _validate(self, group):
        super()._validate(group)
        if group["momentum"] < 0.0:
            raise ValueError(f"Invalid momentum value: {group['momentum']} (must be >= 0)")
        if group["alpha"] < 0.0:
            raise ValueError(f"Invalid alpha value: {group['alpha']} (must be >= 0)")

    def _state_names(self, group):
        names = ["square_avg"]
        if group["momentum"] > 0:
            names.append("momentum_buffer")
        if group["centered"]:
            names.append("grad_avg")
        return tuple(names)

    def _init_state(self, group):
        return {"step": 0}

    def _advance(self, state, group):
        state["step"] += 1
        return 0                           # the update does not depend on the step

    def _update(self, group, p, g, arrays, _):
        v, buf, gavg = arrays["square_avg"], arrays.get("momentum_buffer"), arrays.get("grad_avg")
        args = (group["lr"], group["alpha"], group["eps"], group["weight_decay"], group["momentum"],
                bool(group["centered"]))
        k = _kernels()
        if k is not None:
            lr, alpha, eps, wd, mom, centered = args
            k.rmsprop_update(p, g, v, lr, alpha, eps, wd, mom, centered, buf, gavg)
        else:
            rmsprop_reference(p, g.astype(p.dtype, copy=False), v, buf, gavg, *args)
