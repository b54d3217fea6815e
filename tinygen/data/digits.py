"""scikit-learn's bundled 8x8 handwritten digits: small, offline, and enough to train every model.

The 1,797 images ship inside scikit-learn (no download). Pixels are integers 0..16, which we
scale to [0, 1] by dividing by 16, so they take 17 levels. The train/test split is stratified
and fixed by the seed, and stays the same across NumPy releases (see ``_random``).
"""

from __future__ import annotations

import numpy as np

from ._random import STREAM_TEST_SPLIT, check_fraction, check_seed, split_indices
from .datasets import ImageDataset

DIGITS_LEVELS = 17  # pixel values 0..16


def load_digits(seed: int = 0, test_size: float = 0.2) -> ImageDataset:
    """Load the 8x8 digits with a seeded, stratified train/test split.

    Args:
      seed: non-negative int; the same seed always gives the same split.
      test_size: fraction of each class put in the test part, strictly between 0 and 1.

    Returns an ``ImageDataset`` named ``"digits"``: float32 images (N, 8, 8) in [0, 1] with 17
    levels, int64 labels 0..9. Unpack it as ``(x_train, y_train), (x_test, y_test)``.
    """
    seed = check_seed(seed)
    test_size = check_fraction(test_size, "test_size")
    try:
        from sklearn.datasets import load_digits as _sk_load_digits
    except ImportError as exc:  # pragma: no cover - scikit-learn is a hard dependency
        raise ImportError(
            "load_digits needs scikit-learn, which ships the digits data: pip install scikit-learn"
        ) from exc
    raw = _sk_load_digits()
    pixels = np.asarray(raw.images)
    if pixels.min() < 0 or pixels.max() > DIGITS_LEVELS - 1:
        raise ValueError(
            f"scikit-learn's digits have pixels in [{pixels.min()}, {pixels.max()}], expected 0..16; "
            f"the installed scikit-learn ships unexpected data"
        )
    images = (pixels / (DIGITS_LEVELS - 1)).astype(np.float32)
    labels = np.asarray(raw.target, dtype=np.int64)
    train_idx, test_idx = split_indices(len(labels), test_size, seed, STREAM_TEST_SPLIT, labels=labels)
    return ImageDataset(
        x_train=images[train_idx],
        y_train=labels[train_idx],
        x_test=images[test_idx],
        y_test=labels[test_idx],
        name="digits",
        image_shape=(8, 8),
        levels=DIGITS_LEVELS,
        num_classes=10,
        class_names=tuple(str(d) for d in range(10)),
    )
