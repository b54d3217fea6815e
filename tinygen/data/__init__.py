"""Data sets and batching for tinygen, in plain NumPy (the training loop makes Tensors).

- ``load_digits(seed, test_size)``: scikit-learn's 8x8 digits, bundled, no download.
- ``load_mnist(path, download)`` / ``load_fashion_mnist(path, download)``: original IDX files.
- ``toy_2d(name, n, seed)``, ``toy_modes(name)``, ``TOY_DATASETS``: 2-D toy distributions.
- ``DataLoader(dataset, batch_size, shuffle, seed, drop_last)``: reproducible, resumable batches.
- ``load_dataset(name, data_dir, seed)``: any of the above by its command-line name.

Importing this package only imports NumPy; scikit-learn and urllib load when first needed.
"""

from __future__ import annotations

import os
from typing import Optional, Union

from .datasets import ImageDataset, ToyDataset
from .digits import load_digits
from .download import DownloadError
from .loader import DataLoader
from .mnist import load_fashion_mnist, load_mnist
from .toy import TOY_DATASETS, toy_2d, toy_modes

DATASETS = ["digits", "mnist", "fashion-mnist"] + TOY_DATASETS
FILE_DATASETS = ["mnist", "fashion-mnist"]
TOY_TRAIN_SIZE = 20000
TOY_TEST_SIZE = 5000
DATA_DIR_ENV = "TINYGEN_DATA_DIR"

__all__ = [
    "load_digits", "load_mnist", "load_fashion_mnist", "toy_2d", "toy_modes", "TOY_DATASETS",
    "DataLoader", "load_dataset", "ImageDataset", "ToyDataset", "DownloadError", "DATASETS",
]


def load_dataset(name: str, data_dir=None, seed: int = 0, download: bool = False,
                 n_train: int = TOY_TRAIN_SIZE, n_test: int = TOY_TEST_SIZE) -> Union[ImageDataset, ToyDataset]:
    """Load a data set by its command-line name (one of ``DATASETS``).

    - ``"digits"``: ``load_digits(seed=seed)``.
    - ``"mnist"``, ``"fashion-mnist"``: from the IDX files in ``data_dir`` (or the folder in the
      ``TINYGEN_DATA_DIR`` environment variable); ``download=True`` fetches missing files.
      (``fashion_mnist`` is accepted as a spelling of ``fashion-mnist``.)
    - a toy (``TOY_DATASETS``): a ``ToyDataset`` with ``n_train`` points drawn with ``seed`` and
      ``n_test`` points drawn with ``seed + 1``, plus the mixture modes where there are any.
    """
    key = str(name).lower().replace("_", "-")
    if key == "digits":
        return load_digits(seed=seed)
    if key in FILE_DATASETS:
        folder: Optional[str] = data_dir if data_dir is not None else os.environ.get(DATA_DIR_ENV)
        if not folder:
            raise ValueError(
                f"{key} is read from its IDX files: give the folder that holds them with data_dir= "
                f"(--data-dir on the command line) or the {DATA_DIR_ENV} environment variable"
            )
        loader = load_mnist if key == "mnist" else load_fashion_mnist
        return loader(folder, download=download)
    if key in TOY_DATASETS:
        modes = toy_modes(key)
        return ToyDataset(
            x_train=toy_2d(key, n_train, seed),
            x_test=toy_2d(key, n_test, seed + 1),
            name=key,
            centers=None if modes is None else modes[0],
            sigma=None if modes is None else modes[1],
        )
    raise ValueError(f"unknown data set {name!r}; valid names are {', '.join(DATASETS)}")
