"""Grad mode (``no_grad``/``enable_grad``, thread-local) and anomaly detection.

Recording is on by default. Inside ``no_grad()`` ops run on arrays and record nothing, which is
what evaluation, sampling and optimizer steps want. The flag is per thread, as in PyTorch.

``detect_anomaly()`` checks every op's output in forward and every gradient in backward for
NaN/Inf, and raises at the first one, naming the op and (for backward) the line of user code
that ran its forward.
"""
from __future__ import annotations

import functools
import threading
import traceback


class _State(threading.local):
    """Per-thread flags. ``mode`` sums them up for the per-op fast paths, which read one
    thread-local attribute rather than two (~30 ns each): 0 no recording, 1 recording,
    2 anomaly detection on (the general path checks everything)."""
    enabled = True
    anomaly = False
    mode = 1

    def __setattr__(self, name, value):
        super().__setattr__(name, value)
        if name != "mode":
            super().__setattr__("mode", 2 if self.anomaly else int(bool(self.enabled)))


state = _State()


def is_grad_enabled() -> bool:
    return state.enabled


class _GradModeContext:
    """Base for no_grad/enable_grad: a context manager that also decorates functions."""
    _value = True

    def __enter__(self):
        self._prev = state.enabled
        state.enabled = self._value
        return self

    def __exit__(self, *exc):
        state.enabled = self._prev
        return False

    def __call__(self, fn):
        @functools.wraps(fn)
        def wrapper(*args, **kwargs):
            with type(self)():
                return fn(*args, **kwargs)
        return wrapper


class no_grad(_GradModeContext):
    """Context manager and decorator: ops inside record no graph."""
    _value = False


class enable_grad(_GradModeContext):
    """Context manager and decorator: turn recording back on inside a ``no_grad`` block."""
    _value = True


class set_grad_enabled(_GradModeContext):
    def __init__(self, mode: bool):
        self._value = bool(mode)

    def __call__(self, fn):
        mode = self._value

        @functools.wraps(fn)
        def wrapper(*args, **kwargs):
            with set_grad_enabled(mode):
                return fn(*args, **kwargs)
        return wrapper


# ---------------------------------------------------------------- anomaly detection
class AnomalyError(FloatingPointError):
    """A NaN or Inf appeared in forward or backward under ``detect_anomaly()``."""


def anomaly_enabled() -> bool:
    return state.anomaly


class detect_anomaly:
    """Raise at the first NaN/Inf produced in forward or backward, naming the op.

    Slow (it checks every array and records a stack for every op): use it to find a bug.
    """

    def __init__(self, check_nan: bool = True):
        self.check_nan = check_nan

    def __enter__(self):
        self._prev = state.anomaly
        state.anomaly = self.check_nan
        return self

    def __exit__(self, *exc):
        state.anomaly = self._prev
        return False


def _user_site() -> str:
    """The innermost stack frame outside tinygen's own autograd/ops code."""
    frames = traceback.extract_stack()[:-1]
    for fr in reversed(frames):
        f = fr.filename.replace("\\", "/")
        if "/tinygen/autograd/" in f or f.endswith("/tinygen/tensor.py") or "/tinygen/functional" in f:
            continue
        return f'File "{fr.filename}", line {fr.lineno}, in {fr.name}\n    {fr.line}'
    return "<unknown>"


def _bad(a) -> bool:
    if a is None or not hasattr(a, "dtype") or a.dtype.kind not in "fc":
        return False
    xp = _xp(a)
    return not bool(xp.isfinite(a).all())


def _xp(a):
    from ..backend import get_array_module
    return get_array_module(a)


def check_forward(fn, out):
    fn.site = _user_site()
    if _bad(out):
        raise AnomalyError(f"detect_anomaly: {fn.name} produced NaN/Inf in its forward output "
                           f"(shape {tuple(out.shape)}), called at:\n{fn.site}")


def check_backward(fn, grads):
    for i, g in enumerate(grads):
        data = getattr(g, "data", g) if not hasattr(g, "dtype") or hasattr(g, "grad_fn") else g
        if _bad(data):
            site = getattr(fn, "site", None) or "<forward site not recorded: enable detect_anomaly before the forward>"
            raise AnomalyError(f"detect_anomaly: {fn.name}'s backward produced NaN/Inf in the gradient of "
                               f"input {i}; its forward was called at:\n{site}")
