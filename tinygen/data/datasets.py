"""The containers the loaders return: ``ImageDataset`` for images, ``ToyDataset`` for 2-D toys.

Both are plain NumPy (no Tensors): the training loop converts batches. Both unpack like Keras'
loaders, ``(x_train, y_train), (x_test, y_test) = dataset`` (labels are ``None`` for toys), and
both offer ``validation_split(fraction, seed)`` carving a held-out part from the training set
(for early stopping), reproducible from the seed and never touching the test set.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Optional, Tuple

import numpy as np

from ._random import STREAM_VALIDATION_SPLIT, check_fraction, check_seed, split_indices


def _describe(a) -> str:
    return "None" if a is None else f"{a.dtype}{tuple(a.shape)}"


@dataclass(repr=False, eq=False)
class ImageDataset:
    """A labelled image data set split into train and test parts.

    Fields:
      x_train, x_test: float32 arrays of shape (N, *image_shape) with pixels in [0, 1]; the
        pixels take ``levels`` equally spaced values (``k / (levels - 1)``), which is what
        bits-per-dimension figures dequantize.
      y_train, y_test: int64 class labels in ``range(num_classes)``.
      name: ``"digits"``, ``"mnist"`` or ``"fashion-mnist"``.
      image_shape: (height, width).
      levels: number of distinct pixel values (17 for digits, 256 for MNIST).
      num_classes: number of classes.
      class_names: optional human-readable names, index = label.
    """

    x_train: np.ndarray
    y_train: np.ndarray
    x_test: np.ndarray
    y_test: np.ndarray
    name: str
    image_shape: Tuple[int, int]
    levels: int
    num_classes: int
    class_names: Optional[Tuple[str, ...]] = None
    is_toy: bool = field(default=False, init=False)

    def __post_init__(self):
        for split, x, y in (("train", self.x_train, self.y_train), ("test", self.x_test, self.y_test)):
            if x.shape[1:] != tuple(self.image_shape):
                raise ValueError(
                    f"{self.name}: x_{split} has shape {x.shape}, expected (N, {', '.join(map(str, self.image_shape))})"
                )
            if y.shape != (x.shape[0],):
                raise ValueError(
                    f"{self.name}: y_{split} has shape {y.shape} but x_{split} holds {x.shape[0]} images"
                )

    @property
    def data_shape(self) -> Tuple[int, ...]:
        """Shape of one example (the image shape)."""
        return tuple(self.image_shape)

    def __iter__(self):
        """Unpack as ``(x_train, y_train), (x_test, y_test) = dataset``."""
        return iter(((self.x_train, self.y_train), (self.x_test, self.y_test)))

    def validation_split(self, fraction: float = 0.1, seed: int = 0):
        """Carve a stratified validation set out of the training part.

        Returns ``(x_tr, y_tr, x_val, y_val)``: about ``fraction`` of each class goes to the
        validation part. The same (fraction, seed) always gives the same split; the test part is
        never touched.
        """
        fraction = check_fraction(fraction, "fraction")
        seed = check_seed(seed)
        kept, held = split_indices(len(self.y_train), fraction, seed, STREAM_VALIDATION_SPLIT, labels=self.y_train)
        return self.x_train[kept], self.y_train[kept], self.x_train[held], self.y_train[held]

    def __repr__(self) -> str:
        return (
            f"ImageDataset(name={self.name!r}, x_train={_describe(self.x_train)}, "
            f"x_test={_describe(self.x_test)}, image_shape={tuple(self.image_shape)}, "
            f"levels={self.levels}, num_classes={self.num_classes})"
        )


@dataclass(repr=False, eq=False)
class ToyDataset:
    """Unlabelled 2-D points for the toy distributions (see ``toy_2d``).

    Fields:
      x_train, x_test: float32 arrays of shape (N, 2) in data coordinates.
      name: one of ``TOY_DATASETS``.
      centers, sigma: the mixture's component centres (K, 2) and standard deviation for
        ``ring8``/``grid25`` (used by mode-coverage metrics), else None.
    ``y_train``, ``y_test``, ``num_classes`` and ``levels`` are None, so code written for
    ``ImageDataset`` can ask ``dataset.is_toy`` or test for None instead of catching errors.
    """

    x_train: np.ndarray
    x_test: np.ndarray
    name: str
    centers: Optional[np.ndarray] = None
    sigma: Optional[float] = None
    is_toy: bool = field(default=True, init=False)
    y_train: None = field(default=None, init=False)
    y_test: None = field(default=None, init=False)
    num_classes: None = field(default=None, init=False)
    levels: None = field(default=None, init=False)

    @property
    def data_shape(self) -> Tuple[int, ...]:
        """Shape of one example: (2,)."""
        return tuple(self.x_train.shape[1:])

    def __iter__(self):
        """Unpack as ``(x_train, _), (x_test, _) = dataset`` (labels are None)."""
        return iter(((self.x_train, None), (self.x_test, None)))

    def validation_split(self, fraction: float = 0.1, seed: int = 0):
        """Hold out a random ``fraction`` of the training points.

        Returns ``(x_tr, None, x_val, None)``, the same shape of answer as
        ``ImageDataset.validation_split``.
        """
        fraction = check_fraction(fraction, "fraction")
        seed = check_seed(seed)
        kept, held = split_indices(len(self.x_train), fraction, seed, STREAM_VALIDATION_SPLIT)
        return self.x_train[kept], None, self.x_train[held], None

    def __repr__(self) -> str:
        return (
            f"ToyDataset(name={self.name!r}, x_train={_describe(self.x_train)}, "
            f"x_test={_describe(self.x_test)}, modes={None if self.centers is None else len(self.centers)})"
        )
