"""Fused activations: forward ``y = f(x)`` and backward ``dx = g · f'(x)``, one pass each.

    relu         y = max(x, 0)                              dx = g · [x > 0]
    leaky_relu   y = x if x > 0 else s·x                    dx = g if x > 0 else s·g     (negative_slope s)
    elu          y = x if x > 0 else α (eˣ − 1)             dx = g if x > 0 else g α eˣ  (alpha α)
    gelu         y = x Φ(x),  Φ(x) = ½ erfc(−x/√2)          dx = g (Φ(x) + x φ(x)),  φ(x) = e^(−x²/2)/√(2π)
    gelu_tanh    y = ½ x (1 + t),  t = tanh(√(2/π)(x + 0.044715 x³))
                                                            dx = g (½(1 + t) + ½ x (1 − t²) √(2/π)(1 + 3·0.044715 x²))
    sigmoid      y = σ(x) = 1/(1 + e⁻ˣ)                     dx = g · y (1 − y)
    tanh         y = tanh x                                 dx = g · (1 − y²)
    softplus     y = x if βx > θ else log(1 + e^(βx))/β     dx = g if βx > θ else g σ(βx)  (beta β, threshold θ = 20)
    silu         y = x σ(x)                                 dx = g · σ(x) (1 + x (1 − σ(x)))

These match PyTorch's definitions (elu's and softplus's branches included; gelu's
``approximate="none"|"tanh"``). ``act_backward`` uses ``y`` when it is given for sigmoid and
tanh, and recomputes from ``x`` otherwise. The Numba kernels use the branch-free math in
:mod:`._math` (so the loops vectorise): in float64 for float64 arrays, and for float32 arrays in
float32 with Cephes' single-precision functions (``*_f32_kernel``, a few float32 ulps).
"""
from __future__ import annotations

import math

import numpy

from .. import parallel as _parallel
from ..parallel import map_range
from ._jit import check_same_shape, cupy_kernel, kernel, prange, select_impl
from ._math import (erfc_ref, fexp, fexpf, fexpm1, fexpm1f, ferfc, ferfcf, fsigmoid, fsigmoidf,
                    fsoftplus, fsoftplusf, ftanh, ftanhf)

_SQRT_2_OVER_PI = math.sqrt(2.0 / math.pi)
_INV_SQRT_2 = 1.0 / math.sqrt(2.0)
_INV_SQRT_2PI = 1.0 / math.sqrt(2.0 * math.pi)
_GELU_C = 0.044715

# name -> {param: default}; aliases map to a canonical name
_ACTS = {
    "relu": {},
    "leaky_relu": {"negative_slope": 0.01},
    "elu": {"alpha": 1.0},
    "gelu": {"approximate": "none"},
    "sigmoid": {},
    "tanh": {},
    "softplus": {"beta": 1.0, "threshold": 20.0},
    "silu": {},
}
_ALIASES = {"gelu_tanh": ("gelu", {"approximate": "tanh"}), "swish": ("silu", {}),
            "leakyrelu": ("leaky_relu", {})}
_PARAM_ALIASES = {"slope": "negative_slope"}
ACTIVATIONS = tuple(_ACTS) + tuple(_ALIASES)


_resolved: dict = {}


def _resolve(name, params):
    """-> (canonical name, p1, p2) with the parameters checked ("gelu_tanh" for gelu's tanh form).
    Remembered per (name, parameters): the ops call this on every forward and backward."""
    try:
        key = (name,) + tuple(params.items())
        hit = _resolved.get(key)
    except TypeError:                        # an unhashable parameter value: resolve (and reject) it
        key = hit = None
    if hit is None:
        hit = _resolve_uncached(name, params)
        if key is not None and len(_resolved) < 1024:
            _resolved[key] = hit
    return hit


def _resolve_uncached(name, params):
    key = str(name).lower()
    extra = {}
    if key in _ALIASES:
        key, extra = _ALIASES[key]
    if key not in _ACTS:
        raise ValueError(f"unknown activation {name!r}; known: {', '.join(ACTIVATIONS)}")
    defaults = _ACTS[key]
    given = {_PARAM_ALIASES.get(k, k): v for k, v in params.items()}
    unknown = set(given) - set(defaults)
    if unknown:
        allowed = ", ".join(defaults) or "none"
        raise TypeError(f"activation {key!r} got unexpected parameter(s) {sorted(unknown)}; "
                        f"it takes: {allowed}")
    vals = dict(defaults, **extra)
    vals.update(given)
    p1 = p2 = 0.0
    if key == "leaky_relu":
        p1 = float(vals["negative_slope"])
    elif key == "elu":
        p1 = float(vals["alpha"])
    elif key == "gelu":
        approx = vals["approximate"]
        if approx not in ("none", "tanh"):
            raise ValueError(f"gelu: approximate must be 'none' or 'tanh', got {approx!r}")
        if approx == "tanh":
            key = "gelu_tanh"
    elif key == "softplus":
        p1, p2 = float(vals["beta"]), float(vals["threshold"])
        if p1 == 0:
            raise ValueError("softplus: beta must be non-zero")
    return key, p1, p2


# ----------------------------------------------------------------------------- references

def act_forward_ref(name, x, xp=None, **params):
    """Reference forward with array-namespace ops (see the table in the module docstring)."""
    key, p1, p2 = _resolve(name, params)
    xp = xp or select_impl(x)[1]
    dt = x.dtype
    if key == "relu":
        return xp.where(x <= 0, 0, x).astype(dt, copy=False)
    if key == "leaky_relu":
        return xp.where(x > 0, x, x * p1).astype(dt, copy=False)
    if key == "elu":
        return xp.where(x > 0, x, p1 * xp.expm1(xp.minimum(x, 0))).astype(dt, copy=False)
    if key == "gelu":
        return (x * (0.5 * erfc_ref(-x * _INV_SQRT_2, xp=xp))).astype(dt, copy=False)
    if key == "gelu_tanh":
        t = xp.tanh(_SQRT_2_OVER_PI * (x + _GELU_C * x * x * x))
        return (0.5 * x * (1 + t)).astype(dt, copy=False)
    if key == "sigmoid":
        return _sigmoid_ref(xp, x)
    if key == "tanh":
        return xp.tanh(x)
    if key == "softplus":
        t = x * p1
        sp = (xp.maximum(t, 0) + xp.log1p(xp.exp(-xp.abs(t)))) / p1
        return xp.where(t > p2, x, sp).astype(dt, copy=False)
    if key == "silu":
        return (x * _sigmoid_ref(xp, x)).astype(dt, copy=False)
    raise AssertionError(key)


def act_backward_ref(name, x, y, g, xp=None, **params):
    """Reference backward: ``dx = g · f'(x)`` (uses ``y`` for sigmoid/tanh when given)."""
    key, p1, p2 = _resolve(name, params)
    xp = xp or select_impl(x)[1]
    dt = x.dtype
    if key == "relu":
        return xp.where(x > 0, g, 0).astype(dt, copy=False)
    if key == "leaky_relu":
        return xp.where(x > 0, g, g * p1).astype(dt, copy=False)
    if key == "elu":
        return xp.where(x > 0, g, g * (p1 * xp.exp(xp.minimum(x, 0)))).astype(dt, copy=False)
    if key == "gelu":
        cdf = 0.5 * erfc_ref(-x * _INV_SQRT_2, xp=xp)
        pdf = xp.exp(-0.5 * x * x) * _INV_SQRT_2PI
        return (g * (cdf + x * pdf)).astype(dt, copy=False)
    if key == "gelu_tanh":
        x2 = x * x
        t = xp.tanh(_SQRT_2_OVER_PI * (x + _GELU_C * x2 * x))
        du = _SQRT_2_OVER_PI * (1 + 3 * _GELU_C * x2)
        return (g * (0.5 * (1 + t) + 0.5 * x * (1 - t * t) * du)).astype(dt, copy=False)
    if key == "sigmoid":
        s = y if y is not None else _sigmoid_ref(xp, x)
        return (g * (s * (1 - s))).astype(dt, copy=False)
    if key == "tanh":
        t = y if y is not None else xp.tanh(x)
        return (g * (1 - t * t)).astype(dt, copy=False)
    if key == "softplus":
        t = x * p1
        return xp.where(t > p2, g, g * _sigmoid_ref(xp, t)).astype(dt, copy=False)
    if key == "silu":
        s = _sigmoid_ref(xp, x)
        return (g * (s * (1 + x * (1 - s)))).astype(dt, copy=False)
    raise AssertionError(key)


def _sigmoid_ref(xp, x):
    e = xp.exp(-xp.abs(x))
    r = 1 / (1 + e)
    return xp.where(x >= 0, r, e * r).astype(x.dtype, copy=False)


# ----------------------------------------------------------------------------- Numba kernels

# One kernel per activation, forward and backward together: a model compiles only the
# activations it uses. ``backward`` is uniform over the loop, so LLVM unswitches it and both
# versions vectorise. Forward: out = f(x). Backward: out = g · f'(x) (y used when has_y).
# All arithmetic is float64; unused array arguments are passed as x.

@kernel(parallel=True, contract=True, streaming=True)
def relu_kernel(backward, x, y, has_y, g, p1, p2, out):
    """f = max(x, 0) (NaN kept);  g · [x > 0]."""
    for i in prange(x.size):
        v = x[i]
        if backward:
            out[i] = g[i] if v > 0 else 0
        else:
            out[i] = 0 if v <= 0 else v


@kernel(parallel=True, contract=True, streaming=True)
def leaky_relu_kernel(backward, x, y, has_y, g, p1, p2, out):
    """f = x if x > 0 else p1·x;  g if x > 0 else p1·g."""
    for i in prange(x.size):
        v = x[i]
        if backward:
            out[i] = g[i] if v > 0 else g[i] * p1
        else:
            out[i] = v if v > 0 else v * p1


@kernel(parallel=True, contract=True, streaming=True)
def elu_kernel(backward, x, y, has_y, g, p1, p2, out):
    """f = x if x > 0 else p1 (eˣ − 1);  g if x > 0 else g · p1 eˣ."""
    for i in prange(x.size):
        v = 1.0 * x[i]
        if backward:
            out[i] = g[i] if v > 0 else g[i] * (p1 * fexp(min(v, 0.0)))
        else:
            out[i] = v if v > 0 else p1 * fexpm1(min(v, 0.0))


@kernel(parallel=True, contract=True, streaming=True)
def gelu_kernel(backward, x, y, has_y, g, p1, p2, out):
    """f = x Φ(x), Φ(x) = ½ erfc(−x/√2);  g (Φ(x) + x φ(x))."""
    for i in prange(x.size):
        v = 1.0 * x[i]
        cdf = 0.5 * ferfc(-v * _INV_SQRT_2)
        if backward:
            out[i] = g[i] * (cdf + v * (fexp(-0.5 * v * v) * _INV_SQRT_2PI))
        else:
            out[i] = v * cdf


@kernel(parallel=True, contract=True, streaming=True)
def gelu_tanh_kernel(backward, x, y, has_y, g, p1, p2, out):
    """t = tanh(√(2/π)(x + 0.044715 x³)); f = ½ x (1 + t);  g (½(1 + t) + ½ x (1 − t²) √(2/π)(1 + 3·0.044715 x²))."""
    for i in prange(x.size):
        v = 1.0 * x[i]
        v2 = v * v
        t = ftanh(_SQRT_2_OVER_PI * (v + _GELU_C * v2 * v))
        if backward:
            du = _SQRT_2_OVER_PI * (1.0 + 3.0 * _GELU_C * v2)
            out[i] = g[i] * (0.5 * (1.0 + t) + 0.5 * v * (1.0 - t * t) * du)
        else:
            out[i] = 0.5 * v * (1.0 + t)


@kernel(parallel=True, contract=True, streaming=True)
def sigmoid_kernel(backward, x, y, has_y, g, p1, p2, out):
    """f = σ(x);  g · y (1 − y)."""
    for i in prange(x.size):
        if backward:
            s = 1.0 * y[i] if has_y else fsigmoid(1.0 * x[i])
            out[i] = g[i] * (s * (1.0 - s))
        else:
            out[i] = fsigmoid(1.0 * x[i])


@kernel(parallel=True, contract=True, streaming=True)
def tanh_kernel(backward, x, y, has_y, g, p1, p2, out):
    """f = tanh x;  g · (1 − y²)."""
    for i in prange(x.size):
        if backward:
            t = 1.0 * y[i] if has_y else ftanh(1.0 * x[i])
            out[i] = g[i] * (1.0 - t * t)
        else:
            out[i] = ftanh(1.0 * x[i])


@kernel(parallel=True, contract=True, streaming=True)
def softplus_kernel(backward, x, y, has_y, g, p1, p2, out):
    """With β = p1, θ = p2: f = x if βx > θ else log(1 + e^(βx))/β;  g if βx > θ else g σ(βx)."""
    for i in prange(x.size):
        v = 1.0 * x[i]
        t = v * p1
        if backward:
            out[i] = g[i] if t > p2 else g[i] * fsigmoid(t)
        else:
            out[i] = v if t > p2 else fsoftplus(t) / p1


@kernel(parallel=True, contract=True, streaming=True)
def silu_kernel(backward, x, y, has_y, g, p1, p2, out):
    """f = x σ(x);  g · σ(x) (1 + x (1 − σ(x)))."""
    for i in prange(x.size):
        v = 1.0 * x[i]
        s = fsigmoid(v)
        if backward:
            out[i] = g[i] * (s * (1.0 + v * (1.0 - s)))
        else:
            out[i] = v * s


# float32 versions of the transcendental ones: float32 arithmetic with the float32 helpers
# (16 SIMD lanes, no float64 divisions), ~2-3x faster; p1, p2 are float32 here.
_f = numpy.float32
_INV_SQRT_2_F = _f(_INV_SQRT_2)
_INV_SQRT_2PI_F = _f(_INV_SQRT_2PI)
_SQRT_2_OVER_PI_F = _f(_SQRT_2_OVER_PI)
_GELU_C_F = _f(_GELU_C)
_GELU_3C_F = _f(3 * _GELU_C)


@kernel(parallel=True, contract=True, streaming=True)
def elu_f32_kernel(backward, x, y, has_y, g, p1, p2, out):
    """float32 elu_kernel."""
    zero = _f(0.0)
    for i in prange(x.size):
        v = x[i]
        if backward:
            out[i] = g[i] if v > zero else g[i] * (p1 * fexpf(min(v, zero)))
        else:
            out[i] = v if v > zero else p1 * fexpm1f(min(v, zero))


@kernel(parallel=True, contract=True, streaming=True)
def gelu_f32_kernel(backward, x, y, has_y, g, p1, p2, out):
    """float32 gelu_kernel."""
    for i in prange(x.size):
        v = x[i]
        cdf = _f(0.5) * ferfcf(-v * _INV_SQRT_2_F)
        if backward:
            out[i] = g[i] * (cdf + v * (fexpf(_f(-0.5) * v * v) * _INV_SQRT_2PI_F))
        else:
            out[i] = v * cdf


@kernel(parallel=True, contract=True, streaming=True)
def gelu_tanh_f32_kernel(backward, x, y, has_y, g, p1, p2, out):
    """float32 gelu_tanh_kernel."""
    one = _f(1.0)
    half = _f(0.5)
    for i in prange(x.size):
        v = x[i]
        v2 = v * v
        t = ftanhf(_SQRT_2_OVER_PI_F * (v + _GELU_C_F * v2 * v))
        if backward:
            du = _SQRT_2_OVER_PI_F * (one + _GELU_3C_F * v2)
            out[i] = g[i] * (half * (one + t) + half * v * (one - t * t) * du)
        else:
            out[i] = half * v * (one + t)


@kernel(parallel=True, contract=True, streaming=True)
def sigmoid_f32_kernel(backward, x, y, has_y, g, p1, p2, out):
    """float32 sigmoid_kernel."""
    for i in prange(x.size):
        if backward:
            s = y[i] if has_y else fsigmoidf(x[i])
            out[i] = g[i] * (s * (_f(1.0) - s))
        else:
            out[i] = fsigmoidf(x[i])


@kernel(parallel=True, contract=True, streaming=True)
def tanh_f32_kernel(backward, x, y, has_y, g, p1, p2, out):
    """float32 tanh_kernel."""
    for i in prange(x.size):
        if backward:
            t = y[i] if has_y else ftanhf(x[i])
            out[i] = g[i] * (_f(1.0) - t * t)
        else:
            out[i] = ftanhf(x[i])


@kernel(parallel=True, contract=True, streaming=True)
def softplus_f32_kernel(backward, x, y, has_y, g, p1, p2, out):
    """float32 softplus_kernel."""
    for i in prange(x.size):
        v = x[i]
        t = v * p1
        if backward:
            out[i] = g[i] if t > p2 else g[i] * fsigmoidf(t)
        else:
            out[i] = v if t > p2 else fsoftplusf(t) / p1


@kernel(parallel=True, contract=True, streaming=True)
def silu_f32_kernel(backward, x, y, has_y, g, p1, p2, out):
    """float32 silu_kernel."""
    one = _f(1.0)
    for i in prange(x.size):
        v = x[i]
        s = fsigmoidf(v)
        if backward:
            out[i] = g[i] * (s * (one + v * (one - s)))
        else:
            out[i] = v * s


def _numba_kernel(key, dtype):
    """The kernel for activation ``key`` on ``dtype`` arrays, and its scalar type for p1/p2."""
    if dtype == numpy.float32 and key + "_f32_kernel" in globals():
        return globals()[key + "_f32_kernel"], numpy.float32
    return globals()[key + "_kernel"], float


# ----------------------------------------------------------------------------- CuPy kernels

_CUPY_SIG = """
__device__ double tg_sigmoid(double t) { double e = exp(-fabs(t)); double r = 1.0 / (1.0 + e); return t >= 0 ? r : e * r; }
"""
_CUPY_FWD = {
    "relu": "y = v <= 0 ? 0.0 : v;",
    "leaky_relu": "y = v > 0 ? v : v * p1;",
    "elu": "y = v > 0 ? v : p1 * expm1(v);",
    "gelu": f"y = v * 0.5 * erfc(-v * {_INV_SQRT_2!r});",
    "gelu_tanh": f"y = 0.5 * v * (1.0 + tanh({_SQRT_2_OVER_PI!r} * (v + {_GELU_C!r} * v * v * v)));",
    "sigmoid": "y = tg_sigmoid(v);",
    "tanh": "y = tanh(v);",
    "softplus": "double t = v * p1; y = t > p2 ? v : (fmax(t, 0.0) + log1p(exp(-fabs(t)))) / p1;",
    "silu": "y = v * tg_sigmoid(v);",
}
_CUPY_BWD = {
    "relu": "dx = v > 0 ? gg : 0.0;",
    "leaky_relu": "dx = v > 0 ? gg : gg * p1;",
    "elu": "dx = v > 0 ? gg : gg * p1 * exp(v);",
    "gelu": (f"dx = gg * (0.5 * erfc(-v * {_INV_SQRT_2!r}) "
             f"+ v * exp(-0.5 * v * v) * {_INV_SQRT_2PI!r});"),
    "gelu_tanh": (f"double t = tanh({_SQRT_2_OVER_PI!r} * (v + {_GELU_C!r} * v * v * v)); "
                  f"double du = {_SQRT_2_OVER_PI!r} * (1.0 + 3.0 * {_GELU_C!r} * v * v); "
                  "dx = gg * (0.5 * (1.0 + t) + 0.5 * v * (1.0 - t * t) * du);"),
    "sigmoid": "double s = has_y ? (double)yy : tg_sigmoid(v); dx = gg * s * (1.0 - s);",
    "tanh": "double t = has_y ? (double)yy : tanh(v); dx = gg * (1.0 - t * t);",
    "softplus": "double t = v * p1; dx = t > p2 ? gg : gg * tg_sigmoid(t);",
    "silu": "double s = tg_sigmoid(v); dx = gg * s * (1.0 + v * (1.0 - s));",
}


def _cupy_forward(xp, key):
    return cupy_kernel(("act_fwd", key), lambda: xp.ElementwiseKernel(
        "T x, float64 p1, float64 p2", "T y_out",
        "double v = x; double y; " + _CUPY_FWD[key] + " y_out = (T)y;",
        f"tinygen_act_fwd_{key}", preamble=_CUPY_SIG))


def _cupy_backward(xp, key):
    return cupy_kernel(("act_bwd", key), lambda: xp.ElementwiseKernel(
        "T x, T yy, bool has_y, T g, float64 p1, float64 p2", "T dx_out",
        "double v = x; double gg = g; double dx; " + _CUPY_BWD[key] + " dx_out = (T)dx;",
        f"tinygen_act_bwd_{key}", preamble=_CUPY_SIG))


# ----------------------------------------------------------------------------- dispatchers

def act_forward(name, x, **params):
    """``y = f(x)`` for the activation ``name`` (relu, leaky_relu, elu, gelu, gelu_tanh, sigmoid,
    tanh, softplus, silu); parameters as in PyTorch: ``negative_slope``, ``alpha``,
    ``approximate``, ``beta``, ``threshold``. Returns a new array of x's shape and dtype."""
    key, p1, p2 = _resolve(name, params)
    impl, xp = select_impl(x)
    if impl == "reference":
        return act_forward_ref(name, x, xp=xp, **params)
    x = xp.ascontiguousarray(x)
    if impl == "cupy":
        return _cupy_forward(xp, key)(x, p1, p2)
    y = xp.empty_like(x)
    xf, yf = x.reshape(-1), y.reshape(-1)
    k, t = _numba_kernel(key, x.dtype)
    a, b = t(p1), t(p2)

    if xf.size < _parallel.SPLIT_MIN:
        k(False, xf, xf, False, xf, a, b, yf)
        return y

    def part(lo, hi):           # element-wise: large arrays are split over tinygen's threads
        k(False, xf[lo:hi], xf[lo:hi], False, xf[lo:hi], a, b, yf[lo:hi])
    map_range(part, xf.size)
    return y


def act_backward(name, x, y, g, **params):
    """``dx = g · f'(x)`` for the activation ``name`` (``y = f(x)`` may be None)."""
    key, p1, p2 = _resolve(name, params)
    check_same_shape(f"act_backward({key})", "x", x, y=y, g=g)
    impl, xp = select_impl(x, y, g)
    if impl == "reference":
        return act_backward_ref(name, x, y, g, xp=xp, **params)
    x = xp.ascontiguousarray(x)
    g = xp.ascontiguousarray(g, dtype=x.dtype)
    has_y = y is not None
    y = xp.ascontiguousarray(y, dtype=x.dtype) if has_y else x
    if impl == "cupy":
        return _cupy_backward(xp, key)(x, y, has_y, g, p1, p2)
    dx = xp.empty_like(x)
    k, t = _numba_kernel(key, x.dtype)
    xf, yf, gf, df = x.reshape(-1), y.reshape(-1), g.reshape(-1), dx.reshape(-1)
    a, b = t(p1), t(p2)

    if xf.size < _parallel.SPLIT_MIN:
        k(True, xf, yf, has_y, gf, a, b, df)
        return dx

    def part(lo, hi):
        k(True, xf[lo:hi], yf[lo:hi], has_y, gf[lo:hi], a, b, df[lo:hi])
    map_range(part, xf.size)
    return dx
