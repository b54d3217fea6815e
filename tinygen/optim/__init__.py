"""Optimizers with PyTorch's names, arguments, update rules and state-dict layout.

``tg.optim.SGD``, ``Adam``, ``AdamW``, ``RMSprop`` (fused kernels over flat parameter buffers), and
``tg.optim.lr_scheduler`` (``StepLR``, ``MultiStepLR``, ``ExponentialLR``, ``CosineAnnealingLR``,
``LambdaLR``).
"""
from __future__ import annotations

from .optimizer import Optimizer  # noqa: F401
from .algorithms import SGD, Adam, AdamW, RMSprop  # noqa: F401
from . import lr_scheduler  # noqa: F401

__all__ = ["Optimizer", "SGD", "Adam", "AdamW", "RMSprop", "lr_scheduler"]
