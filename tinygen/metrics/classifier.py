"""Sample quality on digits and MNIST without Inception: a small classifier trained with tinygen.

One classifier per data set (an MLP, trained once with a fixed seed on the real training split
and cached on disk) gives three figures for generated images:

* :func:`label_accuracy` -- the share of conditional samples the classifier assigns to the class
  they were generated for (a cGAN that ignores its label scores 10 %);
* :func:`classifier_frechet` -- the Fréchet distance between generated and real *training*
  images in the classifier's penultimate-layer features, FID's construction with a network that
  knows digits instead of ImageNet; real held-out test images give the floor
  (``classifier_frechet(dataset.x_test, dataset)``);
* :func:`class_coverage` -- the number of classes an unconditional sampler produces at least
  20 % as often as a uniform sampler would (the mode-coverage rule of
  :func:`tinygen.metrics.mode_coverage` applied to predicted classes; 10 is full coverage).

The classifier is cached as ``<cache>/classifier-<name>-<hash>.tg`` (``tg.save``, no pickle),
where ``<cache>`` is ``$TINYGEN_CACHE_DIR`` or ``~/.cache/tinygen`` and ``<hash>`` identifies the
training split, so another split (``load_digits(seed=1)``) gets its own classifier. Training
never touches tinygen's global random state: a run that evaluates mid-training stays
reproducible. Digits: ≈ 98 % test accuracy, a few seconds to train.
"""
from __future__ import annotations

import hashlib
import math
import os

import numpy as np

from ._util import as_numpy
from .frechet import frechet_distance

CACHE_ENV = "TINYGEN_CACHE_DIR"
VERSION = 1
# per data set: hidden widths, epochs, batch size, learning rate, weight decay, max pixel shift
_SETTINGS = {
    "digits": dict(hidden=(256, 128), epochs=150, batch_size=64, lr=3e-3, weight_decay=1e-4, shift=1),
    "default": dict(hidden=(512, 256), epochs=8, batch_size=128, lr=1e-3, weight_decay=0.0, shift=2),
}
_memory = {}


def cache_dir():
    """Where classifiers are cached: $TINYGEN_CACHE_DIR, else ~/.cache/tinygen."""
    return os.environ.get(CACHE_ENV) or os.path.join(os.path.expanduser("~"), ".cache", "tinygen")


def _resolve(dataset, data_dir=None):
    """A data set name or object → the ImageDataset."""
    if isinstance(dataset, str):
        from ..data import load_dataset
        dataset = load_dataset(dataset, data_dir=data_dir)
    if getattr(dataset, "is_toy", False) or getattr(dataset, "num_classes", None) is None:
        raise ValueError(f"classifier metrics need a labelled image data set (digits, mnist, ...), got {dataset!r}")
    return dataset


def _key(ds):
    """Names the cached file: data set, training split and training settings."""
    h = hashlib.sha1()
    h.update(repr((VERSION, sorted(_SETTINGS.get(ds.name, _SETTINGS["default"]).items()))).encode())
    h.update(np.ascontiguousarray(ds.x_train, dtype=np.float32).tobytes())
    h.update(np.ascontiguousarray(ds.y_train, dtype=np.int64).tobytes())
    return f"{ds.name}-{h.hexdigest()[:12]}"


class DigitClassifier:
    """An MLP classifier of images: flattened pixels → ReLU layers → class logits.

    ``module`` is the tinygen network (a Sequential); ``logits(x)``, ``features(x)``
    (penultimate-layer activations) and ``predict(x)`` take NumPy images in [0, 1] of the data
    set's shape and work in batches under no_grad.
    """

    def __init__(self, image_shape, num_classes, hidden, name=""):
        from .. import nn
        self.image_shape = tuple(image_shape)
        self.num_classes = int(num_classes)
        self.hidden = tuple(hidden)
        self.name = name
        sizes = (int(np.prod(self.image_shape)),) + self.hidden
        layers = []
        for a, b in zip(sizes[:-1], sizes[1:]):        # always on the CPU: small, and cached
            layers += [nn.Linear(a, b, device="cpu"), nn.ReLU()]
        self.body = nn.Sequential(*layers)
        self.head = nn.Linear(sizes[-1], self.num_classes, device="cpu")
        self.module = nn.Sequential(self.body, self.head)
        self.test_accuracy = float("nan")

    def _init(self, rng):
        """PyTorch's default init, drawn from ``rng`` (never from tinygen's global generator)."""
        for m in list(self.body) + [self.head]:
            if hasattr(m, "weight") and m.weight is not None:
                bound = 1.0 / math.sqrt(m.weight.shape[1])
                m.weight.data[...] = rng.uniform(-bound, bound, m.weight.shape)
                m.bias.data[...] = rng.uniform(-bound, bound, m.bias.shape)

    def _run(self, fn, x, batch=2048):
        from .. import no_grad
        from ..tensor import Tensor
        a = as_numpy(x, "images").astype(np.float32)
        a = a.reshape(len(a), -1)
        if a.shape[1] != int(np.prod(self.image_shape)):
            raise ValueError(f"images of shape {tuple(as_numpy(x).shape)} do not match the classifier's "
                             f"{self.image_shape}")
        a = np.nan_to_num(a, nan=0.0, posinf=1.0, neginf=0.0)
        out = []
        self.module.eval()
        with no_grad():
            for s in range(0, len(a), batch):
                out.append(fn(Tensor(a[s:s + batch], device="cpu")).numpy())
        return np.concatenate(out) if out else np.zeros((0, 0), np.float32)

    def logits(self, x):
        return self._run(self.module, x)

    def features(self, x):
        """Penultimate-layer activations, (N, hidden[-1])."""
        return self._run(self.body, x)

    def predict(self, x):
        return np.argmax(self.logits(x), axis=1)

    def state(self):
        return {"state": self.module.state_dict(), "image_shape": list(self.image_shape),
                "num_classes": self.num_classes, "hidden": list(self.hidden), "name": self.name,
                "test_accuracy": self.test_accuracy, "version": VERSION}

    @classmethod
    def from_state(cls, st):
        c = cls(st["image_shape"], st["num_classes"], st["hidden"], st["name"])
        c.module.load_state_dict(st["state"])
        c.test_accuracy = float(st["test_accuracy"])
        return c


def _shifted(x, rng, max_shift):
    """Each image moved by a random whole-pixel offset in [−s, s]² (zeros shifted in)."""
    if max_shift <= 0:
        return x
    n, h, w = x.shape
    pad = np.pad(x, ((0, 0), (max_shift, max_shift), (max_shift, max_shift)))
    dy = rng.integers(0, 2 * max_shift + 1, n)
    dx = rng.integers(0, 2 * max_shift + 1, n)
    rows = dy[:, None] + np.arange(h)[None, :]
    cols = dx[:, None] + np.arange(w)[None, :]
    return pad[np.arange(n)[:, None, None], rows[:, :, None], cols[:, None, :]]


def train_classifier(dataset, seed=0, verbose=False, **overrides):
    """Train a :class:`DigitClassifier` on ``dataset``'s training split (Adam, cross-entropy,
    random pixel shifts as augmentation); records its test accuracy. Uses its own NumPy
    generator seeded with ``seed``: tinygen's global random state is left as it was."""
    from .. import losses as L
    from .. import optim
    from ..random import get_rng_state, set_rng_state
    from ..tensor import Tensor
    ds = _resolve(dataset)
    cfg = dict(_SETTINGS.get(ds.name, _SETTINGS["default"]))
    cfg.update(overrides)
    rng = np.random.default_rng(seed)
    saved = get_rng_state()
    try:
        clf = DigitClassifier(ds.x_train.shape[1:], ds.num_classes, cfg["hidden"], ds.name)
    finally:
        set_rng_state(saved)
    clf._init(rng)
    params = list(clf.module.parameters())
    opt = optim.AdamW(params, lr=cfg["lr"], weight_decay=cfg["weight_decay"])
    x = np.asarray(ds.x_train, np.float32)
    x = x.reshape((len(x),) + tuple(ds.image_shape)) if x.ndim == 2 else x
    y = np.asarray(ds.y_train, np.int64)
    n, bs = len(x), int(cfg["batch_size"])
    steps = cfg["epochs"] * math.ceil(n / bs)
    step = 0
    clf.module.train()
    from ..autograd.grad_mode import enable_grad
    with enable_grad():                        # callers may be inside tg.no_grad() (evaluation)
        _fit(clf, opt, x, y, n, bs, steps, cfg, rng, L, Tensor, verbose)
    clf.test_accuracy = float(np.mean(clf.predict(ds.x_test) == ds.y_test))
    return clf


def _fit(clf, opt, x, y, n, bs, steps, cfg, rng, L, Tensor, verbose):
    """The classifier's training loop: Adam(W), cross-entropy, shifted images, cosine lr."""
    step = 0
    for epoch in range(cfg["epochs"]):
        order = rng.permutation(n)
        for s in range(0, n, bs):
            idx = order[s:s + bs]
            xb = _shifted(x[idx], rng, cfg["shift"]).reshape(len(idx), -1)
            for g in opt.param_groups:         # cosine decay of the learning rate
                g["lr"] = cfg["lr"] * 0.5 * (1 + math.cos(math.pi * step / steps))
            loss = L.cross_entropy(clf.module(Tensor(xb, device="cpu")), y[idx])
            opt.zero_grad()
            loss.backward()
            opt.step()
            step += 1
        if verbose:
            print(f"classifier epoch {epoch + 1}: loss {loss.item():.4f}")


def digit_classifier(dataset="digits", data_dir=None, retrain=False, verbose=False):
    """The cached classifier for ``dataset`` (a name such as "digits"/"mnist", or an ImageDataset).

    Trained on first use (seed 0) and saved under :func:`cache_dir`; later calls load it (and
    keep it in memory). ``retrain=True`` trains afresh and overwrites the cache.
    """
    from .. import io
    ds = _resolve(dataset, data_dir)
    key = _key(ds)
    if not retrain and key in _memory:
        return _memory[key]
    path = os.path.join(cache_dir(), f"classifier-{key}.tg")
    clf = None
    if not retrain and os.path.exists(path):
        try:
            st = io.load(path, device="cpu")
            if int(st.get("version", 0)) == VERSION:
                clf = DigitClassifier.from_state(st)
        except (ValueError, KeyError, OSError):
            clf = None                       # a broken or stale cache file: train again
    if clf is None:
        clf = train_classifier(ds, verbose=verbose)
        try:
            os.makedirs(os.path.dirname(path), exist_ok=True)
            io.save(clf.state(), path)
        except OSError:
            pass                             # a read-only cache is not fatal
    _memory[key] = clf
    return clf


def _images(samples, clf):
    a = as_numpy(samples, "samples")
    return a.reshape((len(a),) + clf.image_shape)


def label_accuracy(samples, labels, dataset="digits", data_dir=None):
    """Share of ``samples`` (images in [0, 1]) classified as their ``labels``."""
    clf = digit_classifier(dataset, data_dir)
    lab = np.asarray(as_numpy(labels, "labels"), dtype=np.int64).reshape(-1)
    x = _images(samples, clf)
    if len(lab) != len(x):
        raise ValueError(f"got {len(x)} samples but {len(lab)} labels")
    return float(np.mean(clf.predict(x) == lab)) if len(x) else float("nan")


def class_histogram(samples, dataset="digits", data_dir=None):
    """Share of samples predicted as each class, shape (num_classes,)."""
    clf = digit_classifier(dataset, data_dir)
    pred = clf.predict(_images(samples, clf))
    return np.bincount(pred, minlength=clf.num_classes) / max(len(pred), 1)


def class_coverage(samples, dataset="digits", data_dir=None, min_share=0.2):
    """How many classes (an int, 0..num_classes) receive at least ``min_share`` of a uniform
    sampler's share (N / num_classes) of the samples, by the classifier's predictions.
    10 on digits for a sampler that covers every class."""
    hist = class_histogram(samples, dataset, data_dir)
    return int(np.sum(hist >= min_share / len(hist) - 1e-12))


def classifier_frechet(samples, dataset="digits", data_dir=None, reference=None):
    """Fréchet distance between ``samples`` and ``reference`` (default: the real training split)
    in the classifier's penultimate features. Real test images give the floor."""
    clf = digit_classifier(dataset, data_dir)
    if reference is None:
        reference = _resolve(dataset, data_dir).x_train
    return frechet_distance(clf.features(_images(reference, clf)), clf.features(_images(samples, clf)))
