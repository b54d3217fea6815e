"""Conditional GAN (Mirza & Osindero, 2014): both players see the label.

    [Noise z + Label y] → [Generator G] → [Fake G(z, y)] → [Discriminator D(·, y)] ← [Real x, y]

The game is the GAN's with every distribution conditioned on the class:

    min_G max_D  E_{x,y}[log D(x, y)] + E_{z,y}[log(1 − D(G(z, y), y))].

D now rejects a fake that looks like a digit but not like *the digit it was asked for*, so G
must honour the label, and ``sample(n, labels)`` draws examples of chosen classes.

How the label enters (``conditioning``):

* ``"onehot"``: the one-hot vector e_y is concatenated to z (G) and to the flattened example (D).
  With 32-d noise on 8×8 digits: G is 42-256-256-64, D is 74-256-256-1.
* ``"embedding"``: each player has its own learned table (``nn.Embedding``) of ``embed_dim``-d
  label vectors, concatenated the same way; the table is trained with the player.

Losses, packing, EMA and sampling are the GAN's (:class:`tinygen.models.gan.AdversarialModel`);
the convolutional variant is :class:`tinygen.models.dcgan.ConditionalDCGAN`
(``ConditionalGAN.convolutional(...)``).
"""
from __future__ import annotations

import numpy as np

from .. import backend
from .. import functional as F
from .. import nn
from ..functions import cat
from ..tensor import Tensor
from .gan import AdversarialModel, mlp, pack_examples

CONDITIONINGS = ("onehot", "embedding")


class LabelCode(nn.Module):
    """Labels (integer array or Tensor, shape (B,)) → float codes (B, dim): one-hot or learned."""

    def __init__(self, num_classes, conditioning="onehot", embed_dim=None):
        super().__init__()
        if conditioning not in CONDITIONINGS:
            raise ValueError(f"unknown conditioning {conditioning!r}; choose one of {', '.join(CONDITIONINGS)}")
        self.num_classes = int(num_classes)
        self.conditioning = conditioning
        if conditioning == "embedding":
            self.dim = int(embed_dim or num_classes)
            self.embedding = nn.Embedding(self.num_classes, self.dim)
        else:
            self.dim = self.num_classes

    def forward(self, labels, like):
        lab = labels.data if isinstance(labels, Tensor) else labels
        if self.conditioning == "embedding":
            return self.embedding(lab)                    # indices follow the table's device
        if backend.device_of(lab) != like.device:
            lab = backend.to_device(lab, like.device)
        return F.one_hot(lab, self.num_classes, dtype=like.dtype)


def as_labels(labels, n, num_classes):
    """Labels for ``n`` samples: None → balanced (0, 1, …, C−1, 0, 1, …), an int → all that class,
    an array → itself (checked)."""
    if labels is None:
        return np.arange(int(n)) % num_classes
    if isinstance(labels, Tensor):
        labels = labels.numpy()
    lab = np.asarray(labels)
    if lab.ndim == 0:
        lab = np.full(int(n), int(lab))
    lab = lab.astype(np.int64).reshape(-1)
    if len(lab) != n:
        raise ValueError(f"got {len(lab)} labels for {n} samples")
    if lab.size and (lab.min() < 0 or lab.max() >= num_classes):
        raise ValueError(f"labels must lie in [0, {num_classes}), got values in [{lab.min()}, {lab.max()}]")
    return lab


class _ConditionalMixin:
    conditional = True

    def _labels(self, labels, n):
        lab = as_labels(labels, n, self.num_classes)
        dev = self.shift.device
        return lab if dev == "cpu" else backend.to_device(lab, dev)

    def sample(self, n, labels=None, ema=True):
        """n examples (data space) of the given classes: None → balanced classes, an int → that
        class, an array of n labels → those."""
        return super().sample(n, self._labels(labels, n), ema=ema)


class ConditionalGAN(_ConditionalMixin, AdversarialModel):
    """The MLP conditional GAN.

    Args: as :class:`tinygen.models.gan.GAN`, plus ``num_classes``, ``conditioning`` ("onehot" or
    "embedding") and ``embed_dim`` (embedding size, default num_classes). Defaults are the digits
    setting: 32-d noise, LeakyReLU(0.2), tanh output, data [0, 1] mapped to [−1, 1].
    """

    def __init__(self, data_shape=(8, 8), num_classes=10, latent_dim=32, hidden=(256, 256), d_hidden=None,
                 conditioning="onehot", embed_dim=None, loss="nonsaturating", g_activation="leaky_relu",
                 d_activation="leaky_relu", out_activation="tanh", g_batch_norm=False, pack=1,
                 gp_weight=10.0, shift=0.5, scale=0.5):
        super().__init__()
        data_shape = (int(data_shape),) if np.isscalar(data_shape) else tuple(data_shape)
        self._setup(latent_dim, loss, pack, gp_weight, data_shape, shift, scale)
        self.num_classes = int(num_classes)
        self.conditioning = conditioning
        self.data_dim = int(np.prod(self.data_shape))
        self.hidden = tuple(int(h) for h in hidden)
        self.d_hidden = self.hidden if d_hidden is None else tuple(int(h) for h in d_hidden)
        self._g_kw = dict(activation=g_activation, out_activation=out_activation, batch_norm=g_batch_norm)
        self._embed_dim = embed_dim
        self.generator = self._make_generator()
        code = LabelCode(num_classes, conditioning, embed_dim)
        self.discriminator = _CondMLP(code, mlp(((self.data_dim + code.dim) * self.pack,) + self.d_hidden + (1,),
                                                d_activation))

    def _make_generator(self):
        code = LabelCode(self.num_classes, self.conditioning, self._embed_dim)
        return _CondMLP(code, mlp((self.latent_dim + code.dim,) + self.hidden + (self.data_dim,), **self._g_kw))

    @staticmethod
    def convolutional(**kwargs):
        """The convolutional variant (conditional DCGAN), see :class:`tinygen.models.dcgan.ConditionalDCGAN`."""
        from .dcgan import ConditionalDCGAN
        return ConditionalDCGAN(**kwargs)

    def generate(self, z, labels=None, ema=False):
        """G(z, y) in model space, shape (n, *data_shape); labels None: balanced classes."""
        g = self.generator_ema if (ema and self.generator_ema is not None) else self.generator
        lab = self._labels(labels, z.shape[0]) if labels is None or not hasattr(labels, "dtype") else labels
        return g(z, lab).reshape((z.shape[0],) + self.data_shape)

    def discriminate(self, x, labels=None):
        """D's logits for model-space x with labels y: net(pack([x flattened, code(y)]))."""
        if labels is None:
            raise ValueError("ConditionalGAN: the discriminator needs the labels")
        flat = x.reshape(x.shape[0], -1)
        d = self.discriminator
        return d.net(pack_examples(cat([flat, d.code(labels, flat)], axis=1), self.pack)).reshape(-1)


class _CondMLP(nn.Module):
    """net([input, code(y)]): G's input is z, D's the flattened example (packed by the model)."""

    def __init__(self, code, net):
        super().__init__()
        self.code = code
        self.net = net

    def forward(self, v, labels):
        return self.net(cat([v, self.code(labels, v)], axis=1))


# ---------------------------------------------------------------------------- self-conditioning

def kmeans(x, k, seed=0, iters=50):
    """k-means with k-means++ seeding (NumPy, its own generator): returns (centroids (k, D),
    labels (N,)). Empty clusters are re-seeded at the point farthest from its centroid."""
    x = np.asarray(x, np.float64).reshape(len(x), -1)
    rng = np.random.default_rng(seed)
    k = min(int(k), len(x))
    c = [x[rng.integers(len(x))]]
    d2 = ((x - c[0]) ** 2).sum(1)
    for _ in range(1, k):                      # k-means++: next centre ∝ squared distance
        c.append(x[rng.choice(len(x), p=d2 / d2.sum())] if d2.sum() > 0 else x[rng.integers(len(x))])
        d2 = np.minimum(d2, ((x - c[-1]) ** 2).sum(1))
    c = np.array(c)
    for _ in range(iters):
        dist = (x * x).sum(1)[:, None] + (c * c).sum(1)[None, :] - 2 * x @ c.T
        lab = dist.argmin(1)
        new = np.array([x[lab == j].mean(0) if np.any(lab == j) else c[j] for j in range(k)])
        empty = [j for j in range(k) if not np.any(lab == j)]
        for j in empty:
            new[j] = x[dist[np.arange(len(x)), lab].argmax()]
        if np.allclose(new, c):
            break
        c = new
    dist = (x * x).sum(1)[:, None] + (c * c).sum(1)[None, :] - 2 * x @ c.T
    return c, dist.argmin(1)


class SelfConditionedGAN(ConditionalGAN):
    """An unconditional GAN that conditions both players on clusters of the data it finds itself
    (self-conditioned GAN, Liu et al. 2020), a remedy for mode collapse beyond the seeds' tips.

    ``fit_clusters(x)`` runs k-means on the training data (in model space) once. During training
    each real example gets its nearest cluster as its label and fakes are drawn for the same
    labels, so the game is a cGAN on pseudo-labels; sampling draws the cluster from its share of
    the training data, then G(z, cluster). Every cluster holds data, so D punishes a G that drops
    one, and with more clusters than modes each G(·, k) has a single mode to produce -- no gap to
    bridge. Users pass no labels: ``sample(n)`` as for :class:`tinygen.models.gan.GAN`.

    Args: ``clusters`` (k), and those of :class:`ConditionalGAN` (defaults here are the 2-D toy
    ones: 2-d noise, ReLU MLPs, linear output, data in its own coordinates).
    """

    conditional = False

    def __init__(self, data_shape=(2,), clusters=50, latent_dim=2, hidden=(256, 256), g_activation="relu",
                 d_activation="relu", out_activation=None, shift=0.0, scale=1.0, **kwargs):
        super().__init__(data_shape, num_classes=clusters, latent_dim=latent_dim, hidden=hidden,
                         g_activation=g_activation, d_activation=d_activation, out_activation=out_activation,
                         shift=shift, scale=scale, **kwargs)
        self.clusters = int(clusters)
        self.register_buffer("centroids", Tensor(np.zeros((self.clusters, self.data_dim), np.float32)))
        self.register_buffer("cluster_weights", Tensor(np.full(self.clusters, 1.0 / self.clusters, np.float32)))

    def fit_clusters(self, x, seed=0):
        """k-means on data ``x`` (data coordinates); sets ``centroids`` and ``cluster_weights``."""
        xm = self.to_model_space(x).numpy().reshape(len(x), -1)
        c, lab = kmeans(xm, self.clusters, seed)
        cent = np.zeros((self.clusters, self.data_dim), np.float32)
        cent[:len(c)] = c
        w = np.bincount(lab, minlength=self.clusters).astype(np.float64)
        self.centroids.data[...] = _on_device_of(cent, self.centroids.data)
        self.cluster_weights.data[...] = _on_device_of((w / w.sum()).astype(np.float32), self.centroids.data)
        return self

    def assign(self, x_model):
        """Nearest-centroid cluster of model-space examples (NumPy int64)."""
        xm = (x_model.numpy() if isinstance(x_model, Tensor) else np.asarray(x_model)).reshape(len(x_model), -1)
        c = self.centroids.numpy()
        dist = (xm * xm).sum(1)[:, None] + (c * c).sum(1)[None, :] - 2 * xm @ c.T
        return dist.argmin(1).astype(np.int64)

    def training_labels(self, real, labels=None):
        return self.assign(real)

    def _sample_labels(self, labels, n):
        if labels is not None:
            raise ValueError("SelfConditionedGAN is unconditional: sample(n) takes no labels")
        from ..random import generator
        w = self.cluster_weights.numpy().astype(np.float64)
        return generator("cpu").choice(self.clusters, size=int(n), p=w / w.sum()).astype(np.int64)

    def sample(self, n, labels=None, ema=True):
        """n samples: a cluster drawn by its share of the data, then G(z, cluster)."""
        return AdversarialModel.sample(self, n, labels, ema)


def _on_device_of(a, like):
    """NumPy array ``a`` on the device of array ``like``."""
    return backend.to_device(a, backend.device_of(like))
