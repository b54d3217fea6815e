"""Shared helpers for the tests of tinygen.functional."""
from __future__ import annotations

import numpy as np
from hypothesis import strategies as st

import tinygen as tg
from tinygen import backend


def t64(a, requires_grad=True):
    """A float64 leaf Tensor (a copy of ``a``)."""
    return tg.Tensor(np.array(a, dtype=np.float64), requires_grad=requires_grad)


def rng(seed=0):
    return np.random.default_rng(seed)


def leaves_unmodified(fn, *arrays):
    """Call ``fn`` on Tensors of copies of ``arrays`` (forward and backward) and check the inputs did not change."""
    tensors = [t64(a) for a in arrays]
    before = [t.data.copy() for t in tensors]
    out = fn(*tensors)
    out.sum().backward()
    for b, t in zip(before, tensors):
        np.testing.assert_array_equal(backend.to_numpy(b), t.numpy())
    return out


def dev(a):
    """``a`` as an array on the default device (tests run on "cuda" under TINYGEN_TEST_DEVICE)."""
    return backend.to_device(np.asarray(a), tg.get_default_device())


def host(a):
    return backend.to_numpy(a)


small_dim = st.integers(1, 4)
seeds = st.integers(0, 2**31 - 1)
