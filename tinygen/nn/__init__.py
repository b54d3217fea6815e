"""Neural-network building blocks: Module, Parameter, containers, layers, init.

``import tinygen as tg``; ``tg.nn.Linear(2, 3)``, ``tg.nn.Sequential(...)``, ``tg.nn.init``,
``tg.nn.functional`` (the same module as ``tinygen.functional``).
"""
from __future__ import annotations

from .module import Parameter, Module, Sequential, ModuleList, ModuleDict  # noqa: F401
from .linear import Identity, Linear  # noqa: F401
from .conv import Conv2d, ConvTranspose2d  # noqa: F401
from .norm import BatchNorm1d, BatchNorm2d, LayerNorm  # noqa: F401
from .activation import (ReLU, LeakyReLU, ELU, GELU, Sigmoid, Tanh, Softplus, SiLU,  # noqa: F401
                         Softmax, LogSoftmax)
from .misc import Embedding, Dropout, Flatten, Unflatten, MaxPool2d, AvgPool2d, Upsample  # noqa: F401
from . import init, utils  # noqa: F401

__all__ = ["Parameter", "Module", "Sequential", "ModuleList", "ModuleDict", "Identity", "Linear", "Conv2d",
           "ConvTranspose2d", "BatchNorm1d", "BatchNorm2d", "LayerNorm", "ReLU", "LeakyReLU", "ELU", "GELU",
           "Sigmoid", "Tanh", "Softplus", "SiLU", "Softmax", "LogSoftmax", "Embedding", "Dropout", "Flatten",
           "Unflatten", "MaxPool2d", "AvgPool2d", "Upsample", "init", "utils", "functional"]


def __getattr__(name):
    if name == "functional":        # tinygen.nn.functional is tinygen.functional
        import importlib
        mod = importlib.import_module("tinygen.functional")
        globals()["functional"] = mod
        return mod
    raise AttributeError(f"module 'tinygen.nn' has no attribute {name!r}")
