"""tinygen: generative models from first principles.

A reverse-mode autograd engine on NumPy (CPU) and CuPy (GPU) with Numba-fused kernels, layers,
losses, optimizers, and the classic generative models written out so every gradient can be
followed. ``import tinygen as tg``.
"""
from __future__ import annotations

__version__ = "0.1.0"

from . import memory as _memory

_memory.tune_allocator()       # keep freed host memory for the next step (see tinygen.memory)

from .tensor import Tensor, float16, float32, float64, int32, int64, uint8, bool_  # noqa: F401
from .autograd.grad_mode import (no_grad, enable_grad, set_grad_enabled, is_grad_enabled,  # noqa: F401
                                 detect_anomaly, AnomalyError)
from .autograd.engine import grad  # noqa: F401
from .autograd.gradcheck import gradcheck, gradgradcheck, GradcheckError  # noqa: F401
from .creation import (tensor, zeros, ones, full, empty, randn, rand, randint, arange, linspace, eye,  # noqa: F401
                       zeros_like, ones_like, full_like, randn_like, rand_like)
from .functions import (as_tensor, exp, log, sqrt, sin, cos, tanh, sigmoid, relu, abs, square, clip,  # noqa: F401
                        clamp, sum, mean, var, std, max, min, reshape, transpose, permute, flatten, squeeze,
                        unsqueeze, matmul, where, maximum, minimum, cat, concatenate, stack, einsum)
from .random import manual_seed  # noqa: F401
from .backend import set_default_device, get_default_device, cuda_available  # noqa: F401
from .parallel import set_num_threads, get_num_threads  # noqa: F401
from . import viz  # noqa: F401


def __getattr__(name):
    # Heavier subpackages load on first use, so `import tinygen` stays fast.
    import importlib
    if name in ("nn", "optim", "functional", "losses", "data", "models", "metrics", "kernels", "train", "io"):
        return importlib.import_module(f".{name}", __name__)
    if name in ("save", "load"):
        return getattr(importlib.import_module(".io", __name__), name)
    raise AttributeError(f"module 'tinygen' has no attribute {name!r}")
