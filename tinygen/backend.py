"""Devices and array namespaces.

tinygen never calls ``numpy`` directly on data that may live on a device. It asks the
array which namespace it belongs to, in the spirit of Chainer's ``get_array_module``::

    xp = get_array_module(x)      # numpy for host arrays, cupy for device arrays
    y = xp.exp(x)

Two devices exist: ``"cpu"`` (NumPy) and ``"cuda"`` (CuPy). CuPy is optional. For tests
without a GPU, ``TINYGEN_FAKE_CUDA=1`` makes ``"cuda"`` a stand-in device backed by
:mod:`tinygen.testing.fake_cuda`: its arrays refuse implicit conversion to NumPy exactly as
CuPy's do, so any code path that silently pulls device data to the host fails loudly.
"""
from __future__ import annotations

import os

import numpy

CPU = "cpu"
CUDA = "cuda"

_cuda_module = None       # the namespace backing "cuda" once resolved (cupy or the fake)
_cuda_error = None        # why "cuda" is unavailable, once known
_default_device = None


def _resolve_cuda():
    """Find the namespace that backs the "cuda" device, or remember why there is none."""
    global _cuda_module, _cuda_error
    if _cuda_module is not None or _cuda_error is not None:
        return _cuda_module
    if os.environ.get("TINYGEN_FAKE_CUDA", "") not in ("", "0"):
        from .testing import fake_cuda
        _cuda_module = fake_cuda
        return _cuda_module
    try:
        import cupy
    except Exception as exc:  # ImportError, or a broken CUDA install
        _cuda_error = (f"CuPy is not installed or failed to import ({type(exc).__name__}: {exc}); "
                       "install it with `pip install tinygen[gpu]` (or a cupy-cudaXXx wheel matching your CUDA)")
        return None
    try:
        if cupy.cuda.runtime.getDeviceCount() < 1:
            raise RuntimeError("no CUDA device found")
    except Exception as exc:
        _cuda_error = f"CuPy is installed but no usable GPU was found ({exc})"
        return None
    _cuda_module = cupy
    return _cuda_module


def cuda_available() -> bool:
    """True when the "cuda" device can be used (real CuPy with a GPU, or the test stand-in)."""
    return _resolve_cuda() is not None


def cuda_unavailable_reason() -> str | None:
    _resolve_cuda()
    return _cuda_error


def is_fake_cuda() -> bool:
    mod = _resolve_cuda()
    return mod is not None and getattr(mod, "IS_FAKE_CUDA", False)


def normalize_device(device) -> str:
    """Map user spellings ("cpu", "cuda", "cuda:0", "gpu", None) to "cpu" or "cuda"."""
    if device is None:
        return get_default_device()
    name = str(device).lower()
    if name == CPU:
        return CPU
    if name in (CUDA, "gpu") or name.startswith("cuda:"):
        if _resolve_cuda() is None:
            raise RuntimeError(f"device 'cuda' was requested but is not available: {_cuda_error}")
        return CUDA
    raise ValueError(f"unknown device {device!r}: use 'cpu' or 'cuda'")


def get_default_device() -> str:
    global _default_device
    if _default_device is None:
        env = os.environ.get("TINYGEN_DEVICE", "").strip()
        _default_device = CPU
        if env:
            _default_device = normalize_device(env)
    return _default_device


def set_default_device(device) -> None:
    """Make new tensors, parameters and modules live on ``device`` unless told otherwise."""
    global _default_device
    _default_device = normalize_device(device)


def xp_for(device: str):
    """The array namespace of a device name."""
    if device == CPU:
        return numpy
    mod = _resolve_cuda()
    if mod is None:
        raise RuntimeError(f"device 'cuda' is not available: {_cuda_error}")
    return mod


def get_array_module(*arrays):
    """numpy for host arrays (and Python scalars), the device namespace for device arrays."""
    for a in arrays:
        if type(a) is numpy.ndarray or a is None or isinstance(a, (int, float, bool, numpy.generic)):
            continue
        if _cuda_module is not None and isinstance(a, _cuda_module.ndarray):
            return _cuda_module
        data = getattr(a, "data", None)  # a Tensor
        if data is not None and not isinstance(a, numpy.ndarray) and hasattr(data, "shape"):
            if _cuda_module is not None and isinstance(data, _cuda_module.ndarray):
                return _cuda_module
    return numpy


def device_of(array) -> str:
    """"cpu" for NumPy arrays, "cuda" for device arrays."""
    if type(array) is numpy.ndarray or isinstance(array, (numpy.ndarray, numpy.generic)):
        return CPU
    if _cuda_module is not None and isinstance(array, _cuda_module.ndarray):
        return CUDA
    return CPU


def to_device(array, device: str):
    """Move an array to ``device`` ("cpu" or "cuda"), copying only when it must."""
    src = device_of(array)
    if src == device:
        return array
    if device == CPU:
        return array.get()           # cupy.ndarray.get() -> numpy
    return xp_for(CUDA).asarray(array)


def to_numpy(array):
    """A host NumPy array, explicitly transferring from the device when needed."""
    if isinstance(array, numpy.ndarray):
        return array
    if _cuda_module is not None and isinstance(array, _cuda_module.ndarray):
        return array.get()
    return numpy.asarray(array)
