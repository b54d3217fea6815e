"""The variational autoencoder (Kingma & Welling, 2014): an autoencoder whose codes are random,
which makes it a generative model.

    [Input] → [Encoder] → [Mean/Var] → [Random Sampling] → [Decoder] → [Generated Output]
       x        q(z|x)      μ, log σ²     z = μ + σ·ε         p(x|z)          x'

Where a plain autoencoder maps x to one code, the VAE's encoder outputs a Gaussian over codes,
q(z|x) = N(μ(x), diag σ²(x)), and the decoder outputs a distribution over data, p(x|z). The
prior over codes is p(z) = N(0, I), so generating is easy: draw z from the prior and decode.

Training maximises the evidence lower bound (ELBO) of every example, a lower bound of log p(x):

    log p(x) ≥ ELBO(x) = E_q(z|x)[log p(x|z)] − KL(q(z|x) ‖ p(z))
                          reconstruction          keeps codes close to the prior

so the loss (the negative ELBO, per example, averaged over the batch) is

    L_VAE = reconstruction loss + β · KL(N(μ, σ²) ‖ N(0, I))
    reconstruction loss = −log p(x|z) = Σ BCE-with-logits(decoder logits, x)   (Bernoulli)
                                      = Σ ½(log 2π + log s² + (x − m)²/s²)       (Gaussian)
    KL = ½ Σⱼ (σⱼ² + μⱼ² − 1 − log σⱼ²)

(β = 1 is the true ELBO; β > 1 trades reconstructions for a smoother, more disentangled latent
space, β < 1 the other way.) The expectation is estimated with one sample, and the
reparameterization trick makes that sample differentiable with respect to μ and σ:

    z = μ + σ · ε,   ε ~ N(0, I)      (the randomness sits in ε, outside the graph)

What a trained VAE is for: generating new data (``sample``), smooth latent spaces
(``interpolate``), likelihood estimates (``elbo``, ``log_likelihood``: an importance-weighted
bound that tightens as k grows), and filling in missing values (``impute``).

Inputs are arrays or Tensors of shape (N, *input_shape); MLP (``conv=False``) or convolutional
(``conv=True``, images) encoder and decoder as in :mod:`tinygen.models.autoencoder`.
"""
from __future__ import annotations

import math

import numpy as np

from .. import functional as F
from .. import losses as L
from .. import nn
from ..autograd.grad_mode import no_grad
from ..backend import to_numpy
from ..functions import cat, stack, where
from ..random import normal_array, uniform_array
from ..tensor import Tensor
from .autoencoder import ConvDecoder, ConvEncoder, _DataSpaceMixin, _image_shape, _shape, _sizes, mlp

__all__ = ["VAE"]

LIKELIHOODS = ("bernoulli", "gaussian")


class VAE(_DataSpaceMixin, nn.Module):
    """Encoder → (μ, log σ²) → z = μ + σ·ε → decoder, trained on reconstruction + β·KL.

    Args:
      input_shape: shape of one example, e.g. (8, 8) for digits, (2,) for 2-D points.
      latent_dim: dimension of z.
      hidden: MLP hidden sizes in encoder order; the decoder mirrors them. (256, 256) with
        latent 8 on digits is the 64-256-256-8 network.
      conv: convolutional encoder/decoder (images); ``channels`` sets their widths.
      likelihood: ``"bernoulli"`` (data in [0, 1]; the decoder gives logits, the reconstruction
        term is BCE-with-logits) or ``"gaussian"`` (any real data; the decoder gives a mean and a
        log-variance per element, bounded below by ``min_logvar``).
      beta: weight of the KL term in the training loss (the ELBO itself always uses 1).
      activation: hidden-layer nonlinearity.
    """

    def __init__(self, input_shape, latent_dim: int = 8, hidden=(256, 256), conv: bool = False,
                 channels=(32, 64), likelihood: str = "bernoulli", beta: float = 1.0,
                 activation: str = "relu", min_logvar: float = -9.0):
        super().__init__()
        self.input_shape = _shape(input_shape)
        self.latent_dim = int(latent_dim)
        if self.latent_dim < 1:
            raise ValueError(f"latent_dim must be at least 1, got {latent_dim}")
        if likelihood not in LIKELIHOODS:
            raise ValueError(f"likelihood must be one of {', '.join(LIKELIHOODS)}, got {likelihood!r}")
        beta = float(beta)
        if not math.isfinite(beta) or beta < 0:
            raise ValueError(f"beta must be a finite number >= 0, got {beta}")
        self.likelihood, self.beta, self.min_logvar = likelihood, beta, float(min_logvar)
        self.conv = bool(conv)
        d = int(np.prod(self.input_shape))
        outputs = 2 if likelihood == "gaussian" else 1           # (mean, logvar) or logits
        if self.conv:
            self._net_shape = _image_shape(self.input_shape)
            c = self._net_shape[0]
            self.encoder = ConvEncoder(self._net_shape, channels, 2 * self.latent_dim, activation)
            self.decoder = ConvDecoder(self._net_shape, channels, self.latent_dim, outputs * c, activation)
        else:
            self._net_shape = (d,)
            hidden = _sizes(hidden)
            self.encoder = mlp((d,) + hidden + (2 * self.latent_dim,), activation)
            self.decoder = mlp((self.latent_dim,) + hidden[::-1] + (outputs * d,), activation)

    # ---- encoder: x → q(z|x) = N(μ, diag σ²) ------------------------------------------
    def encode(self, x):
        """(μ, log σ²) of q(z|x), each (N, latent_dim)."""
        h = self.encoder(self._as_input(x))
        return h[:, :self.latent_dim], h[:, self.latent_dim:]

    def reparameterize(self, mu, logvar):
        """z = μ + σ·ε with ε ~ N(0, I) from tinygen's RNG; differentiable in μ and log σ²."""
        eps = Tensor(normal_array(tuple(mu.shape), dtype=mu.dtype, device=mu.device))
        return mu + (0.5 * logvar).exp() * eps

    # ---- decoder: z → p(x|z) ------------------------------------------------------------
    def decode_params(self, z):
        """The decoder's distribution, in the network's layout: ``(logits, None)`` for Bernoulli,
        ``(mean, logvar)`` for Gaussian (log-variance ≥ min_logvar, via a softplus floor)."""
        out = self.decoder(z)
        if self.likelihood == "bernoulli":
            return out, None
        c = out.shape[1] // 2
        mean, raw = out[:, :c], out[:, c:]
        return mean, self.min_logvar + F.softplus(raw - self.min_logvar)

    def _mean(self, params):
        first, _ = params
        return first.sigmoid() if self.likelihood == "bernoulli" else first

    def decode(self, z):
        """E[x|z], the decoder's mean, in data shape (N, *input_shape) (pixel probabilities for
        Bernoulli)."""
        return self._to_data_shape(self._mean(self.decode_params(z)))

    def _nll(self, params, x, reduction):
        """−log p(x|z): per element ("none"), or summed over everything ("sum")."""
        first, logvar = params
        if self.likelihood == "bernoulli":
            return L.bce_with_logits(first, x, reduction=reduction)
        return L.gaussian_nll(x, first, logvar, reduction=reduction)

    def _per_example(self, t):
        return t.reshape(t.shape[0], -1).sum(axis=1)

    # ---- training objective -------------------------------------------------------------
    def forward(self, x):
        """(reconstruction mean in data shape, μ, log σ²) with one reparameterized sample."""
        mu, logvar = self.encode(x)
        return self.decode(self.reparameterize(mu, logvar)), mu, logvar

    def loss_terms(self, x):
        """The batch means of the reconstruction term, the KL term and the loss
        (= recon + β·KL), per example in nats, as a dict of scalar Tensors."""
        x = self._as_input(x)
        h = self.encoder(x)
        mu, logvar = h[:, :self.latent_dim], h[:, self.latent_dim:]
        params = self.decode_params(self.reparameterize(mu, logvar))
        recon = self._nll(params, x, "sum") / x.shape[0]
        kl = L.kl_normal(mu, logvar, reduction="mean")
        return {"loss": recon + self.beta * kl, "recon": recon, "kl": kl}

    def loss(self, x):
        """Negative ELBO (with β on the KL term), per example, averaged over the batch."""
        return self.loss_terms(x)["loss"]

    # ---- likelihood estimates -------------------------------------------------------------
    def elbo(self, x, n_samples: int = 1):
        """ELBO(x) = E_q[log p(x|z)] − KL(q(z|x) ‖ p(z)) per example in nats, shape (N,), with the
        expectation averaged over ``n_samples`` draws of z (an unbiased estimate). No gradient."""
        with no_grad():
            x = self._as_input(x)
            mu, logvar = self.encode(x)
            kl = L.kl_normal(mu, logvar, reduction="none")
            rec = 0.0
            for _ in range(int(n_samples)):
                params = self.decode_params(self.reparameterize(mu, logvar))
                rec = rec + self._per_example(self._nll(params, x, "none"))
            return -(rec / int(n_samples)) - kl

    def log_likelihood(self, x, k: int = 100, chunk: int = 16384):
        """Importance-weighted estimate of log p(x) per example in nats, shape (N,), no gradient:

            log p(x) ≈ log (1/k) Σᵢ p(x|zᵢ) p(zᵢ) / q(zᵢ|x),   zᵢ ~ q(z|x)

        (Burda et al.'s IWAE bound: ≥ the ELBO in expectation, and → log p(x) as k → ∞.)
        Computed with log-sum-exp; ``chunk`` bounds how many (example, sample) pairs are decoded
        at once.
        """
        k = int(k)
        if k < 1:
            raise ValueError(f"k must be at least 1, got {k}")
        with no_grad():
            x = self._as_input(x)
            n = x.shape[0]
            mu, logvar = self.encode(x)
            per_chunk = max(1, int(chunk) // max(n, 1))
            logw = []
            for start in range(0, k, per_chunk):
                m = min(per_chunk, k - start)
                mu_r = stack([mu] * m).reshape(m * n, -1)
                lv_r = stack([logvar] * m).reshape(m * n, -1)
                x_r = stack([x] * m).reshape(m * n, *x.shape[1:])
                z = self.reparameterize(mu_r, lv_r)
                log_px_z = -self._per_example(self._nll(self.decode_params(z), x_r, "none"))
                log_pz = -0.5 * ((z * z).sum(axis=1) + self.latent_dim * L.LOG_2PI)
                log_qz = -L.gaussian_nll(z, mu_r, lv_r, reduction="none").sum(axis=1)
                logw.append((log_px_z + log_pz - log_qz).reshape(m, n))
            w = cat(logw, axis=0) if len(logw) > 1 else logw[0]
            top = w.max(axis=0, keepdims=True)
            return (top + (w - top).exp().mean(axis=0, keepdims=True).log()).reshape(n)

    # ---- generation and the latent space -----------------------------------------------------
    def sample(self, n: int, mean: bool = True):
        """``n`` new examples: z ~ N(0, I), decoded. ``mean=True`` returns E[x|z] (the usual
        picture: pixel probabilities); ``mean=False`` draws x ~ p(x|z) (0/1 pixels for Bernoulli,
        mean + s·ε for Gaussian). Shape (n, *input_shape), no gradient."""
        with no_grad():
            p = self._param()
            z = Tensor(normal_array((int(n), self.latent_dim), dtype=p.dtype, device=p.device))
            params = self.decode_params(z)
            if mean:
                return self._to_data_shape(self._mean(params))
            first, logvar = params
            if self.likelihood == "bernoulli":
                u = Tensor(uniform_array(tuple(first.shape), dtype=first.dtype, device=first.device))
                x = (u < first.sigmoid()).astype(first.dtype)
            else:
                x = first + (0.5 * logvar).exp() * Tensor(
                    normal_array(tuple(first.shape), dtype=first.dtype, device=first.device))
            return self._to_data_shape(x)

    def reconstruct(self, x):
        """Decode the code's mean μ(x): the VAE's deterministic reconstruction, (N, *input_shape)."""
        with no_grad():
            mu, _ = self.encode(x)
            return self.decode(mu)

    def interpolate(self, x1, x2, steps: int = 10):
        """Decode ``steps`` evenly spaced points on the line between μ(x1) and μ(x2).

        ``x1``, ``x2``: single examples (shape input_shape) → (steps, *input_shape); or batches
        (N, *input_shape) → (N, steps, *input_shape)."""
        steps = int(steps)
        if steps < 2:
            raise ValueError(f"steps must be at least 2, got {steps}")
        single = tuple(np.shape(x1.data if isinstance(x1, Tensor) else x1)) == self.input_shape
        if single:
            x1 = (x1 if isinstance(x1, Tensor) else Tensor(x1)).reshape(1, *self.input_shape)
            x2 = (x2 if isinstance(x2, Tensor) else Tensor(x2)).reshape(1, *self.input_shape)
        with no_grad():
            m1, _ = self.encode(x1)
            m2, _ = self.encode(x2)
            if m1.shape != m2.shape:
                raise ValueError(f"interpolate: x1 and x2 hold different numbers of examples "
                                 f"({m1.shape[0]} and {m2.shape[0]})")
            t = np.linspace(0.0, 1.0, steps, dtype=np.float64)
            zs = stack([m1 * (1.0 - float(a)) + m2 * float(a) for a in t], axis=1)   # (N, steps, D)
            out = self.decode(zs.reshape(-1, self.latent_dim)).reshape(m1.shape[0], steps, *self.input_shape)
            return out[0] if single else out

    # ---- missing data -------------------------------------------------------------------------
    def impute(self, x, mask, iters: int = 50, stochastic: bool = False):
        """Fill in missing values: repeatedly reconstruct and put the observed values back.

            x⁰ = x with missing entries set to a neutral value (0.5 Bernoulli, 0 Gaussian)
            xᵗ⁺¹ = mask · x + (1 − mask) · reconstruct(xᵗ)

        ``mask``: same shape as x, True/1 where the value is observed. ``stochastic=True`` draws
        z ~ q(z|xᵗ) at each step instead of using μ (Rezende et al.'s Markov chain), exploring the
        plausible completions instead of settling on one. Returns a Tensor like x (data shape);
        observed entries are returned unchanged.
        """
        with no_grad():
            xt = self._as_input(x)
            observed = to_numpy(mask.data if isinstance(mask, Tensor) else mask).astype(bool)
            m = self._as_input(observed.astype(np.float32), "mask") > 0.5
            if m.shape != xt.shape:
                raise ValueError(f"impute: mask shape {m.shape} does not match x shape {xt.shape}")
            fill = 0.5 if self.likelihood == "bernoulli" else 0.0
            cur = where(m, xt, fill + 0 * xt)
            for _ in range(int(iters)):
                mu, logvar = self.encode(cur)
                z = self.reparameterize(mu, logvar) if stochastic else mu
                rec = self._mean(self.decode_params(z)).reshape(*xt.shape)
                cur = where(m, xt, rec)
            return self._to_data_shape(cur.reshape(xt.shape[0], -1))
