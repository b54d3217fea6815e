"""Generative adversarial network (Goodfellow et al., 2014), the MLP version.

    [Noise z] → [Generator G] → [Fake G(z)] → [Discriminator D] ← [Real x]

Two networks play a game. D looks at one example and says how likely it is to be real,
D(x) = σ(logit(x)); G turns noise z ~ N(0, I) into examples and wants D to take them for real.
The value of the game is the minimax objective

    min_G max_D  V(D, G) = E_x[log D(x)] + E_z[log(1 − D(G(z)))].

* D maximises V: that is ordinary binary cross-entropy with target 1 for real and 0 for fake,
  ``L_D = −V = BCE(D(x), 1) + BCE(D(G(z)), 0)`` (:func:`tinygen.losses.gan_d_loss`).
* G minimises V. Its part of V is ``log(1 − D(G(z)))``, the **saturating** (minimax) loss. Early
  in training D rejects fakes confidently, D(G(z)) ≈ 0, and there the gradient of
  log(1 − σ(f)) with respect to the logit f is −σ(f) ≈ 0: G learns nothing. The
  **non-saturating** loss ``−log D(G(z))`` has the same fixed point but gradient σ(f) − 1 ≈ −1
  there, which is why everyone uses it (:func:`tinygen.losses.gan_g_loss`).
* ``loss="wgan-gp"``: D becomes a critic with unbounded scores, L_D = E[C(G(z))] − E[C(x)] plus
  λ·E[(‖∇C(x̂)‖ − 1)²] on interpolates x̂ (Gulrajani et al., 2017). The penalty's gradient
  with respect to D's weights needs the gradient of a gradient: double backward through
  ``tg.grad(..., create_graph=True)`` (:func:`tinygen.losses.gradient_penalty`).
* ``loss="hinge"``: L_D = E[relu(1 − D(x))] + E[relu(1 + D(G(z)))], L_G = −E[D(G(z))].

Two options against mode collapse live in the architecture: ``g_batch_norm`` (batch
normalisation in G's hidden layers) and ``pack`` (PacGAN, Lin et al. 2018: D judges ``pack``
examples at once, concatenated, so a G that puts all its samples on one mode is easy to spot).
The training loop with the other tips (label smoothing, instance noise, separate learning rates,
several D or G steps, an EMA of G) is :mod:`tinygen.models.gan_tricks`.

The model works in its own coordinates: data are mapped to the model space by
``(x − shift) / scale`` (digits: [0, 1] → [−1, 1] for a tanh generator) and ``sample`` maps back,
so samples always come out in the data's own range.
"""
from __future__ import annotations

import numpy as np

from .. import losses as L
from .. import nn
from ..random import normal_array
from ..tensor import Tensor
from ..autograd.engine import grad
from ..autograd.grad_mode import enable_grad, no_grad

LOSSES = ("minimax", "nonsaturating", "wgan-gp", "hinge")


def _activation(name, negative_slope=0.2):
    if name == "relu":
        return nn.ReLU()
    if name in ("leaky_relu", "lrelu", "leakyrelu"):
        return nn.LeakyReLU(negative_slope)
    if name == "tanh":
        return nn.Tanh()
    raise ValueError(f"unknown activation {name!r}; use 'relu', 'leaky_relu' or 'tanh'")


def mlp(sizes, activation="relu", out_activation=None, batch_norm=False, negative_slope=0.2):
    """A Sequential MLP: Linear(sizes[0], sizes[1]) → [BatchNorm1d] → act → … → Linear(…, sizes[-1])
    → out_activation (None, "tanh" or "sigmoid")."""
    sizes = [int(s) for s in sizes]
    layers = []
    for i in range(len(sizes) - 1):
        last = i == len(sizes) - 2
        layers.append(nn.Linear(sizes[i], sizes[i + 1]))
        if not last:
            if batch_norm:
                layers.append(nn.BatchNorm1d(sizes[i + 1]))
            layers.append(_activation(activation, negative_slope))
    if out_activation == "tanh":
        layers.append(nn.Tanh())
    elif out_activation == "sigmoid":
        layers.append(nn.Sigmoid())
    elif out_activation is not None:
        raise ValueError(f"unknown output activation {out_activation!r}; use None, 'tanh' or 'sigmoid'")
    return nn.Sequential(*layers)


def pack_examples(x, k):
    """PacGAN packing: (B, F...) → (B/k, k·F0, F1...), k consecutive examples side by side.

    For rows of features that is concatenating k rows; for images (B, C, H, W) it stacks the k
    images as k·C channels. B must be a multiple of k.
    """
    if k == 1:
        return x
    b = x.shape[0]
    if b % k:
        raise ValueError(f"pack={k}: the batch of {b} examples is not a multiple of {k}")
    return x.reshape((b // k, k * x.shape[1]) + tuple(x.shape[2:]))


class AdversarialModel(nn.Module):
    """What every GAN in tinygen shares: latent noise, the four losses, packing, EMA, sampling.

    Subclasses build ``self.generator`` (model-space examples from (z[, labels])) and
    ``self.discriminator`` (one logit per packed group) and define ``generate`` and
    ``_d_input`` (the per-example input of D: the example, plus the label for conditional models).
    """

    conditional = False

    def _setup(self, latent_dim, loss, pack, gp_weight, data_shape, shift, scale):
        if loss not in LOSSES:
            raise ValueError(f"unknown GAN loss {loss!r}; choose one of {', '.join(LOSSES)}")
        if int(pack) < 1:
            raise ValueError(f"pack must be >= 1, got {pack}")
        self.latent_dim = int(latent_dim)
        self.loss_type = loss
        self.pack = int(pack)
        self.gp_weight = float(gp_weight)
        self.data_shape = tuple(int(s) for s in data_shape)
        # data = model · scale + shift (per feature or scalar), stored so checkpoints carry them
        self.register_buffer("shift", Tensor(np.broadcast_to(np.asarray(shift, np.float32), self.data_shape).copy()))
        self.register_buffer("scale", Tensor(np.broadcast_to(np.asarray(scale, np.float32), self.data_shape).copy()))
        # sampling-time truncations (both off by default): the truncation trick's ψ (see
        # sample_latent) and the log-density threshold of the D-free density truncation
        self.register_buffer("truncation", Tensor(np.array(0.0, np.float32)))
        self.register_buffer("density_threshold", Tensor(np.array(-np.inf, np.float32)))
        self.generator_ema = None

    # ------------------------------------------------------------------ spaces
    def to_model_space(self, x):
        """Data coordinates → the model's (e.g. digits [0, 1] → [−1, 1])."""
        x = x if isinstance(x, Tensor) else Tensor(np.asarray(x, dtype=np.float32), device=self.shift.device)
        return (x - self.shift) / self.scale

    def to_data_space(self, x):
        return x * self.scale + self.shift

    def sample_latent(self, n, truncation=0.0):
        """z ~ N(0, I), shape (n, latent_dim), from tinygen's seeded generator.

        ``truncation`` ψ > 0: the truncation trick (Brock et al. 2019), every coordinate with
        |zᵢ| > ψ is drawn again, trading diversity for typical, cleaner samples. Only sampling
        uses it; training always draws from the full prior.
        """
        dev = self.shift.device
        z = normal_array((int(n), self.latent_dim), np.float32, "cpu")
        if truncation > 0:
            bad = np.abs(z) > truncation
            while bad.any():
                z[bad] = normal_array((int(bad.sum()),), np.float32, "cpu")
                bad = np.abs(z) > truncation
        return Tensor(z, device=dev)

    # ------------------------------------------------------------------ the two players
    def generate(self, z, labels=None, ema=False):
        raise NotImplementedError

    def _d_input(self, x, labels=None):
        return x

    def training_labels(self, real, labels=None):
        """The labels D and G play with for a (model-space) real batch: the data's own labels for
        conditional models, none otherwise (self-conditioned models compute their own)."""
        return labels if self.conditional else None

    def discriminate(self, x, labels=None):
        """D's logits (scores, for wgan-gp and hinge) for model-space examples x: one per group of
        ``pack`` consecutive examples, shape (B / pack,)."""
        return self.discriminator(pack_examples(self._d_input(x, labels), self.pack)).reshape(-1)

    # ------------------------------------------------------------------ losses
    def d_loss(self, real, fake, labels=None, label_smoothing=0.0, r1=0.0):
        """The discriminator's loss on model-space real and (detached) fake batches.

        minimax / nonsaturating: −V(D, G) = BCE(D(x), 1 − s) + BCE(D(G(z)), 0) (s: one-sided
        label smoothing); wgan-gp: E[C(fake)] − E[C(real)] + λ·GP; hinge: the hinge loss.
        ``r1`` > 0 adds the R1 regulariser (r1/2)·E‖∇ₓD(x)‖² on real data (Mescheder et al.
        2018), another gradient penalty through double backward: it stops D from growing steep
        around the data, which is what makes the game oscillate.
        Returns (loss, real_logits, fake_logits).
        """
        if r1:
            real = real.detach().requires_grad_(True)
        r = self.discriminate(real, labels)
        f = self.discriminate(fake, labels)
        if self.loss_type in ("minimax", "nonsaturating"):
            loss = L.gan_d_loss(r, f, label_smoothing=label_smoothing)
        elif self.loss_type == "hinge":
            loss = L.hinge_d_loss(r, f)
        else:
            loss = L.wgan_d_loss(r, f)
            if self.gp_weight:
                gp = L.gradient_penalty(lambda xh: self.discriminate(xh, labels), real.detach(), fake)
                loss = loss + self.gp_weight * gp
        if r1:
            (g,) = grad(r.sum(), real, create_graph=True)
            g = g.reshape(g.shape[0], -1)
            loss = loss + (0.5 * r1) * (g * g).sum(axis=1).mean()
        return loss, r, f

    def g_loss(self, fake, labels=None):
        """The generator's loss on a model-space fake batch (not detached); returns (loss, logits).

        minimax: log(1 − D(G(z))) (saturating); nonsaturating: −log D(G(z)); wgan-gp and hinge:
        −E[D(G(z))].
        """
        f = self.discriminate(fake, labels)
        if self.loss_type == "minimax":
            return L.gan_g_loss(f, saturating=True), f
        if self.loss_type == "nonsaturating":
            return L.gan_g_loss(f), f
        if self.loss_type == "hinge":
            return L.hinge_g_loss(f), f
        return L.wgan_g_loss(f), f

    def loss(self, x, y=None):
        """The game's value as the discriminator's loss −V(D, G) on a data batch x (fresh noise):
        D minimises it, G (minimax form) maximises it. The training loop uses d_loss and g_loss."""
        real = self.to_model_space(x)
        labels = self.training_labels(real, y)
        fake = self.generate(self.sample_latent(real.shape[0]), labels)
        return self.d_loss(real, fake, labels)[0]

    # ------------------------------------------------------------------ EMA of G's weights
    def enable_ema(self):
        """Keep an exponential moving average of G's weights (``generator_ema``), used by
        ``sample``: averaging over the last few thousand steps removes the jitter the game leaves
        in G and gives sharper samples (Yazıcı et al., 2019; Karras et al., 2018)."""
        if self.generator_ema is None:
            self.generator_ema = self._make_generator()
            self.generator_ema.load_state_dict(self.generator.state_dict())
            self.generator_ema.requires_grad_(False)
            self.generator_ema.eval()
        return self

    @no_grad()
    def update_ema(self, decay):
        """θ_ema ← decay·θ_ema + (1 − decay)·θ_G; buffers (batch-norm statistics) are copied."""
        if self.generator_ema is None:
            return
        for pe, p in zip(self.generator_ema.parameters(), self.generator.parameters()):
            pe.data *= decay
            pe.data += (1.0 - decay) * p.data
        for be, b in zip(self.generator_ema.buffers(), self.generator.buffers()):
            be.data[...] = b.data

    # ------------------------------------------------------------------ density truncation
    # When z and x have the same dimension, G is (almost everywhere) a local diffeomorphism and
    # the change-of-variables formula gives the density the generator itself assigns to a sample:
    #     log p_G(G(z)) = log N(z; 0, I) − log |det ∂G/∂z|     (one preimage; folds add others)
    # A G that must cover separated modes from a connected latent space stretches the latent
    # regions between modes over the gaps: the samples that land there have a large |det J| and
    # a low density. Rejecting samples below a density threshold is a truncation that needs only
    # G (no discriminator): the analogue, for multimodal data, of the truncation trick's "stay
    # where the latent density is high".
    def _data_dim(self):
        return int(np.prod(self.data_shape))

    def log_density(self, z, labels=None, ema=True):
        """log p_G(G(z)) in data coordinates by change of variables (latent_dim == data
        dimension only), a NumPy array (n,)."""
        d = self._data_dim()
        if self.latent_dim != d:
            raise ValueError(f"log_density needs latent_dim == data dimension, got {self.latent_dim} and {d}")
        was = self.training
        self.eval()
        try:
            zt = Tensor(np.asarray(z.numpy() if isinstance(z, Tensor) else z, dtype=self.shift.dtype),
                        device=self.shift.device).requires_grad_(True)
            with enable_grad():
                x = self.generate(zt, labels, ema=ema).reshape(zt.shape[0], d)
                rows = [grad(x[:, i].sum(), zt, retain_graph=i < d - 1)[0].numpy() for i in range(d)]
        finally:
            self.train(was)
        jac = np.stack(rows, axis=1).astype(np.float64)                          # (n, out, in)
        jac = jac * self.scale.numpy().reshape(1, -1, 1).astype(np.float64)      # data coordinates
        _, logdet = np.linalg.slogdet(jac)
        zz = zt.numpy().astype(np.float64)
        return -0.5 * (zz * zz).sum(axis=1) - 0.5 * d * np.log(2 * np.pi) - logdet

    def calibrate_truncation(self, quantile, n=20000):
        """Set the density threshold to the ``quantile`` of log p_G over n fresh samples, so that
        ``sample`` rejects that share of what G draws; 0 turns the density truncation off.
        Returns the threshold."""
        if quantile <= 0:
            self.density_threshold.data[...] = -np.inf
            return float("-inf")
        logp = self.log_density(self.sample_latent(n), self._sample_labels(None, n))
        thr = float(np.quantile(logp[np.isfinite(logp)], quantile))
        self.density_threshold.data[...] = thr
        return thr

    # ------------------------------------------------------------------ sampling
    def _sample_labels(self, labels, n):
        return labels

    @no_grad()
    def sample(self, n, labels=None, ema=True):
        """n examples in the data's own space and shape, from the EMA generator when there is one,
        with the truncation trick (``truncation`` ψ > 0) and the density truncation (a calibrated
        ``density_threshold``) when set."""
        n = int(n)
        labels = self._sample_labels(labels, n)
        psi = float(self.truncation.numpy())
        thr = float(self.density_threshold.numpy())
        if np.isfinite(thr):            # rejection, slot by slot: each keeps its requested label
            z_out = self.sample_latent(n, psi).numpy()
            pending = np.arange(n)
            for _ in range(200):
                lz = None if labels is None else labels[pending]
                ok = self.log_density(z_out[pending], lz, ema) >= thr
                pending = pending[~ok]
                if not len(pending):
                    break
                z_out[pending] = self.sample_latent(len(pending), psi).numpy()
            z = Tensor(z_out, device=self.shift.device)
        else:
            z = self.sample_latent(n, psi)
        was = self.training
        self.eval()
        try:
            x = self.generate(z, labels, ema=ema)
        finally:
            self.train(was)
        return self.to_data_space(x)

    def forward(self, z, labels=None):
        return self.generate(z, labels)


class GAN(AdversarialModel):
    """The MLP GAN for 2-D toys and flattened images.

    Args:
        data_shape: shape of one example ((2,) for toys, (8, 8) for digits).
        latent_dim: size of z.
        hidden: hidden widths of G (D mirrors them unless ``d_hidden`` is given).
        loss: "minimax" (saturating G loss), "nonsaturating", "wgan-gp" or "hinge".
        g_activation / d_activation: "relu" or "leaky_relu" (slope 0.2).
        out_activation: G's output, None (linear, toys) or "tanh" (images in [−1, 1]).
        g_batch_norm: BatchNorm1d after each hidden layer of G (a tip against mode collapse).
        pack: PacGAN degree (D sees ``pack`` examples at once).
        gp_weight: λ of the gradient penalty (wgan-gp).
        shift, scale: data = model · scale + shift.
    """

    def __init__(self, data_shape=(2,), latent_dim=2, hidden=(256, 256), d_hidden=None,
                 loss="nonsaturating", g_activation="relu", d_activation="relu", out_activation=None,
                 g_batch_norm=False, pack=1, gp_weight=10.0, shift=0.0, scale=1.0):
        super().__init__()
        data_shape = (int(data_shape),) if np.isscalar(data_shape) else tuple(data_shape)
        self._setup(latent_dim, loss, pack, gp_weight, data_shape, shift, scale)
        self.data_dim = int(np.prod(self.data_shape))
        self.hidden = tuple(int(h) for h in hidden)
        self.d_hidden = self.hidden if d_hidden is None else tuple(int(h) for h in d_hidden)
        self._g_kw = dict(activation=g_activation, out_activation=out_activation, batch_norm=g_batch_norm)
        self.generator = self._make_generator()
        self.discriminator = mlp((self.data_dim * self.pack,) + self.d_hidden + (1,), d_activation)

    def _make_generator(self):
        return mlp((self.latent_dim,) + self.hidden + (self.data_dim,), **self._g_kw)

    def generate(self, z, labels=None, ema=False):
        """G(z) in model space, shape (n, *data_shape)."""
        g = self.generator_ema if (ema and self.generator_ema is not None) else self.generator
        return g(z).reshape((z.shape[0],) + self.data_shape)

    def _d_input(self, x, labels=None):
        return x.reshape(x.shape[0], -1)
