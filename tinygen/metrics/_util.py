"""Small helpers shared by the metric modules: array conversion and chunked nearest neighbours."""

import numpy as np


def as_numpy(x, name="array"):
    """Return ``x`` as a host float64 NumPy array.

    Accepts NumPy arrays, lists, tinygen Tensors (anything with ``.numpy()``) and CuPy arrays
    (anything with ``.get()``), so metric code never needs to know where the data came from.
    """
    if not isinstance(x, np.ndarray):
        if hasattr(x, "numpy") and callable(x.numpy):
            x = x.numpy()
        elif hasattr(x, "get") and callable(x.get) and not isinstance(x, dict):
            x = x.get()
    try:
        return np.asarray(x, dtype=np.float64)
    except (TypeError, ValueError) as exc:
        raise TypeError(f"{name}: cannot convert {type(x).__name__} to a float array") from exc


def as_points(x, name, dim=None):
    """``x`` as a (N, D) float64 array; ValueError naming the shape if it is not one."""
    a = as_numpy(x, name)
    if a.ndim != 2:
        raise ValueError(f"{name} must be a 2-D array of shape (N, D), got shape {a.shape}")
    if dim is not None and a.shape[1] != dim:
        raise ValueError(f"{name} must have {dim} columns, got shape {a.shape}")
    return a


def nearest(points, refs, max_block_bytes=1 << 25):
    """Distance from each row of ``points`` to its nearest row of ``refs``, and that row's index.

    Works in blocks of rows so memory stays around ``max_block_bytes`` whatever the sizes
    (10,000 samples against a 50,000-point reference set is fine). Exact squared distances
    via ‖a‖² + ‖b‖² − 2a·b, clipped at zero against rounding.
    """
    n, m = len(points), len(refs)
    dist = np.empty(n, dtype=np.float64)
    idx = np.empty(n, dtype=np.int64)
    if n == 0:
        return dist, idx
    if m == 0:
        raise ValueError("reference set is empty")
    rr = np.einsum("ij,ij->i", refs, refs)
    rows = max(1, int(max_block_bytes // (8 * m)))
    for s in range(0, n, rows):
        p = points[s:s + rows]
        d2 = np.einsum("ij,ij->i", p, p)[:, None] + rr[None, :] - 2.0 * (p @ refs.T)
        j = np.argmin(d2, axis=1)
        idx[s:s + rows] = j
        dist[s:s + rows] = np.sqrt(np.maximum(d2[np.arange(len(p)), j], 0.0))
    return dist, idx
