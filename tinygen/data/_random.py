"""Seeded permutations and splits that stay the same across NumPy releases.

NumPy promises a stable stream only for its bit generators (PCG64 and friends), not for
``Generator`` methods such as ``permutation``: those may change between releases (NEP 19).
A train/test split or a data order that silently changes after an upgrade would make old
results irreproducible and resumed runs see different batches, so everything here is built on
the raw PCG64 output: a permutation is the stable argsort of ``n`` raw 64-bit draws.

Seeds are mixed with a *stream* number through ``SeedSequence`` (also stable), so the test
split, the validation split and epoch ``e`` of a loader each get independent randomness from
one user seed. No global random state is read or written.
"""

from __future__ import annotations

import numbers

import numpy as np

# Stream numbers: one per use, so that one user seed gives independent draws for each.
STREAM_TEST_SPLIT = 1
STREAM_VALIDATION_SPLIT = 2
STREAM_LOADER = 3


def check_seed(seed, what: str = "seed") -> int:
    """Return ``seed`` as a Python int, or raise if it is not a non-negative integer."""
    if isinstance(seed, bool) or not isinstance(seed, numbers.Integral):
        raise TypeError(f"{what} must be a non-negative int, got {seed!r} ({type(seed).__name__})")
    if seed < 0:
        raise ValueError(f"{what} must be a non-negative int, got {seed}")
    return int(seed)


def check_fraction(fraction, what: str) -> float:
    """Return ``fraction`` as a float strictly between 0 and 1, or raise saying why not."""
    if isinstance(fraction, bool) or not isinstance(fraction, numbers.Real):
        raise TypeError(f"{what} must be a float in (0, 1), got {fraction!r}")
    fraction = float(fraction)
    if not 0.0 < fraction < 1.0:
        raise ValueError(f"{what} must be strictly between 0 and 1, got {fraction}")
    return fraction


def stable_permutation(n: int, *words: int) -> np.ndarray:
    """A permutation of ``range(n)`` determined only by ``words`` (non-negative ints).

    Stable across NumPy versions: it sorts raw PCG64 draws (with a stable sort, so even the
    astronomically unlikely tie is broken the same way everywhere).
    """
    bits = np.random.PCG64(np.random.SeedSequence(list(words)))
    keys = bits.random_raw(n) if n > 0 else np.empty(0, dtype=np.uint64)
    return np.argsort(keys, kind="stable").astype(np.int64)


def split_indices(n: int, fraction: float, seed: int, stream: int, labels=None):
    """Split ``range(n)`` into (kept, held_out) index arrays, both sorted ascending.

    With ``labels`` the split is stratified: each class gives ``round(fraction * count)`` of its
    members (half rounded up) to the held-out part, so class proportions match on both sides.
    Without labels, ``round(fraction * n)`` indices are held out uniformly at random.
    Raises ValueError if either side would be empty.
    """
    if labels is None:
        groups = [np.arange(n, dtype=np.int64)]
        class_ids = [0]
    else:
        labels = np.asarray(labels)
        if labels.shape != (n,):
            raise ValueError(f"labels must have shape ({n},), got {labels.shape}")
        class_ids = [int(c) for c in np.unique(labels)]
        groups = [np.flatnonzero(labels == c).astype(np.int64) for c in class_ids]
    held = []
    for class_id, members in zip(class_ids, groups):
        # Each class has its own stream, so adding a class never reshuffles the others.
        # Labels may be negative; offset them into the non-negative range SeedSequence needs.
        order = stable_permutation(len(members), seed, stream, class_id + 2**31)
        n_held = int(np.floor(fraction * len(members) + 0.5))
        held.append(members[order[:n_held]])
    held_idx = np.sort(np.concatenate(held)) if held else np.empty(0, dtype=np.int64)
    mask = np.ones(n, dtype=bool)
    mask[held_idx] = False
    kept_idx = np.flatnonzero(mask).astype(np.int64)
    if len(held_idx) == 0 or len(kept_idx) == 0:
        raise ValueError(
            f"splitting {n} examples with fraction {fraction} leaves "
            f"{len(kept_idx)} kept and {len(held_idx)} held out; choose a fraction that "
            f"leaves at least one example on each side"
        )
    return kept_idx, held_idx.astype(np.int64)
