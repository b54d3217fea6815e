"""Fused optimizer steps: one pass over (param, grad, state) arrays, updated in place.

The rules are PyTorch's (``torch.optim.SGD``, ``Adam``/``AdamW``, ``RMSprop``; ``maximize``,
``amsgrad`` and ``foreach`` are not covered):

SGD (``first_step`` is PyTorch's "momentum buffer is None")::

    g ← g + λ p                                   (weight_decay λ)
    b ← g                    on the first step    (momentum μ ≠ 0)
    b ← μ b + (1 − τ) g      afterwards           (dampening τ)
    g ← g + μ b  if nesterov  else  b
    p ← p − γ g

Adam / AdamW (``decoupled=True``; t = ``step``, counted from 1)::

    p ← p (1 − γ λ)          if decoupled (AdamW), else   g ← g + λ p   (Adam)
    m ← m + (1 − β₁)(g − m)                       (torch's lerp)
    v ← β₂ v + (1 − β₂) g²
    p ← p − (γ / (1 − β₁ᵗ)) · m / (√v / √(1 − β₂ᵗ) + ε)

RMSprop::

    g ← g + λ p
    v ← α v + (1 − α) g²
    centered:  ḡ ← ḡ + (1 − α)(g − ḡ);   a = √(v − ḡ²) + ε      else   a = √v + ε
    momentum μ > 0:  b ← μ b + g / a;   p ← p − γ b               else   p ← p − γ g / a

The kernels do the arithmetic in the arrays' dtype (scalars are cast to it first), in the
same operation order as the references, so float32 results agree to an ulp or so with the
NumPy reference (and with PyTorch). They run in parallel over elements; each element is
written by exactly one iteration. All state arrays must be C-contiguous and of p's shape.
"""
from __future__ import annotations

import math

import numpy

from ._jit import check_contiguous, check_float, check_same_shape, cupy_kernel, kernel, prange, select_impl


def _check(name, p, g, **state):
    check_float(name, p=p, g=g)
    check_same_shape(name, "p", p, g=g, **state)
    check_contiguous(name, p=p, **state)
    for arg, a in state.items():
        if a is not None and a.dtype != p.dtype:
            raise TypeError(f"{name}: {arg} has dtype {a.dtype} but p has dtype {p.dtype}")


def _lerp_ref(a, b, w):
    """a ← lerp(a, b, w) in place, as torch.lerp: a + w (b − a) if |w| < ½ else b − (b − a)(1 − w)."""
    if abs(w) < 0.5:
        a += w * (b - a)
    else:
        wt = a.dtype.type(w)
        a[...] = b - (b - a) * (1 - wt)


# ----------------------------------------------------------------------------- SGD

def sgd_update_ref(p, g, buf, lr, momentum=0.0, dampening=0.0, weight_decay=0.0, nesterov=False,
                   first_step=False, xp=None):
    """Reference SGD step with array ops; updates ``p`` (and ``buf``) in place."""
    xp = xp or select_impl(p)[1]
    d = g.astype(p.dtype, copy=False)
    if weight_decay != 0:
        d = d + weight_decay * p
    if momentum != 0:
        if first_step:
            buf[...] = d
        else:
            buf *= momentum
            buf += (1 - dampening) * d
        d = d + momentum * buf if nesterov else buf
    p -= lr * d


@kernel(parallel=True, streaming=True)
def sgd_kernel(p, g, buf, lr, momentum, one_minus_damp, wd, use_momentum, nesterov, first_step,
               use_wd):
    """One SGD step per element (see the module docstring); scalars have p's dtype."""
    for i in prange(p.size):
        d = g[i]
        if use_wd:
            d = d + wd * p[i]
        if use_momentum:
            if first_step:
                b = d
            else:
                b = buf[i] * momentum
                b = b + one_minus_damp * d
            buf[i] = b
            d = d + momentum * b if nesterov else b
        p[i] = p[i] - lr * d


def _cupy_sgd(xp, use_momentum):
    # states a configuration does not use are left out of the signature (no aliased outputs)
    outs = "T p, T buf" if use_momentum else "T p"
    body = """
        T d = g;
        if (use_wd) d = d + wd * p;
        """ + ("""
        T b = first_step ? d : buf * momentum + one_minus_damp * d;
        buf = b;
        d = nesterov ? d + momentum * b : b;
        """ if use_momentum else "") + """
        p = p - lr * d;
        """
    return cupy_kernel(("sgd", use_momentum), lambda: xp.ElementwiseKernel(
        "T g, T lr, T momentum, T one_minus_damp, T wd, bool nesterov, bool first_step, "
        "bool use_wd", outs, body, "tinygen_sgd"))


def sgd_update(p, g, buf, lr, momentum=0.0, dampening=0.0, weight_decay=0.0, nesterov=False,
               first_step=False):
    """In-place SGD step on ``p`` (and its momentum ``buf``; may be None when momentum is 0)."""
    if momentum != 0 and buf is None:
        raise ValueError("sgd_update: momentum != 0 needs a momentum buffer `buf`")
    if nesterov and (momentum <= 0 or dampening != 0):
        raise ValueError("sgd_update: nesterov momentum requires a momentum and zero dampening")
    _check("sgd_update", p, g, buf=buf if momentum != 0 else None)
    impl, xp = select_impl(p, g, buf)
    if impl == "reference":
        return sgd_update_ref(p, g, buf, lr, momentum, dampening, weight_decay, nesterov,
                              first_step, xp=xp)
    t = p.dtype.type
    g = xp.ascontiguousarray(g, dtype=p.dtype)
    use_m = momentum != 0
    b = buf if use_m else p
    if impl == "cupy":
        states = (p, buf) if use_m else (p,)
        _cupy_sgd(xp, use_m)(g, t(lr), t(momentum), t(1 - dampening), t(weight_decay),
                             bool(nesterov), bool(first_step), weight_decay != 0, *states)
        return
    sgd_kernel(p.reshape(-1), g.reshape(-1), b.reshape(-1), t(lr), t(momentum), t(1 - dampening),
               t(weight_decay), use_m, bool(nesterov), bool(first_step), weight_decay != 0)


# ----------------------------------------------------------------------------- Adam / AdamW

def _adam_scalars(lr, beta1, beta2, step):
    if step < 1:
        raise ValueError(f"adam_update: step counts from 1, got {step}")
    bc1 = 1 - beta1 ** step
    bc2 = 1 - beta2 ** step
    return lr / bc1, math.sqrt(bc2)


def adam_update_ref(p, g, m, v, lr, beta1=0.9, beta2=0.999, eps=1e-8, weight_decay=0.0, step=1,
                    decoupled=False, xp=None):
    """Reference Adam/AdamW step with array ops; updates ``p``, ``m``, ``v`` in place."""
    xp = xp or select_impl(p)[1]
    step_size, bc2_sqrt = _adam_scalars(lr, beta1, beta2, step)
    d = g.astype(p.dtype, copy=False)
    if weight_decay != 0:
        if decoupled:
            p *= 1 - lr * weight_decay
        else:
            d = d + weight_decay * p
    _lerp_ref(m, d, 1 - beta1)
    v *= beta2
    v += (1 - beta2) * d * d
    denom = xp.sqrt(v) / bc2_sqrt + eps
    p -= step_size * m / denom


@kernel(parallel=True, streaming=True)
def adam_kernel(p, g, m, v, decay, wd, w1, one_minus_w1, beta2, one_minus_b2, step_size,
                bc2_sqrt, eps, coupled_wd, decoupled_wd):
    """One Adam/AdamW step per element (see the module docstring); scalars have p's dtype."""
    for i in prange(p.size):
        d = g[i]
        pi = p[i]
        if decoupled_wd:
            pi = pi * decay
        if coupled_wd:
            d = d + wd * pi
        mi = m[i]
        if w1 < 0.5:
            mi = mi + w1 * (d - mi)
        else:
            mi = d - (d - mi) * one_minus_w1
        vi = v[i] * beta2
        vi = vi + one_minus_b2 * d * d
        m[i] = mi
        v[i] = vi
        denom = numpy.sqrt(vi) / bc2_sqrt + eps
        p[i] = pi - step_size * mi / denom


def _cupy_adam(xp):
    return cupy_kernel("adam", lambda: xp.ElementwiseKernel(
        "T g, T decay, T wd, T w1, T one_minus_w1, T beta2, T one_minus_b2, T step_size, "
        "T bc2_sqrt, T eps, bool coupled_wd, bool decoupled_wd", "T p, T m, T v",
        """
        T d = g;
        T pi = p;
        if (decoupled_wd) pi = pi * decay;
        if (coupled_wd) d = d + wd * pi;
        T mi = w1 < (T)0.5 ? m + w1 * (d - m) : d - (d - m) * one_minus_w1;
        T vi = v * beta2 + one_minus_b2 * d * d;
        m = mi; v = vi;
        p = pi - step_size * mi / (sqrt(vi) / bc2_sqrt + eps);
        """, "tinygen_adam"))


def adam_update(p, g, m, v, lr, beta1=0.9, beta2=0.999, eps=1e-8, weight_decay=0.0, step=1,
                decoupled=False):
    """In-place Adam (``decoupled=False``) or AdamW (``decoupled=True``) step; ``step`` from 1."""
    _check("adam_update", p, g, m=m, v=v)
    impl, xp = select_impl(p, g, m, v)
    if impl == "reference":
        return adam_update_ref(p, g, m, v, lr, beta1, beta2, eps, weight_decay, step, decoupled,
                               xp=xp)
    step_size, bc2_sqrt = _adam_scalars(lr, beta1, beta2, step)
    t = p.dtype.type
    g = xp.ascontiguousarray(g, dtype=p.dtype)
    args = (t(1 - lr * weight_decay), t(weight_decay), t(1 - beta1), t(1 - t(1 - beta1)),
            t(beta2), t(1 - beta2),
            t(step_size), t(bc2_sqrt), t(eps), weight_decay != 0 and not decoupled,
            weight_decay != 0 and bool(decoupled))
    if impl == "cupy":
        _cupy_adam(xp)(g, *args, p, m, v)
        return
    adam_kernel(p.reshape(-1), g.reshape(-1), m.reshape(-1), v.reshape(-1), *args)


# ----------------------------------------------------------------------------- RMSprop

def rmsprop_update_ref(p, g, v, lr, alpha=0.99, eps=1e-8, weight_decay=0.0, momentum=0.0,
                       centered=False, buf=None, g_avg=None, xp=None):
    """Reference RMSprop step with array ops; updates ``p`` and the states in place."""
    xp = xp or select_impl(p)[1]
    d = g.astype(p.dtype, copy=False)
    if weight_decay != 0:
        d = d + weight_decay * p
    v *= alpha
    v += (1 - alpha) * d * d
    if centered:
        _lerp_ref(g_avg, d, 1 - alpha)
        avg = xp.sqrt(v - g_avg * g_avg) + eps
    else:
        avg = xp.sqrt(v) + eps
    if momentum > 0:
        buf *= momentum
        buf += d / avg
        p -= lr * buf
    else:
        p -= lr * d / avg


@kernel(parallel=True, streaming=True)
def rmsprop_kernel(p, g, v, buf, g_avg, lr, alpha, one_minus_alpha, w, one_minus_w, eps, wd,
                   momentum, use_wd, centered, use_momentum):
    """One RMSprop step per element (see the module docstring); scalars have p's dtype."""
    for i in prange(p.size):
        d = g[i]
        if use_wd:
            d = d + wd * p[i]
        vi = v[i] * alpha
        vi = vi + one_minus_alpha * d * d
        v[i] = vi
        if centered:
            ga = g_avg[i]
            if w < 0.5:
                ga = ga + w * (d - ga)
            else:
                ga = d - (d - ga) * one_minus_w
            g_avg[i] = ga
            avg = numpy.sqrt(vi - ga * ga) + eps
        else:
            avg = numpy.sqrt(vi) + eps
        if use_momentum:
            b = buf[i] * momentum
            b = b + d / avg
            buf[i] = b
            p[i] = p[i] - lr * b
        else:
            p[i] = p[i] - lr * d / avg


def _cupy_rmsprop(xp, centered, use_momentum):
    outs = "T p, T v" + (", T buf" if use_momentum else "") + (", T g_avg" if centered else "")
    body = """
        T d = g;
        if (use_wd) d = d + wd * p;
        T vi = v * alpha + one_minus_alpha * d * d;
        v = vi;
        """ + ("""
        T ga = w < (T)0.5 ? g_avg + w * (d - g_avg) : d - (d - g_avg) * one_minus_w;
        g_avg = ga;
        T avg = sqrt(vi - ga * ga) + eps;
        """ if centered else """
        T avg = sqrt(vi) + eps;
        """) + ("""
        T b = buf * momentum + d / avg;
        buf = b;
        p = p - lr * b;
        """ if use_momentum else """
        p = p - lr * d / avg;
        """)
    return cupy_kernel(("rmsprop", centered, use_momentum), lambda: xp.ElementwiseKernel(
        "T g, T lr, T alpha, T one_minus_alpha, T w, T one_minus_w, T eps, T wd, T momentum, "
        "bool use_wd", outs, body, "tinygen_rmsprop"))


def rmsprop_update(p, g, v, lr, alpha=0.99, eps=1e-8, weight_decay=0.0, momentum=0.0,
                   centered=False, buf=None, g_avg=None):
    """In-place RMSprop step. ``v``: square average; ``buf``: momentum buffer (needed when
    momentum > 0); ``g_avg``: gradient average (needed when centered)."""
    if momentum > 0 and buf is None:
        raise ValueError("rmsprop_update: momentum > 0 needs a momentum buffer `buf`")
    if centered and g_avg is None:
        raise ValueError("rmsprop_update: centered=True needs a gradient average `g_avg`")
    _check("rmsprop_update", p, g, v=v, buf=buf if momentum > 0 else None,
           g_avg=g_avg if centered else None)
    impl, xp = select_impl(p, g, v)
    if impl == "reference":
        return rmsprop_update_ref(p, g, v, lr, alpha, eps, weight_decay, momentum, centered, buf,
                                  g_avg, xp=xp)
    t = p.dtype.type
    g = xp.ascontiguousarray(g, dtype=p.dtype)
    use_m = momentum > 0
    b = buf if use_m else p
    ga = g_avg if centered else p
    scal = (t(lr), t(alpha), t(1 - alpha), t(1 - alpha), t(1 - t(1 - alpha)), t(eps),
            t(weight_decay), t(momentum),
            weight_decay != 0, bool(centered), use_m)
    if impl == "cupy":
        states = (p, v) + ((buf,) if use_m else ()) + ((g_avg,) if centered else ())
        _cupy_rmsprop(xp, bool(centered), use_m)(g, *scal[:-2], *states)
        return
    rmsprop_kernel(p.reshape(-1), g.reshape(-1), v.reshape(-1), b.reshape(-1), ga.reshape(-1),
                   *scal)
