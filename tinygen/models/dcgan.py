"""DCGAN (Radford et al., 2016): a GAN whose players are convolutional networks.

    [Noise z (+ Label y)] → Linear → (C, H/4, W/4) → ConvTranspose2d ×2 → [Fake image]
    [Image (+ label maps)] → Conv2d (stride 2) ×2 → Linear → logit

The architecture guidelines of the paper, which made GANs on images train reliably:

* G upsamples with strided transposed convolutions (no pooling), with batch normalisation and ReLU
  after every layer but the last, which is tanh (images in [−1, 1]).
* D downsamples with strided convolutions and LeakyReLU(0.2), batch normalisation on all but the
  first layer (none at all with ``loss="wgan-gp"``: the gradient penalty is per example and
  batch statistics would couple the examples).

Two transposed convolutions with kernel 4, stride 2, padding 1 double the side twice, so the
image side must be a multiple of 4: 8×8 digits start from 2×2 and 28×28 MNIST from 7×7.

:class:`ConditionalDCGAN` feeds the label to G as a code concatenated to z and to D as
``code_dim`` constant feature maps stacked onto the image channels. Losses, packing (k images
become k·C channels), EMA and sampling are the GAN's (:class:`tinygen.models.gan.AdversarialModel`).
"""
from __future__ import annotations

from .. import nn
from ..creation import ones
from ..functions import cat
from .cgan import LabelCode, _ConditionalMixin
from .gan import AdversarialModel, pack_examples


class _DCGenerator(nn.Module):
    """z (B, in_dim) → Linear → BN → ReLU → (C, s, s) → ConvT → BN → ReLU → ConvT → tanh (B, ch, 4s, 4s)."""

    def __init__(self, in_dim, channels, image_shape, width, batch_norm=True, code=None):
        super().__init__()
        h, w = image_shape
        self.base = (h // 4, w // 4)
        self.width = int(width)
        self.code = code
        self.project = nn.Linear(in_dim, self.width * self.base[0] * self.base[1])
        layers = []
        if batch_norm:
            layers.append(nn.BatchNorm1d(self.width * self.base[0] * self.base[1]))
        layers.append(nn.ReLU())
        self.pre = nn.Sequential(*layers)
        up = [nn.ConvTranspose2d(self.width, self.width // 2, 4, 2, 1)]
        if batch_norm:
            up.append(nn.BatchNorm2d(self.width // 2))
        up += [nn.ReLU(), nn.ConvTranspose2d(self.width // 2, channels, 4, 2, 1), nn.Tanh()]
        self.up = nn.Sequential(*up)

    def forward(self, z, labels=None):
        if self.code is not None:
            z = cat([z, self.code(labels, z)], axis=1)
        h = self.pre(self.project(z)).reshape(z.shape[0], self.width, *self.base)
        return self.up(h)


class _DCDiscriminator(nn.Module):
    """(B, in_ch, H, W) → Conv(4, 2, 1) → LReLU → Conv(4, 2, 1) → [BN] → LReLU → Linear → logit."""

    def __init__(self, in_channels, image_shape, width, batch_norm=True, code=None):
        super().__init__()
        h, w = image_shape
        self.code = code
        layers = [nn.Conv2d(in_channels, width, 4, 2, 1), nn.LeakyReLU(0.2),
                  nn.Conv2d(width, 2 * width, 4, 2, 1)]
        if batch_norm:
            layers.append(nn.BatchNorm2d(2 * width))
        layers += [nn.LeakyReLU(0.2), nn.Flatten(), nn.Linear(2 * width * (h // 4) * (w // 4), 1)]
        self.net = nn.Sequential(*layers)

    def forward(self, x):
        return self.net(x)


class DCGAN(AdversarialModel):
    """The convolutional GAN for (C, H, W) or (H, W) images with H, W multiples of 4.

    Args:
        data_shape: one example's shape, (8, 8) digits, (28, 28) MNIST (a channel axis is added
            inside) or (C, H, W).
        latent_dim: size of z.
        g_width / d_width: channels of G's first feature map / D's first convolution.
        loss, pack, gp_weight, shift, scale: as :class:`tinygen.models.gan.GAN` (data [0, 1] is
            mapped to [−1, 1] by default).
        g_batch_norm, d_batch_norm: batch normalisation in G / D (D's defaults to off for wgan-gp).
    """

    def __init__(self, data_shape=(8, 8), latent_dim=32, g_width=128, d_width=64, loss="nonsaturating",
                 g_batch_norm=True, d_batch_norm=None, pack=1, gp_weight=10.0, shift=0.5, scale=0.5):
        super().__init__()
        data_shape = tuple(int(s) for s in data_shape)
        if len(data_shape) not in (2, 3):
            raise ValueError(f"DCGAN: data_shape must be (H, W) or (C, H, W), got {data_shape}")
        self._setup(latent_dim, loss, pack, gp_weight, data_shape, shift, scale)
        self.image_shape = data_shape[-2:]
        self.channels = data_shape[0] if len(data_shape) == 3 else 1
        if self.image_shape[0] % 4 or self.image_shape[1] % 4:
            raise ValueError(f"DCGAN: image sides must be multiples of 4 (two stride-2 layers), got {self.image_shape}")
        if d_batch_norm is None:
            d_batch_norm = loss != "wgan-gp"
        self.g_width, self.d_width = int(g_width), int(d_width)
        self.g_batch_norm, self.d_batch_norm = bool(g_batch_norm), bool(d_batch_norm)
        self.generator = self._make_generator()
        self.discriminator = self._make_discriminator()

    # subclass hooks: the label code's size (0 without labels)
    def _g_code(self):
        return None

    def _make_generator(self):
        code = self._g_code()
        in_dim = self.latent_dim + (code.dim if code is not None else 0)
        return _DCGenerator(in_dim, self.channels, self.image_shape, self.g_width, self.g_batch_norm, code)

    def _make_discriminator(self):
        return _DCDiscriminator(self.channels * self.pack, self.image_shape, self.d_width, self.d_batch_norm)

    def generate(self, z, labels=None, ema=False):
        """G(z) in model space, shape (n, *data_shape)."""
        g = self.generator_ema if (ema and self.generator_ema is not None) else self.generator
        return g(z, labels).reshape((z.shape[0],) + self.data_shape)

    def _images(self, x):
        return x.reshape((x.shape[0], self.channels) + tuple(self.image_shape))

    def discriminate(self, x, labels=None):
        """D's logits for model-space images, one per group of ``pack`` images (stacked as channels)."""
        return self.discriminator(pack_examples(self._images(x), self.pack)).reshape(-1)


class ConditionalDCGAN(_ConditionalMixin, DCGAN):
    """DCGAN with labels: G gets [z, code(y)], D gets the image with code(y) as constant maps.

    Extra args: ``num_classes``, ``conditioning`` ("onehot" or "embedding"), ``embed_dim``.
    """

    def __init__(self, data_shape=(8, 8), num_classes=10, conditioning="onehot", embed_dim=None, **kwargs):
        self._cond = (int(num_classes), conditioning, embed_dim)
        self.__dict__["num_classes"] = int(num_classes)
        super().__init__(data_shape, **kwargs)
        self.conditioning = conditioning

    def _g_code(self):
        return LabelCode(*self._cond)

    def _make_discriminator(self):
        code = LabelCode(*self._cond)
        return _DCDiscriminator((self.channels + code.dim) * self.pack, self.image_shape, self.d_width,
                                self.d_batch_norm, code)

    def discriminate(self, x, labels=None):
        if labels is None:
            raise ValueError("ConditionalDCGAN: the discriminator needs the labels")
        img = self._images(x)
        d = self.discriminator
        c = d.code(labels, img)                                    # (B, code_dim)
        h, w = self.image_shape
        maps = c.reshape(c.shape[0], c.shape[1], 1, 1) * ones((1, 1, h, w), dtype=img.dtype, device=img.device)
        return d(pack_examples(cat([img, maps], axis=1), self.pack)).reshape(-1)
