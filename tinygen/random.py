"""Random numbers: one seeded generator per device, so ``tg.manual_seed(s)`` makes a run reproducible.

All of tinygen's randomness (initialisation, dropout, sampling, noise, shuffling defaults) draws
from :func:`generator`; nothing touches NumPy's global state.
"""
from __future__ import annotations

import numpy as np

from . import backend

_generators = {}
_seed = None


def manual_seed(seed: int):
    """Seed tinygen's generators on every device; returns the seed."""
    global _seed
    _seed = int(seed)
    _generators.clear()
    return _seed


def _new_generator(device):
    seed = _seed
    if device == "cpu":
        return np.random.default_rng(seed)
    xp = backend.xp_for(device)
    return xp.random.default_rng(seed) if hasattr(xp.random, "default_rng") else xp.random.RandomState(seed)


def generator(device: str = "cpu"):
    """The generator of ``device`` (NumPy's ``Generator`` on the CPU, CuPy's on the GPU)."""
    g = _generators.get(device)
    if g is None:
        g = _generators[device] = _new_generator(device)
    return g


class fork_rng:
    """Context manager: draw from freshly seeded generators inside, and restore the previous
    generators (and seed) on exit, so e.g. evaluation never shifts training's random stream.
    Like ``torch.random.fork_rng``."""

    def __init__(self, seed=None):
        self.seed = seed

    def __enter__(self):
        global _seed
        self._saved = (dict(_generators), _seed)
        _generators.clear()
        _seed = None if self.seed is None else int(self.seed)
        return self

    def __exit__(self, *exc):
        global _seed
        _generators.clear()
        _generators.update(self._saved[0])
        _seed = self._saved[1]
        return False


def get_rng_state():
    """The CPU generator's state as plain data (for checkpoints: a resumed run draws the same numbers)."""
    g = generator("cpu")
    st = g.bit_generator.state
    return {"bit_generator": st["bit_generator"], "state": {k: int(v) for k, v in st["state"].items()},
            "has_uint32": int(st["has_uint32"]), "uinteger": int(st["uinteger"])}


def set_rng_state(state):
    g = generator("cpu")
    g.bit_generator.state = {"bit_generator": state["bit_generator"], "state": dict(state["state"]),
                             "has_uint32": int(state["has_uint32"]), "uinteger": int(state["uinteger"])}


def normal_array(shape, dtype=np.float32, device="cpu"):
    g = generator(device)
    out = g.standard_normal(shape) if hasattr(g, "standard_normal") else g.randn(*shape)
    return out.astype(dtype, copy=False)


def uniform_array(shape, low=0.0, high=1.0, dtype=np.float32, device="cpu"):
    """Uniform samples on [low, high); uses ``Generator.random``, which NumPy and CuPy both have."""
    g = generator(device)
    out = g.random(shape) if hasattr(g, "random") else g.rand(*shape)
    out = out.astype(dtype, copy=False)
    if low != 0.0 or high != 1.0:
        out = out * (high - low) + low
    return out


def integers_array(low, high, shape, device="cpu"):
    g = generator(device)
    if hasattr(g, "integers"):
        return g.integers(low, high, size=shape, dtype=np.int64)
    return g.randint(low, high, size=shape).astype(np.int64)
