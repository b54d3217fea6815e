"""Autoencoders: learn to copy the input through a narrow code, and keep the code.

    [Input] → [Encoder] → [Code] → [Decoder] → [Output]
       x         f          z = f(x)    g       x' = g(f(x))

An autoencoder is two networks trained together. The encoder ``f`` squeezes an example into a
short code ``z`` (the bottleneck: 16 numbers for a 64-pixel digit); the decoder ``g`` rebuilds
the example from the code alone. Training minimises the reconstruction loss

    L_AE = ‖x − x'‖²                      (MSE, for continuous data)
    L_AE = BCE(x, x') = −Σ x log x' + (1 − x) log(1 − x')    (for data in [0, 1])

and because the code is too small to memorise everything, the network must keep what matters.
What the trained pair is good for:

* compression / dimensionality reduction: ``encode(x)`` is the compressed form, ``decode(z)``
  brings it back (lossy);
* anomaly detection: examples unlike the training data reconstruct badly, so the per-example
  ``reconstruction_error(x)`` is an anomaly score;
* denoising: :class:`DenoisingAutoencoder` (below) is shown corrupted inputs and asked for the
  clean ones:

    [Noisy Input] → [Encoder] → [Code] → [Decoder] → [Clean Output]

* feature learning: the code is a learned representation for other models.

A plain autoencoder is not a generative model: nothing says which codes are valid. ``sample(n)``
here decodes codes drawn from a Gaussian fitted to the training codes (``fit_code_distribution``),
a crude but honest generator; the :class:`~tinygen.models.vae.VAE` does this properly.

Two architectures share one interface: an MLP (``conv=False``: flatten, Linear layers) and a
small convolutional network (``conv=True``: strided convolutions down, transposed convolutions up)
for images. Inputs are arrays or Tensors of shape (N, *input_shape), e.g. (N, 8, 8) digits.
"""
from __future__ import annotations

import math
from typing import Optional, Sequence, Tuple

import numpy as np

from .. import losses as L
from .. import nn
from ..autograd.grad_mode import no_grad
from ..random import normal_array, uniform_array
from ..tensor import Tensor

__all__ = ["Autoencoder", "DenoisingAutoencoder", "mlp", "ConvEncoder", "ConvDecoder"]

ACTIVATIONS = {
    "relu": nn.ReLU,
    "leaky_relu": lambda: nn.LeakyReLU(0.2),
    "elu": nn.ELU,
    "gelu": nn.GELU,
    "silu": nn.SiLU,
    "tanh": nn.Tanh,
}


# ---------------------------------------------------------------------------------------------
# building blocks shared with the VAE
# ---------------------------------------------------------------------------------------------

def _activation(name: str):
    if name not in ACTIVATIONS:
        raise ValueError(f"unknown activation {name!r}; choose one of {', '.join(ACTIVATIONS)}")
    return ACTIVATIONS[name]()


def _shape(input_shape) -> Tuple[int, ...]:
    if isinstance(input_shape, (int, np.integer)):
        input_shape = (int(input_shape),)
    shape = tuple(int(s) for s in input_shape)
    if not shape or any(s < 1 for s in shape):
        raise ValueError(f"input_shape must be a positive int or tuple of positive ints, got {input_shape!r}")
    return shape


def _sizes(hidden, what="hidden") -> Tuple[int, ...]:
    if isinstance(hidden, (int, np.integer)):
        hidden = (int(hidden),)
    sizes = tuple(int(h) for h in hidden)
    if any(h < 1 for h in sizes):
        raise ValueError(f"{what} sizes must be positive, got {hidden!r}")
    return sizes


def mlp(sizes: Sequence[int], activation: str = "relu") -> nn.Sequential:
    """Linear layers ``sizes[0] → sizes[1] → … → sizes[-1]`` with ``activation`` between them
    (none after the last: it produces codes, logits or means)."""
    layers = []
    for i, (a, b) in enumerate(zip(sizes[:-1], sizes[1:])):
        layers.append(nn.Linear(a, b))
        if i < len(sizes) - 2:
            layers.append(_activation(activation))
    return nn.Sequential(*layers)


def _image_shape(shape):
    """(H, W) → (1, H, W); (C, H, W) stays; anything else cannot go through a conv net."""
    if len(shape) == 2:
        return (1,) + shape
    if len(shape) == 3:
        return shape
    raise ValueError(f"conv=True needs image inputs (H, W) or (C, H, W), got input_shape {shape}")


class ConvEncoder(nn.Module):
    """Image (C, H, W) → vector of ``out_features``.

    A 3×3 convolution to ``channels[0]``, then one layer per further entry of ``channels``: a
    4×4 stride-2 convolution that halves the picture while it stays even and at least 8 pixels
    (8×8 → 4×4; 28×28 → 14×14 → 7×7), else a 3×3 convolution; then Flatten and a Linear layer.
    ``halvings`` records which layers halved, so :class:`ConvDecoder` can mirror them.
    """

    def __init__(self, image_shape, channels=(32, 64), out_features=16, activation="relu"):
        super().__init__()
        c, h, w = _image_shape(tuple(image_shape))
        channels = _sizes(channels, "channels")
        layers = [nn.Conv2d(c, channels[0], 3, padding=1), _activation(activation)]
        halvings = []
        for c_in, c_out in zip(channels[:-1], channels[1:]):
            halve = h % 2 == 0 and w % 2 == 0 and h >= 8 and w >= 8
            if halve:
                layers.append(nn.Conv2d(c_in, c_out, 4, stride=2, padding=1))
                h, w = h // 2, w // 2
            else:
                layers.append(nn.Conv2d(c_in, c_out, 3, padding=1))
            layers.append(_activation(activation))
            halvings.append(halve)
        layers += [nn.Flatten(), nn.Linear(channels[-1] * h * w, out_features)]
        self.net = nn.Sequential(*layers)
        self.halvings = tuple(halvings)
        self.feature_shape = (channels[-1], h, w)

    def forward(self, x):
        return self.net(x)


class ConvDecoder(nn.Module):
    """Vector → image (C, H, W): the mirror image of :class:`ConvEncoder` (a Linear layer to the
    smallest feature map, 4×4 stride-2 transposed convolutions where the encoder halved, 3×3
    convolutions elsewhere, and a final 3×3 convolution to ``out_channels``; no activation at the
    end, so the output is logits or means)."""

    def __init__(self, image_shape, channels=(32, 64), in_features=16, out_channels=None,
                 activation="relu"):
        super().__init__()
        c, h, w = _image_shape(tuple(image_shape))
        channels = _sizes(channels, "channels")
        probe = ConvEncoder((c, h, w), channels, 1, activation)   # the geometry to mirror
        fc, fh, fw = probe.feature_shape
        layers = [nn.Linear(in_features, fc * fh * fw), _activation(activation),
                  nn.Unflatten(1, (fc, fh, fw))]
        for c_in, c_out, halve in reversed(list(zip(channels[:-1], channels[1:], probe.halvings))):
            if halve:
                layers.append(nn.ConvTranspose2d(c_out, c_in, 4, stride=2, padding=1))
            else:
                layers.append(nn.Conv2d(c_out, c_in, 3, padding=1))
            layers.append(_activation(activation))
        layers.append(nn.Conv2d(channels[0], out_channels or c, 3, padding=1))
        self.net = nn.Sequential(*layers)

    def forward(self, z):
        return self.net(z)


class _DataSpaceMixin:
    """Turning user inputs into Tensors of the model's dtype and device, in the network's layout."""

    def _param(self):
        return next(iter(self.parameters()))

    def _as_input(self, x, what="x"):
        """(N, *input_shape) or (N, D) arrays/Tensors → Tensor (N, D) for MLPs, (N, C, H, W) for convs."""
        p = self._param()
        t = x if isinstance(x, Tensor) else Tensor(x if hasattr(x, "shape") else np.asarray(x, np.float32))
        if t.device != p.device:
            t = t.to(p.device)
        if t.dtype != p.dtype:
            t = t.astype(p.dtype)
        size = int(np.prod(self.input_shape))
        if t.ndim == 0 or (t.ndim == 1 and t.size != size) or (t.ndim > 1 and int(np.prod(t.shape[1:])) != size):
            raise ValueError(f"{type(self).__name__}: {what} has shape {tuple(t.shape)}, expected "
                             f"(N, {', '.join(map(str, self.input_shape))}) or (N, {size})")
        n = t.shape[0] if t.ndim > 1 else 1
        return t.reshape(n, *self._net_shape)

    def _to_data_shape(self, t):
        return t.reshape(t.shape[0], *self.input_shape)


# ---------------------------------------------------------------------------------------------
# the autoencoder
# ---------------------------------------------------------------------------------------------

class Autoencoder(_DataSpaceMixin, nn.Module):
    """x → encoder → code z → decoder → x', trained to make x' ≈ x.

    Args:
      input_shape: shape of one example, e.g. (8, 8) for digits, 784 or (28, 28) for MNIST.
      latent_dim: size of the code (the bottleneck).
      hidden: MLP hidden sizes, encoder order (the decoder mirrors them): (256, 128) gives
        D → 256 → 128 → latent → 128 → 256 → D.
      conv: use the convolutional encoder/decoder (images only); ``channels`` sets their widths.
      loss: ``"mse"`` (mean squared error, any data) or ``"bce"`` (binary cross-entropy, data in
        [0, 1]; the decoder then produces logits and ``decode`` applies the sigmoid).
      output_activation: for ``loss="mse"``, ``"sigmoid"`` keeps outputs in (0, 1) (images) and
        ``None`` leaves them unbounded (any real data).
      activation: hidden-layer nonlinearity (relu, leaky_relu, elu, gelu, silu, tanh).
    """

    def __init__(self, input_shape, latent_dim: int = 16, hidden=(256, 128), conv: bool = False,
                 channels=(32, 64), loss: str = "mse", output_activation: Optional[str] = "sigmoid",
                 activation: str = "relu"):
        super().__init__()
        self.input_shape = _shape(input_shape)
        self.latent_dim = int(latent_dim)
        if self.latent_dim < 1:
            raise ValueError(f"latent_dim must be at least 1, got {latent_dim}")
        if loss not in ("mse", "bce"):
            raise ValueError(f"loss must be 'mse' or 'bce', got {loss!r}")
        if output_activation not in (None, "none", "sigmoid"):
            raise ValueError(f"output_activation must be 'sigmoid' or None, got {output_activation!r}")
        self.loss_type = loss
        self.output_activation = "sigmoid" if loss == "bce" else (
            None if output_activation in (None, "none") else output_activation)
        self.conv = bool(conv)
        d = int(np.prod(self.input_shape))
        if self.conv:
            self._net_shape = _image_shape(self.input_shape)
            self.encoder = ConvEncoder(self._net_shape, channels, self.latent_dim, activation)
            self.decoder = ConvDecoder(self._net_shape, channels, self.latent_dim, activation=activation)
        else:
            self._net_shape = (d,)
            sizes = (d,) + _sizes(hidden) + (self.latent_dim,)
            self.encoder = mlp(sizes, activation)
            self.decoder = mlp(sizes[::-1], activation)
        # A Gaussian over the training codes, for sample(): N(code_mean, L Lᵀ), L = code_scale.
        self.register_buffer("code_mean", Tensor(np.zeros(self.latent_dim, np.float32)))
        self.register_buffer("code_scale", Tensor(np.eye(self.latent_dim, dtype=np.float32)))

    # ---- the two halves -----------------------------------------------------------------
    def encode(self, x):
        """Codes z = f(x), shape (N, latent_dim)."""
        return self.encoder(self._as_input(x))

    def decode_logits(self, z):
        """The decoder's raw output in the network's layout (logits for BCE, pre-activations else)."""
        return self.decoder(z)

    def _output(self, raw):
        return raw.sigmoid() if self.output_activation == "sigmoid" else raw

    def decode(self, z):
        """x' = g(z) in data space, shape (N, *input_shape)."""
        return self._to_data_shape(self._output(self.decode_logits(z)))

    def reconstruct(self, x):
        """x' = g(f(x)), shape (N, *input_shape)."""
        return self.decode(self.encode(x))

    def forward(self, x):
        return self.reconstruct(x)

    # ---- the loss ----------------------------------------------------------------------
    def _reconstruction_loss(self, raw, target, reduction):
        """Per-element loss of decoder output ``raw`` against ``target`` (both in network layout)."""
        if self.loss_type == "bce":
            return L.bce_with_logits(raw, target, reduction=reduction)
        return L.mse(self._output(raw), target, reduction=reduction)

    def loss(self, x):
        """The training objective: reconstruction loss averaged over every element of the batch
        (MSE as ``torch.nn.MSELoss()``; BCE as ``BCEWithLogitsLoss()``)."""
        x = self._as_input(x)
        return self._reconstruction_loss(self.decode_logits(self.encoder(x)), x, "mean")

    def reconstruction_error(self, x):
        """Per-example reconstruction loss (mean over the example's elements), shape (N,), no
        gradient. Large values flag examples unlike the training data (anomaly detection)."""
        with no_grad():
            x = self._as_input(x)
            per = self._reconstruction_loss(self.decode_logits(self.encoder(x)), x, "none")
            return per.reshape(per.shape[0], -1).mean(axis=1)

    # ---- a crude generator -------------------------------------------------------------
    def fit_code_distribution(self, x, batch_size: int = 1024):
        """Fit N(mean, covariance) to the codes of ``x`` (the training data), for :meth:`sample`."""
        with no_grad():
            was_training = self.training
            self.eval()
            codes = np.concatenate([self.encode(x[i:i + batch_size]).numpy()
                                    for i in range(0, len(x), batch_size)]).astype(np.float64)
            self.train(was_training)
        mean = codes.mean(axis=0)
        cov = np.cov(codes, rowvar=False).reshape(self.latent_dim, self.latent_dim) if len(codes) > 1 \
            else np.zeros((self.latent_dim, self.latent_dim))
        scale = np.linalg.cholesky(cov + 1e-6 * (np.trace(cov) / self.latent_dim + 1e-12) * np.eye(self.latent_dim))
        dtype = self.code_mean.dtype
        self.code_mean.data[...] = Tensor(mean.astype(dtype), device=self.code_mean.device).data
        self.code_scale.data[...] = Tensor(scale.astype(dtype), device=self.code_scale.device).data
        return self

    def sample(self, n: int):
        """Decode ``n`` codes drawn from the Gaussian fitted by :meth:`fit_code_distribution`
        (N(0, I) before any fit): (n, *input_shape). Not a principled generator: see VAE."""
        with no_grad():
            p = self.code_mean
            eps = Tensor(normal_array((int(n), self.latent_dim), dtype=p.dtype, device=p.device))
            z = self.code_mean + eps @ self.code_scale.T
            return self.decode(z)


# ---------------------------------------------------------------------------------------------
# the denoising autoencoder
# ---------------------------------------------------------------------------------------------

NOISES = ("gaussian", "salt_pepper", "masking")


class DenoisingAutoencoder(Autoencoder):
    """An autoencoder shown corrupted inputs and trained to give back the clean ones.

        [Noisy Input] → [Encoder] → [Code] → [Decoder] → [Clean Output]
         x̃ = corrupt(x)                                   x' ≈ x

        L_DAE = ‖x − g(f(x̃))‖²

    Copying is no longer enough: to undo the noise the network must learn what clean data looks
    like, which makes it a denoiser and usually gives more robust codes. Corruptions:

    * ``"gaussian"``: x̃ = x + σ·ε, ε ~ N(0, 1), σ = ``noise_level``;
    * ``"salt_pepper"``: each element is, with probability ``noise_level``, set to the low or
      the high end of ``clip`` (half each; 0 and 1 when ``clip`` is None);
    * ``"masking"``: each element is, with probability ``noise_level``, set to 0 (dropped).

    ``clip=(lo, hi)`` clips the corrupted input to the data's range (images: (0, 1)).

    The corruption is applied in training only, like dropout: in ``train()`` mode ``loss(x)``
    corrupts x, then reconstructs and compares with the clean x; in ``eval()`` mode ``loss``,
    ``encode`` and ``reconstruct`` see x as given. ``corrupt(x)`` draws a corrupted copy on demand
    (to test the denoiser on noisy inputs).
    """

    def __init__(self, input_shape, latent_dim: int = 16, hidden=(256, 128), conv: bool = False,
                 channels=(32, 64), loss: str = "mse", output_activation: Optional[str] = "sigmoid",
                 activation: str = "relu", noise: str = "gaussian", noise_level: float = 0.3,
                 clip: Optional[Tuple[float, float]] = (0.0, 1.0)):
        super().__init__(input_shape, latent_dim, hidden, conv, channels, loss, output_activation,
                         activation)
        noise = str(noise).replace("-", "_").replace("saltpepper", "salt_pepper")
        if noise not in NOISES:
            raise ValueError(f"noise must be one of {', '.join(NOISES)}, got {noise!r}")
        noise_level = float(noise_level)
        if not math.isfinite(noise_level) or noise_level < 0 or (noise != "gaussian" and noise_level > 1):
            raise ValueError(f"noise_level must be >= 0 (a probability <= 1 for {noise}), got {noise_level}")
        if clip is not None:
            clip = (float(clip[0]), float(clip[1]))
            if not clip[0] < clip[1]:
                raise ValueError(f"clip must be (low, high) with low < high, got {clip}")
        self.noise, self.noise_level, self.clip = noise, noise_level, clip

    def corrupt(self, x):
        """A corrupted copy x̃ of x (same shape as given, no gradient), drawn from tinygen's RNG."""
        with no_grad():
            t = x if isinstance(x, Tensor) else Tensor(x)
            p = self._param()
            t = t.to(p.device).astype(p.dtype) if (t.device != p.device or t.dtype != p.dtype) else t
            shape, dt, dev = tuple(t.shape), t.dtype, t.device
            lo, hi = self.clip if self.clip is not None else (0.0, 1.0)
            if self.noise == "gaussian":
                out = t + self.noise_level * Tensor(normal_array(shape, dtype=dt, device=dev))
            else:
                u = Tensor(uniform_array(shape, dtype=dt, device=dev))
                hit = u < self.noise_level
                if self.noise == "masking":
                    out = t * (~hit).astype(dt)
                else:   # salt and pepper: among the hit elements, u < p/2 → low, else high
                    low = u < self.noise_level / 2
                    out = t * (~hit).astype(dt) + low.astype(dt) * lo + (hit & ~low).astype(dt) * hi
            if self.clip is not None:
                out = out.clip(self.clip[0], self.clip[1])
            return out

    def loss(self, x):
        """Corrupt (in training mode), encode, decode, and compare with the clean x."""
        clean = self._as_input(x)
        noisy = self.corrupt(clean) if self.training else clean
        return self._reconstruction_loss(self.decode_logits(self.encoder(noisy)), clean, "mean")
