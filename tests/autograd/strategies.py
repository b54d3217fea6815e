"""Hypothesis strategies for autograd tests: float64 tensors of drawn shapes, optionally
non-contiguous (a transposed view), with values kept away from an op's singular points."""
import numpy as np
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

import tinygen as tg

small_shapes = hnp.array_shapes(min_dims=0, max_dims=3, min_side=0, max_side=4)
nonempty_shapes = hnp.array_shapes(min_dims=1, max_dims=3, min_side=1, max_side=4)


@st.composite
def arrays(draw, shape, low=-2.0, high=2.0, away_from=None):
    arr = draw(hnp.arrays(np.float64, shape, elements=st.floats(low, high, allow_nan=False, width=64)))
    if away_from is not None:   # keep |x - p| >= 0.1 so finite differences don't straddle a kink
        for p in away_from:
            close = np.abs(arr - p) < 0.1
            arr = np.where(close, p + 0.1 * np.sign(arr - p + 1e-12), arr)
    return arr


@st.composite
def tensors(draw, shape=None, low=-2.0, high=2.0, away_from=None, noncontig=None):
    """A float64 leaf requiring grad; sometimes a non-contiguous (transposed) view."""
    if shape is None:
        shape = draw(small_shapes)
    elif isinstance(shape, st.SearchStrategy):
        shape = draw(shape)
    make_view = draw(st.booleans()) if noncontig is None else noncontig
    if make_view and len(shape) >= 2:
        base = draw(arrays(shape[::-1], low, high, away_from))
        arr = base.T                     # a non-contiguous view with the requested shape
    else:
        arr = draw(arrays(shape, low, high, away_from))
    return tg.Tensor(arr, requires_grad=True)


def ties_free(arr, gap=1e-3):
    """True if any two entries differ by more than ``gap`` (so the arg-max is unique, and stays so
    under the finite-difference perturbation)."""
    flat = np.sort(arr.ravel())
    return flat.size < 2 or np.min(np.diff(flat)) > gap
