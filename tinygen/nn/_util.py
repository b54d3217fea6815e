"""Small helpers shared by the layers."""
from __future__ import annotations

from .. import backend
from ..tensor import Tensor, as_dtype, float32
from .module import Parameter


def F():
    """``tinygen.functional``, imported on first use (layers are defined before it is needed)."""
    from .. import functional
    return functional


def empty_param(shape, dtype=None, device=None, requires_grad=True):
    """An uninitialised Parameter with the factory keywords ``dtype=`` and ``device=``."""
    dtype = as_dtype(dtype) or float32
    if dtype.kind != "f":
        raise TypeError(f"parameters must have a floating-point dtype, got {dtype}")
    device = backend.normalize_device(device)
    arr = backend.xp_for(device).empty(tuple(int(s) for s in shape), dtype=dtype)
    return Parameter(Tensor._make(arr, False, None), requires_grad=requires_grad)   # stays on `device`


def pair(v, name="argument"):
    """``3 -> (3, 3)``; ``(3, 2)`` stays; for kernel sizes, strides, paddings."""
    if isinstance(v, (tuple, list)):
        if len(v) != 2:
            raise ValueError(f"{name} must be an int or a pair of ints, got {v!r}")
        return (int(v[0]), int(v[1]))
    return (int(v), int(v))


def single(v):
    """``(3, 3) -> 3`` when both are equal (to call functionals that take one int), else the pair."""
    if isinstance(v, tuple) and len(v) == 2 and v[0] == v[1]:
        return v[0]
    return v
