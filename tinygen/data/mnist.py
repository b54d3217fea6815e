"""MNIST and Fashion-MNIST from their original IDX files in a local folder, optionally downloaded.

The folder holds the four files under their original names, gzipped or not::

    train-images-idx3-ubyte[.gz]  train-labels-idx1-ubyte[.gz]
    t10k-images-idx3-ubyte[.gz]   t10k-labels-idx1-ubyte[.gz]

(the ``train-images.idx3-ubyte`` spelling of some re-distributions is accepted too).
With ``download=True`` the missing ones are fetched as ``.gz`` from public mirrors, tried in
order, and checked against the published MD5 checksums below and for IDX structure before they
are renamed into place (see ``download.fetch_file``). The mirror list can be replaced with the
``mirrors=`` argument or the environment variables ``TINYGEN_MNIST_MIRROR`` /
``TINYGEN_FASHION_MNIST_MIRROR`` (base URLs separated by commas or spaces).
"""

from __future__ import annotations

import os
from typing import Mapping, Optional, Sequence

import numpy as np

from .datasets import ImageDataset
from .download import DEFAULT_TIMEOUT, fetch_file, parse_mirror_list
from .idx import read_idx

FILES = {
    "train_images": "train-images-idx3-ubyte",
    "train_labels": "train-labels-idx1-ubyte",
    "test_images": "t10k-images-idx3-ubyte",
    "test_labels": "t10k-labels-idx1-ubyte",
}

# MD5 of the published .gz files. MNIST: as listed by torchvision's MNIST.resources (and many
# copies of it); Fashion-MNIST: as published in zalandoresearch/fashion-mnist and torchvision.
MNIST_MD5 = {
    "train-images-idx3-ubyte.gz": "f68b3c2dcbeaaa9fbdd348bbdeb94873",
    "train-labels-idx1-ubyte.gz": "d53e105ee54ea40749a09fcbcd1e9432",
    "t10k-images-idx3-ubyte.gz": "9fb629c4189551a2d022fa330f9573f3",
    "t10k-labels-idx1-ubyte.gz": "ec29112dd5afa0611ce80d1b7f02629c",
}
FASHION_MNIST_MD5 = {
    "train-images-idx3-ubyte.gz": "8d4fb7e6c68d591d4c3dfef9ec88bf0d",
    "train-labels-idx1-ubyte.gz": "25c81989df183df01b3e8a0aad5dffbe",
    "t10k-images-idx3-ubyte.gz": "bef4ecab320f06d8554ea6380940ec79",
    "t10k-labels-idx1-ubyte.gz": "bb300cfdad3c16e7a12a480ee83cd310",
}

MNIST_MIRRORS = (
    "https://ossci-datasets.s3.amazonaws.com/mnist/",
    "https://storage.googleapis.com/cvdf-datasets/mnist/",
    "http://yann.lecun.com/exdb/mnist/",
)
FASHION_MNIST_MIRRORS = (
    "http://fashion-mnist.s3-website.eu-central-1.amazonaws.com/",
    "https://storage.googleapis.com/tensorflow/tf-keras-datasets/",
    "https://raw.githubusercontent.com/zalandoresearch/fashion-mnist/master/data/fashion/",
)

FASHION_CLASSES = (
    "T-shirt/top", "Trouser", "Pullover", "Dress", "Coat",
    "Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot",
)

IMAGE_SHAPE = (28, 28)
LEVELS = 256
NUM_CLASSES = 10

_SPECS = {
    "mnist": dict(title="MNIST", md5=MNIST_MD5, mirrors=MNIST_MIRRORS,
                  env="TINYGEN_MNIST_MIRROR", class_names=tuple(str(d) for d in range(10))),
    "fashion-mnist": dict(title="Fashion-MNIST", md5=FASHION_MNIST_MD5, mirrors=FASHION_MNIST_MIRRORS,
                          env="TINYGEN_FASHION_MNIST_MIRROR", class_names=FASHION_CLASSES),
}


def _candidates(stem: str):
    dotted = stem.replace("-idx", ".idx")  # e.g. train-images.idx3-ubyte
    return [stem, stem + ".gz", dotted, dotted + ".gz"]


def _find(folder: str, stem: str) -> Optional[str]:
    for name in _candidates(stem):
        path = os.path.join(folder, name)
        if os.path.isfile(path):
            return path
    return None


def _check_array(array: np.ndarray, key: str, path: str) -> None:
    """Raise ValueError (naming the file) unless ``array`` is what ``key`` should hold."""
    if array.dtype != np.uint8:
        raise ValueError(f"{path}: holds {array.dtype} elements; MNIST-style files hold uint8")
    if key.endswith("images"):
        if array.ndim != 3 or array.shape[1:] != IMAGE_SHAPE:
            raise ValueError(
                f"{path}: holds an array of shape {array.shape}; an images file holds (N, 28, 28) "
                f"(is it a labels file under an images name?)"
            )
    else:
        if array.ndim != 1:
            raise ValueError(
                f"{path}: holds an array of shape {array.shape}; a labels file holds (N,) "
                f"(is it an images file under a labels name?)"
            )
        if array.size and array.max() >= NUM_CLASSES:
            raise ValueError(f"{path}: has label {int(array.max())}; labels must be 0..{NUM_CLASSES - 1}")


def _validator(key: str):
    def validate(path: str) -> None:
        _check_array(read_idx(path), key, path)
    return validate


def _resolve_mirrors(spec, mirrors):
    if mirrors is not None:
        return [mirrors] if isinstance(mirrors, str) else list(mirrors)
    from_env = parse_mirror_list(os.environ.get(spec["env"], ""))
    return from_env or list(spec["mirrors"])


def _load(kind: str, path, download: bool, mirrors, checksums, timeout) -> ImageDataset:
    spec = _SPECS[kind]
    title = spec["title"]
    if path is None:
        raise TypeError(f"load_{kind.replace('-', '_')} needs path=, the folder holding the {title} IDX files")
    folder = os.path.abspath(os.path.expanduser(os.fspath(path)))
    if os.path.exists(folder) and not os.path.isdir(folder):
        raise NotADirectoryError(f"{folder} is a file; pass the folder that holds the {title} IDX files")
    mirror_list = _resolve_mirrors(spec, mirrors)
    table = dict(spec["md5"])
    table.update(checksums or {})

    found, missing = {}, []
    for key, stem in FILES.items():
        found[key] = _find(folder, stem)
        if found[key] is None:
            missing.append(key)
    if missing and not download:
        names = "\n".join(f"  {FILES[k]}[.gz]" for k in missing)
        urls = ", ".join(mirror_list)
        raise FileNotFoundError(
            f"{title} files missing from {folder}:\n{names}\n"
            f"Pass download=True to fetch them, or download them by hand from one of {urls} "
            f"and put them in that folder (gzipped or not)."
        )
    for key in missing:
        filename = FILES[key] + ".gz"
        found[key] = fetch_file(
            filename, folder, mirror_list, checksum=table.get(filename), timeout=timeout,
            validate=_validator(key), what=title,
            manual_hint=f"(gzipped or not; any copy of the original {title} file will do), "
                        f"or set {spec['env']} to a base URL that serves it",
        )

    arrays = {}
    for key, file in found.items():
        arrays[key] = read_idx(file)
        _check_array(arrays[key], key, file)
    for split in ("train", "test"):
        n_img, n_lab = len(arrays[f"{split}_images"]), len(arrays[f"{split}_labels"])
        if n_img != n_lab:
            raise ValueError(
                f"{title} {split} files disagree: {found[f'{split}_images']} has {n_img} images but "
                f"{found[f'{split}_labels']} has {n_lab} labels; one of them is from another data set or damaged"
            )

    def pixels(a):
        return a.astype(np.float32) / np.float32(LEVELS - 1)

    return ImageDataset(
        x_train=pixels(arrays["train_images"]),
        y_train=arrays["train_labels"].astype(np.int64),
        x_test=pixels(arrays["test_images"]),
        y_test=arrays["test_labels"].astype(np.int64),
        name=kind,
        image_shape=IMAGE_SHAPE,
        levels=LEVELS,
        num_classes=NUM_CLASSES,
        class_names=spec["class_names"],
    )


def load_mnist(path, download: bool = False, *, mirrors: Optional[Sequence[str]] = None,
               checksums: Optional[Mapping[str, Optional[str]]] = None,
               timeout: float = DEFAULT_TIMEOUT) -> ImageDataset:
    """Load MNIST from the IDX files in folder ``path``.

    Args:
      path: folder with the four IDX files (gzipped or not).
      download: fetch missing files (as .gz) from the mirrors into ``path``.
      mirrors: base URLs to try in order, replacing ``TINYGEN_MNIST_MIRROR`` and the defaults.
      checksums: ``{filename.gz: "md5:..." | "sha256:..." | hex | None}`` overriding the
        published MD5s (None skips the hash check for that file; IDX structure is always checked).
      timeout: seconds per connection/read.

    Returns an ``ImageDataset`` named ``"mnist"``: float32 (N, 28, 28) in [0, 1] (256 levels),
    int64 labels. Raises FileNotFoundError for missing files without ``download``,
    ``DownloadError`` when no mirror works, ValueError (naming the file) for malformed files.
    """
    return _load("mnist", path, download, mirrors, checksums, timeout)


def load_fashion_mnist(path, download: bool = False, *, mirrors: Optional[Sequence[str]] = None,
                       checksums: Optional[Mapping[str, Optional[str]]] = None,
                       timeout: float = DEFAULT_TIMEOUT) -> ImageDataset:
    """Load Fashion-MNIST from the IDX files in folder ``path``; arguments as ``load_mnist``.

    Returns an ``ImageDataset`` named ``"fashion-mnist"`` with ``class_names`` set; the mirror
    environment variable is ``TINYGEN_FASHION_MNIST_MIRROR``.
    """
    return _load("fashion-mnist", path, download, mirrors, checksums, timeout)
