"""Fused element-wise ufuncs for the small-array hot path of the autograd ops.

Numba's ``@vectorize`` with explicit signatures builds a genuine NumPy ufunc, so one call costs
what ``np.tanh`` costs (~0.25 µs on 16 floats), where ``g * (1 - y * y)`` is three ufunc calls and
two temporaries (~1 µs, the scalar ``1`` alone costing a conversion). On the tiny arrays of
``benchmarks/overhead.py`` that is most of an op's arithmetic; on large arrays the fused loop
also reads each input once.

    sigmoid(x)            σ(x), evaluated as 1/(1 + e⁻ˣ) for x ≥ 0 and eˣ/(1 + eˣ) below
    sigmoid_grad(g, y)    g · y · (1 − y)      (y = σ(x))
    tanh_grad(g, y)       g · (1 − y²)          (y = tanh x)

Each has a NumPy reference (``*_ref``) beside it: the tests' oracle, and what runs when the
fused kernels are off (``TINYGEN_KERNELS=numpy``), Numba is missing, or the arrays are not
host float32/float64 arrays of one dtype. The ufuncs compute in float64 and round once.
They are compiled on first use (``cache=True``: later processes load them from disk).
"""
from __future__ import annotations

import math
import threading

import numpy

from ._jit import _get_numba, _state as _switch, _switch_listeners, fused_enabled

_ndarray = numpy.ndarray
_FLOATS = (numpy.dtype(numpy.float32), numpy.dtype(numpy.float64))
_SIGNATURES = {1: ["float32(float32)", "float64(float64)"],
               2: ["float32(float32, float32)", "float64(float64, float64)"]}


# ----------------------------------------------------------------------------- references

def sigmoid_ref(x):
    """σ(x) = exp(−softplus(−x)), without overflow for any x (any array namespace)."""
    from ..backend import get_array_module
    xp = get_array_module(x)
    t = xp.empty(x.shape, dtype=x.dtype if x.dtype.kind == "f" else xp.float64)
    xp.negative(x, out=t)
    xp.logaddexp(0, t, out=t)
    xp.negative(t, out=t)
    xp.exp(t, out=t)
    return t


def sigmoid_grad_ref(g, y):
    return g * (y * (1 - y))


def tanh_grad_ref(g, y):
    return g * (1 - y * y)


# ----------------------------------------------------------------------------- scalar kernels

def _sigmoid_scalar(x):
    v = 1.0 * x
    if v >= 0.0:
        return 1.0 / (1.0 + math.exp(-v))
    e = math.exp(v)
    return e / (1.0 + e)


def _sigmoid_grad_scalar(g, y):
    v = 1.0 * y
    return g * (v * (1.0 - v))


def _tanh_grad_scalar(g, y):
    v = 1.0 * y
    return g * (1.0 - v * v)


_SCALARS = {"sigmoid": (_sigmoid_scalar, 1), "sigmoid_grad": (_sigmoid_grad_scalar, 2),
            "tanh_grad": (_tanh_grad_scalar, 2)}
_built: dict = {}
_lock = threading.Lock()


def ufunc(name):
    """The compiled ufunc ``name``, or None when Numba is unavailable (built once, thread-safe)."""
    u = _built.get(name)
    if u is None and name not in _built:
        with _lock:
            if name not in _built:
                nb = _get_numba()
                fn, nargs = _SCALARS[name]
                u = None if nb is None else nb.vectorize(_SIGNATURES[nargs], cache=True)(fn)
                # Numba wraps the NumPy ufunc in a DUFunc whose Python-level __call__ costs
                # ~0.5 µs more; with every signature given up front the bare ufunc is complete
                _built[name] = getattr(u, "ufunc", u)
            u = _built[name]
        _refresh_direct()
    return u


# ----------------------------------------------------------------------------- direct binding

_direct = []     # (object, attribute, ufunc name) bound by bind_direct


def bind_direct(obj, attr, name):
    """Keep ``obj.attr`` set to the bare ufunc ``name`` while it is built and the fused kernels are
    on, and to None otherwise (before the first use builds it, or after ``use_fused(False)``).

    For a caller that runs the ufunc on host arrays with no dispatcher in between: the engine calls
    ``Tanh.host_backward(g, y)`` this way (the dispatcher's checks cost ~0.2 µs a call, as much as
    the ufunc on 16 floats). The caller checks that its arrays are host arrays; a float16 pair
    then runs in float32 (the loops are float32 and float64), a float32/float64 pair in float64,
    as the formula on arrays would promote it."""
    _direct.append((obj, attr, name))
    _refresh_direct()


def _refresh_direct():
    on = _switch["fused"] is True
    for obj, attr, name in _direct:
        setattr(obj, attr, _built.get(name) if on else None)


_switch_listeners.append(_refresh_direct)


# ----------------------------------------------------------------------------- dispatchers

# Each dispatcher first tries its ufunc directly (built, fusing on, host float arrays of one
# dtype): these run once per op on the tiny arrays of the per-op benchmark, where the ufunc itself
# takes ~0.23 µs and a second Python call is a visible share (dispatch on 16 floats, min of five
# repeats: 0.45 → 0.40 µs). The general path builds the ufunc on first use and falls back to the
# reference.

def sigmoid(x):
    """σ(x) for an array (fused ufunc on host float arrays)."""
    u = _built.get("sigmoid")
    if u is not None and type(x) is _ndarray and x.dtype in _FLOATS and _switch["fused"]:
        return u(x)
    if type(x) is _ndarray and x.dtype in _FLOATS and fused_enabled():
        u = _built.get("sigmoid") or ufunc("sigmoid")
        if u is not None:
            return u(x)
    return sigmoid_ref(x)


def _fused_pair(name, ref, g, y):
    """ufunc ``name`` on host float arrays of one dtype, else ``ref(g, y)`` (any namespace, Tensors)."""
    if type(g) is _ndarray and type(y) is _ndarray and g.dtype is y.dtype and y.dtype in _FLOATS \
            and fused_enabled():
        u = _built.get(name) or ufunc(name)
        if u is not None:
            return u(g, y)
    return ref(g, y)


def _pair_dispatcher(name, ref, doc):
    """The dispatcher of the two-input ufunc ``name``: its fast path written out in one function
    (a helper call here would cost what the ufunc does), the rest in :func:`_fused_pair`.

    A third argument (the op's input) is accepted and ignored, so that an op can bind the
    dispatcher as its ``backward(g, y, x)``."""
    def dispatch(g, y, x=None):
        u = _built.get(name)
        if u is not None and type(g) is _ndarray and type(y) is _ndarray and g.dtype is y.dtype \
                and y.dtype in _FLOATS and _switch["fused"]:
            return u(g, y)
        return _fused_pair(name, ref, g, y)
    dispatch.__name__ = dispatch.__qualname__ = name
    dispatch.__doc__ = doc
    return dispatch


sigmoid_grad = _pair_dispatcher("sigmoid_grad", sigmoid_grad_ref, "g · y · (1 − y).")
tanh_grad = _pair_dispatcher("tanh_grad", tanh_grad_ref, "g · (1 − y²).")
