"""Factories: zeros, ones, full, empty, randn, rand, arange, and their ``_like`` forms.

All take ``dtype=`` (default float32), ``device=`` (default: ``tg.set_default_device`` /
``TINYGEN_DEVICE``, else "cpu") and ``requires_grad=``.
"""
from __future__ import annotations

from . import backend
from .random import normal_array, uniform_array, integers_array
from .tensor import Tensor, as_dtype, float32, int64


def _shape(shape):
    if len(shape) == 1 and isinstance(shape[0], (tuple, list)):
        shape = tuple(shape[0])
    return tuple(int(s) for s in shape)


def _finish(arr, requires_grad):
    t = Tensor._make(arr, False, None)
    if requires_grad:
        t.requires_grad_(True)
    return t


def _dev(device):
    return backend.normalize_device(device)


def zeros(*shape, dtype=None, device=None, requires_grad=False):
    device = _dev(device)
    return _finish(backend.xp_for(device).zeros(_shape(shape), dtype=as_dtype(dtype) or float32), requires_grad)


def ones(*shape, dtype=None, device=None, requires_grad=False):
    device = _dev(device)
    return _finish(backend.xp_for(device).ones(_shape(shape), dtype=as_dtype(dtype) or float32), requires_grad)


def empty(*shape, dtype=None, device=None, requires_grad=False):
    device = _dev(device)
    return _finish(backend.xp_for(device).empty(_shape(shape), dtype=as_dtype(dtype) or float32), requires_grad)


def full(shape, fill_value, dtype=None, device=None, requires_grad=False):
    device = _dev(device)
    shape = (shape,) if isinstance(shape, int) else tuple(shape)
    return _finish(backend.xp_for(device).full(shape, fill_value, dtype=as_dtype(dtype) or float32), requires_grad)


def randn(*shape, dtype=None, device=None, requires_grad=False):
    """Standard normal samples from tinygen's seeded generator."""
    device = _dev(device)
    return _finish(normal_array(_shape(shape), as_dtype(dtype) or float32, device), requires_grad)


def rand(*shape, dtype=None, device=None, requires_grad=False):
    """Uniform samples on [0, 1) from tinygen's seeded generator."""
    device = _dev(device)
    return _finish(uniform_array(_shape(shape), 0.0, 1.0, as_dtype(dtype) or float32, device), requires_grad)


def randint(low, high, shape, device=None):
    device = _dev(device)
    return _finish(integers_array(low, high, tuple(shape), device), False)


def arange(start, stop=None, step=1, dtype=None, device=None, requires_grad=False):
    """Like ``np.arange``; integers give int64 unless ``dtype`` says otherwise, floats float32."""
    if stop is None:
        start, stop = 0, start
    device = _dev(device)
    dt = as_dtype(dtype)
    if dt is None:
        dt = int64 if all(isinstance(v, int) for v in (start, stop, step)) else float32
    return _finish(backend.xp_for(device).arange(start, stop, step, dtype=dt), requires_grad)


def linspace(start, stop, num, dtype=None, device=None):
    device = _dev(device)
    return _finish(backend.xp_for(device).linspace(start, stop, num, dtype=as_dtype(dtype) or float32), False)


def eye(n, m=None, dtype=None, device=None):
    device = _dev(device)
    return _finish(backend.xp_for(device).eye(n, m, dtype=as_dtype(dtype) or float32), False)


def _like(t, dtype, device):
    t = t if isinstance(t, Tensor) else Tensor(t)
    return t.shape, (as_dtype(dtype) or t.dtype), (device or t.device)


def zeros_like(t, dtype=None, device=None, requires_grad=False):
    shape, dt, dev = _like(t, dtype, device)
    return zeros(shape, dtype=dt, device=dev, requires_grad=requires_grad)


def ones_like(t, dtype=None, device=None, requires_grad=False):
    shape, dt, dev = _like(t, dtype, device)
    return ones(shape, dtype=dt, device=dev, requires_grad=requires_grad)


def full_like(t, fill_value, dtype=None, device=None, requires_grad=False):
    shape, dt, dev = _like(t, dtype, device)
    return full(shape, fill_value, dtype=dt, device=dev, requires_grad=requires_grad)


def randn_like(t, dtype=None, device=None, requires_grad=False):
    shape, dt, dev = _like(t, dtype, device)
    return randn(shape, dtype=dt, device=dev, requires_grad=requires_grad)


def rand_like(t, dtype=None, device=None, requires_grad=False):
    shape, dt, dev = _like(t, dtype, device)
    return rand(shape, dtype=dt, device=dev, requires_grad=requires_grad)


def tensor(data, requires_grad=False, dtype=None, device=None):
    """Same as ``Tensor(...)`` (PyTorch's spelling)."""
    return Tensor(data, requires_grad=requires_grad, dtype=dtype, device=device)
