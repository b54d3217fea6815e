"""Finite-difference checks of the analytic gradients.

``gradcheck(fn, inputs)`` compares the gradient from ``backward`` with central differences
(f(x + εe) − f(x − εe)) / 2ε in float64: the full Jacobian for small inputs, random directions
(directional derivatives vᵀJu) for large ones. ``gradgradcheck`` does the same for the
gradient itself, computed with ``create_graph=True``.
"""
from __future__ import annotations

import numpy as np

from .. import backend
from .engine import grad as _grad
from .function import Tensor
from .grad_mode import no_grad


class GradcheckError(AssertionError):
    """Analytic and numerical derivatives disagree."""


def _outputs(fn, inputs):
    out = fn(*inputs)
    return (out,) if isinstance(out, Tensor) else tuple(out)


def _prepare(inputs):
    prepared = []
    for x in inputs:
        if isinstance(x, Tensor):
            if x.requires_grad and x.dtype != np.float64:
                raise TypeError(f"gradcheck: input of dtype {x.dtype}; finite differences need float64 "
                                "(make the inputs with dtype=tg.float64)")
            prepared.append(x)
        else:
            prepared.append(x)
    return prepared


def gradcheck(fn, inputs, eps=1e-6, atol=1e-5, rtol=1e-3, max_full=256, n_directions=8, seed=0,
              raise_exception=True):
    """True if every input's analytic gradient matches central finite differences; raises otherwise.

    The check works on the scalar ⟨w, f(x)⟩ for a fixed random w per output, so functions with
    any output shape are covered. Inputs with at most ``max_full`` elements are perturbed one
    element at a time (the full gradient); larger ones along ``n_directions`` random directions.
    """
    inputs = _prepare(list(inputs) if isinstance(inputs, (list, tuple)) else [inputs])
    rng = np.random.default_rng(seed)
    wrt = [x for x in inputs if isinstance(x, Tensor) and x.requires_grad]
    if not wrt:
        raise ValueError("gradcheck: no input requires grad")
    outs = _outputs(fn, inputs)
    weights = [rng.standard_normal(o.shape) for o in outs]

    def scalar():
        with no_grad():
            vals = _outputs(fn, inputs)
        return sum(float(np.sum(backend.to_numpy(o.data).astype(np.float64) * w)) for o, w in zip(vals, weights))

    diff_outs = [(o, w) for o, w in zip(outs, weights) if o.requires_grad]
    if not diff_outs:
        raise GradcheckError("gradcheck: no output depends on an input that requires grad")
    s = None
    for o, w in diff_outs:
        term = (o * Tensor(w, dtype=o.dtype, device=o.device)).sum()
        s = term if s is None else s + term
    analytic = _grad(s, wrt, allow_unused=True)
    for k, (x, ga) in enumerate(zip(wrt, analytic)):
        ga = np.zeros(x.shape) if ga is None else backend.to_numpy(ga.data).astype(np.float64)
        _compare_numeric(scalar, x, ga, k, eps, atol, rtol, max_full, n_directions, rng, raise_exception,
                         "gradient")
    return True


def _perturb(x, flat_dir, eps, scalar):
    data = x.data
    xp = backend.get_array_module(data)
    orig = data.copy()
    d = flat_dir.reshape(x.shape)
    d = d if xp is np else xp.asarray(d)
    data[...] = orig + eps * d
    fp = scalar()
    data[...] = orig - eps * d
    fm = scalar()
    data[...] = orig
    return (fp - fm) / (2 * eps)


def _compare_numeric(scalar, x, ga, k, eps, atol, rtol, max_full, n_directions, rng, raise_exception, what):
    n = x.data.size
    if n == 0:
        return
    worst = None
    if n <= max_full:
        for idx in range(n):
            e = np.zeros(n)
            e[idx] = 1.0
            num = _perturb(x, e, eps, scalar)
            ana = ga.reshape(-1)[idx]
            err = abs(num - ana) - (atol + rtol * abs(num))
            if err > 0 and (worst is None or err > worst[0]):
                worst = (err, np.unravel_index(idx, x.shape), ana, num)
    else:
        for _ in range(n_directions):
            u = rng.standard_normal(n)
            num = _perturb(x, u, eps, scalar)
            ana = float(np.dot(ga.reshape(-1), u))
            err = abs(num - ana) - (atol + rtol * abs(num)) * max(1.0, np.sqrt(n) ** 0)
            if err > 0 and (worst is None or err > worst[0]):
                worst = (err, "random direction", ana, num)
    if worst is not None:
        msg = (f"{what} check failed for input {k} (shape {tuple(x.shape)}): at index {worst[1]} "
               f"analytic {worst[2]:.10g} vs numerical {worst[3]:.10g} (atol={atol}, rtol={rtol})")
        if raise_exception:
            raise GradcheckError(msg)
        return False
    return True


def gradgradcheck(fn, inputs, eps=1e-6, atol=1e-5, rtol=1e-3, max_full=64, n_directions=6, seed=1):
    """Check second derivatives: the gradient of ⟨v, ∇f·w⟩ built with ``create_graph=True``
    against finite differences of the first-order analytic gradient."""
    inputs = _prepare(list(inputs) if isinstance(inputs, (list, tuple)) else [inputs])
    rng = np.random.default_rng(seed)
    wrt = [x for x in inputs if isinstance(x, Tensor) and x.requires_grad]
    if not wrt:
        raise ValueError("gradgradcheck: no input requires grad")
    outs = _outputs(fn, inputs)
    weights = [rng.standard_normal(o.shape) for o in outs]
    vs = [rng.standard_normal(x.shape) for x in wrt]

    def first_order_scalar(create_graph):
        o = _outputs(fn, inputs)
        s = None
        for oi, w in zip(o, weights):
            if not oi.requires_grad:
                continue
            term = (oi * Tensor(w, dtype=oi.dtype, device=oi.device)).sum()
            s = term if s is None else s + term
        gs = _grad(s, wrt, create_graph=create_graph, allow_unused=True)
        tot = None
        for gi, v in zip(gs, vs):
            if gi is None:
                continue
            term = (gi * Tensor(v, dtype=gi.dtype, device=gi.device)).sum()
            tot = term if tot is None else tot + term
        return tot

    def scalar():
        t = first_order_scalar(False)
        return 0.0 if t is None else float(t.item())

    tot = first_order_scalar(True)
    if tot is None or not tot.requires_grad:
        analytic = [None] * len(wrt)
    else:
        analytic = _grad(tot, wrt, allow_unused=True)
    for k, (x, ga) in enumerate(zip(wrt, analytic)):
        ga = np.zeros(x.shape) if ga is None else backend.to_numpy(ga.data).astype(np.float64)
        _compare_numeric(scalar, x, ga, k, eps, atol, rtol, max_full, n_directions, rng, True, "second-derivative")
    return True
