"""2-D toy distributions, the standard testbeds for mode collapse and density fitting.

- ``ring8``: 8 equally weighted Gaussians, sigma 0.02, centres evenly spaced on a circle of radius 2.
- ``grid25``: 25 equally weighted Gaussians, sigma 0.05, centres at {-4, -2, 0, 2, 4}^2.
- ``moons``: scikit-learn's ``make_moons`` with noise 0.05, in its own coordinates.
- ``swissroll``: scikit-learn's ``make_swiss_roll`` with noise 0.5, columns x and z divided by 5.

``toy_modes`` gives the mixture centres and sigma of the first two for mode-coverage metrics.
"""

from __future__ import annotations

import numbers
from typing import Optional, Tuple

import numpy as np

from ._random import check_seed

TOY_DATASETS = ["ring8", "grid25", "moons", "swissroll"]

RING8_RADIUS = 2.0
RING8_SIGMA = 0.02
GRID25_SIGMA = 0.05
MOONS_NOISE = 0.05
SWISSROLL_NOISE = 0.5
SWISSROLL_SCALE = 5.0


def _check_name(name) -> str:
    if name not in TOY_DATASETS:
        raise ValueError(f"unknown toy data set {name!r}; valid names are {', '.join(TOY_DATASETS)}")
    return name


def toy_modes(name: str) -> Optional[Tuple[np.ndarray, float]]:
    """Return ``(centers, sigma)`` of a Gaussian-mixture toy, or None for moons/swissroll.

    ``centers`` is a float64 array of shape (8, 2) for ring8 or (25, 2) for grid25.
    """
    _check_name(name)
    if name == "ring8":
        angles = 2.0 * np.pi * np.arange(8) / 8
        centers = RING8_RADIUS * np.stack([np.cos(angles), np.sin(angles)], axis=1)
        return centers, RING8_SIGMA
    if name == "grid25":
        axis = np.array([-4.0, -2.0, 0.0, 2.0, 4.0])
        gx, gy = np.meshgrid(axis, axis, indexing="ij")
        return np.stack([gx.ravel(), gy.ravel()], axis=1), GRID25_SIGMA
    return None


def toy_2d(name: str, n: int = 1000, seed: int = 0) -> np.ndarray:
    """Draw ``n`` points from toy distribution ``name`` as float32 of shape (n, 2).

    The same (name, n, seed) always gives the same points; no global random state is used.
    Raises ValueError for an unknown name (listing the valid ones) or n < 1.
    """
    _check_name(name)
    if isinstance(n, bool) or not isinstance(n, numbers.Integral) or n < 1:
        raise ValueError(f"n must be a positive int (number of points), got {n!r}")
    n = int(n)
    seed = check_seed(seed)
    modes = toy_modes(name)
    if modes is not None:
        centers, sigma = modes
        rng = np.random.default_rng(seed)
        which = rng.integers(0, len(centers), size=n)
        points = centers[which] + sigma * rng.standard_normal((n, 2))
    elif name == "moons":
        from sklearn.datasets import make_moons
        points, _ = make_moons(n_samples=n, noise=MOONS_NOISE, random_state=seed)
    else:  # swissroll
        from sklearn.datasets import make_swiss_roll
        xyz, _ = make_swiss_roll(n_samples=n, noise=SWISSROLL_NOISE, random_state=seed)
        points = xyz[:, [0, 2]] / SWISSROLL_SCALE
    return np.ascontiguousarray(points, dtype=np.float32)
