"""RealNVP (Dinh, Sohl-Dickstein & Bengio, 2017): a normalizing flow of affine coupling layers.

A flow is an invertible map f from data x to a latent z with a simple density, here N(0, I).
The change of variables gives the exact log-likelihood

    log p(x) = log N(f(x); 0, I) + log |det ∂f/∂x|,

so training maximises it directly, and sampling runs the inverse, x = f⁻¹(z), z ~ N(0, I).

1. **Affine coupling.** With a binary mask m, the masked part passes unchanged and conditions
   an affine map of the rest:

       y = m ⊙ x + (1 − m) ⊙ (x ⊙ exp(s(m ⊙ x)) + t(m ⊙ x)),

   whose Jacobian is triangular, so log|det| = Σ (1 − m) ⊙ s, and whose inverse is
   x = m ⊙ y + (1 − m) ⊙ (y − t(m ⊙ y)) ⊙ exp(−s(m ⊙ y)). s and t come from one MLP; the scale
   goes through tanh (times a learned per-dimension factor) so exp(s) stays tame, and the last
   layer starts at zero, so every coupling starts as the identity. Masks alternate (x1|x2 for
   2-D, checkerboard / inverted checkerboard for images) so every coordinate is transformed.

2. **Preprocessing, with its Jacobian counted.**
   - Vectors (2-D toys): a fixed affine standardisation x ↦ (x − shift)/scale, log|det| = −Σ log scale.
   - Images in [0, 1] with ``levels`` pixel values: uniform dequantization y = (k + u)/levels
     (k the integer level, u ~ U[0, 1)) turns the discrete pixels into a continuous density on
     (0, 1)^D (:meth:`RealNVP.dequantize`), and the logit transform
     l = logit(α + (1 − 2α) y) maps it onto ℝ^D, with
     log|dl/dy| = Σ [log(1 − 2α) − log p − log(1 − p)], p = α + (1 − 2α) y.
   ``forward``/``inverse``/``log_prob`` include this step, so ``log_prob`` is the density of the
   model's input coordinates (data coordinates for the toys; dequantized pixels in (0, 1) for
   images) and :meth:`RealNVP.bits_per_dim` is the flow literature's figure:
   bpd = (−log p(y) + D log levels)/(D log 2), the NLL of the dequantized levels k + u ∈ [0, levels)^D.
"""
from __future__ import annotations

import math

import numpy as np

from .. import backend
from .. import functional as F
from .. import random as tgrandom
from ..autograd.grad_mode import no_grad
from ..nn import Linear, Module, ModuleList, Parameter
from ..tensor import Tensor

__all__ = ["RealNVP", "AffineCoupling", "make_masks"]

LOG_2PI = math.log(2.0 * math.pi)


def make_masks(data_shape, n):
    """``n`` alternating binary masks (float64 arrays of the flattened size D).

    Vectors: even/odd coordinates (x1 | x2 for 2-D) alternate with their complement. Images
    (H, W) or (C, H, W): a checkerboard alternates with its complement.
    """
    shape = tuple(data_shape)
    d = int(np.prod(shape))
    if len(shape) >= 2:
        h, w = shape[-2:]
        board = (np.add.outer(np.arange(h), np.arange(w)) % 2).astype(np.float64)
        base = np.broadcast_to(board, shape).reshape(-1)
    else:
        base = (np.arange(d) % 2).astype(np.float64)
    return [base if i % 2 == 0 else 1.0 - base for i in range(n)]


class AffineCoupling(Module):
    """One affine coupling layer on (N, D) vectors with a fixed mask m (see the module docstring).

    h = MLP(m ⊙ x);  s = scale ⊙ tanh(W_s h + b_s) ⊙ (1 − m);  t = (W_t h + b_t) ⊙ (1 − m);
    y = x ⊙ exp(s) + t  (on the masked coordinates s = t = 0, so they pass unchanged).
    """

    def __init__(self, mask, hidden=128, n_hidden=2, activation="relu", dtype=None, device=None):
        super().__init__()
        mask = np.asarray(mask, dtype=np.float64).reshape(-1)
        self.dim = d = len(mask)
        self.hidden, self.n_hidden = int(hidden), int(n_hidden)
        kw = dict(dtype=dtype, device=device)
        sizes = [d] + [self.hidden] * self.n_hidden
        self.layers = ModuleList([Linear(a, b, **kw) for a, b in zip(sizes[:-1], sizes[1:])])
        self.s_out = Linear(sizes[-1], d, **kw)
        self.t_out = Linear(sizes[-1], d, **kw)
        for head in (self.s_out, self.t_out):       # start as the identity map
            head.weight.data[...] = 0
            head.bias.data[...] = 0
        w = self.s_out.weight
        xp = backend.get_array_module(w.data)
        self.scale = Parameter(xp.ones(d, dtype=w.dtype))
        self.register_buffer("mask", Tensor(xp.asarray(mask, dtype=w.dtype)))
        self.register_buffer("inv_mask", Tensor(xp.asarray(1.0 - mask, dtype=w.dtype)), persistent=False)
        if activation not in ("relu", "silu", "tanh"):
            raise ValueError(f"AffineCoupling: activation must be relu, silu or tanh, got {activation!r}")
        self.activation = activation

    def _act(self, h):
        return F.relu(h) if self.activation == "relu" else F.silu(h) if self.activation == "silu" else h.tanh()

    def _s_t(self, xm):
        h = xm
        for layer in self.layers:
            h = self._act(layer(h))
        s = self.s_out(h).tanh() * (self.scale * self.inv_mask)
        t = self.t_out(h) * self.inv_mask
        return s, t

    def forward(self, x):
        """x (N, D) → (y, log|det ∂y/∂x|) with the log-determinant of shape (N,)."""
        s, t = self._s_t(x * self.mask)
        return x * s.exp() + t, s.sum(axis=1)

    def inverse(self, y):
        """y (N, D) → x, the exact inverse of :meth:`forward` (m ⊙ y = m ⊙ x gives the same s, t)."""
        s, t = self._s_t(y * self.mask)
        return (y - t) * (-s).exp()


class RealNVP(Module):
    """A RealNVP flow for examples of shape ``data_shape`` (``(2,)`` toys, ``(8, 8)`` digits).

    Args:
        n_couplings, hidden, n_hidden: number of coupling layers; width and depth of each one's MLP.
        levels: for image data in [0, 1] with that many pixel values (17 for digits, 256 for MNIST):
            switches on dequantization + logit preprocessing (see the module docstring).
        logit_alpha: α of the logit transform (images).
        data_shift, data_scale: standardisation of vector data (x − shift)/scale, Jacobian counted.
        activation: of the coupling MLPs (``relu``, ``silu`` or ``tanh``).
    """

    def __init__(self, data_shape=(2,), n_couplings=8, hidden=128, n_hidden=2, levels=None, logit_alpha=0.05,
                 data_shift=0.0, data_scale=1.0, activation="relu", dtype=None, device=None):
        super().__init__()
        self.data_shape = tuple(int(s) for s in (data_shape if isinstance(data_shape, (tuple, list)) else (data_shape,)))
        self.dim = int(np.prod(self.data_shape))
        self.levels = None if levels is None else int(levels)
        self.logit_alpha = float(logit_alpha)
        if self.levels is not None and not 0 <= self.logit_alpha < 0.5:
            raise ValueError(f"RealNVP: logit_alpha must be in [0, 0.5), got {logit_alpha}")
        self.couplings = ModuleList([AffineCoupling(m, hidden, n_hidden, activation, dtype, device)
                                     for m in make_masks(self.data_shape, n_couplings)])
        from ..creation import zeros
        probe = zeros(1, dtype=dtype if dtype is not None else "float32", device=device)
        xp, dt = backend.get_array_module(probe.data), probe.dtype
        shift = np.broadcast_to(np.asarray(data_shift, dtype=np.float64), self.data_shape).reshape(-1)
        scale = np.broadcast_to(np.asarray(data_scale, dtype=np.float64), self.data_shape).reshape(-1)
        if np.any(scale <= 0):
            raise ValueError("RealNVP: data_scale must be positive")
        self.register_buffer("data_shift", Tensor(xp.asarray(shift, dtype=dt)))
        self.register_buffer("data_scale", Tensor(xp.asarray(scale, dtype=dt)))

    # ------------------------------------------------------------------ plumbing
    @property
    def _dtype(self):
        return self.data_scale.dtype

    def _flat(self, x, what="x"):
        if not isinstance(x, Tensor):
            arr = np.asarray(x) if not hasattr(x, "__cuda_array_interface__") else x
            x = Tensor(backend.to_device(arr, self.data_scale.device))
        if x.dtype != self._dtype:
            x = x.astype(self._dtype)
        if x.ndim < 2 or int(np.prod(x.shape[1:])) != self.dim:
            raise ValueError(f"RealNVP: {what} must be a batch of examples of shape {self.data_shape}, "
                             f"got shape {tuple(x.shape)}")
        return x.reshape(x.shape[0], self.dim)

    # ------------------------------------------------------------------ preprocessing
    def _pre(self, x):
        """Input coordinates → the couplings' space, with log|det| (N,)."""
        n = x.shape[0]
        if self.levels is None:
            h = (x - self.data_shift) / self.data_scale
            ld = -self.data_scale.log().sum() * Tensor(np.ones(n, dtype=self._dtype))
            return h, ld
        a = self.logit_alpha
        p = x * (1.0 - 2.0 * a) + a
        lp, l1p = p.log(), (1.0 - p).log()
        ld = (math.log(1.0 - 2.0 * a) - lp - l1p).sum(axis=1)
        return lp - l1p, ld

    def _post(self, h):
        """The couplings' space → input coordinates (inverse of :meth:`_pre`)."""
        if self.levels is None:
            return h * self.data_scale + self.data_shift
        a = self.logit_alpha
        return (h.sigmoid() - a) / (1.0 - 2.0 * a)

    # ------------------------------------------------------------------ the flow
    def forward(self, x):
        """x (N, *data_shape) → (z (N, *data_shape), log|det ∂z/∂x| (N,)), preprocessing included."""
        shape = x.shape
        h, logdet = self._pre(self._flat(x))
        for c in self.couplings:
            h, ld = c(h)
            logdet = logdet + ld
        return h.reshape(shape), logdet

    def inverse(self, z):
        """z → x = f⁻¹(z), the exact inverse of :meth:`forward` (same shape as z)."""
        shape = z.shape if isinstance(z, Tensor) else np.shape(z)
        h = self._flat(z, "z")
        for c in reversed(self.couplings):
            h = c.inverse(h)
        return self._post(h).reshape(tuple(shape))

    def log_prob(self, x):
        """Exact log-density (N,) in nats of x in the model's input coordinates."""
        z, logdet = self.forward(x)
        z = z.reshape(z.shape[0], self.dim)
        return -0.5 * (z * z).sum(axis=1) - 0.5 * self.dim * LOG_2PI + logdet

    def loss(self, x, y=None):
        """Mean negative log-likelihood per example (nats). For image models ``x`` is the
        quantized data in [0, 1]; it is dequantized with fresh uniform noise first."""
        if self.levels is not None:
            x = self.dequantize(x)
        return -self.log_prob(x).mean()

    # ------------------------------------------------------------------ images: dequantization, bpd
    def dequantize(self, x):
        """Pixels k/(levels − 1) in [0, 1] → (k + u)/levels with u ~ U[0, 1) (a Tensor)."""
        if self.levels is None:
            raise ValueError("RealNVP.dequantize: this model has no pixel levels (build it with levels=...)")
        x = self._flat(x)
        k = (x.data * (self.levels - 1)).round()
        u = tgrandom.uniform_array(tuple(k.shape), dtype=k.dtype, device=x.device)
        return Tensor((k + u) / self.levels).reshape(x.shape)

    def quantize(self, y):
        """Continuous (0, 1) pixels → the data's levels k/(levels − 1), k = ⌊levels·y⌋ (arrays)."""
        xp = backend.get_array_module(y)
        k = xp.clip(xp.floor(y * self.levels), 0, self.levels - 1)
        return k / (self.levels - 1)

    def nll_levels(self, x, n_dequant=1):
        """NLL in nats per example of the dequantized integer levels k + u ∈ [0, levels)^D, averaged
        over ``n_dequant`` draws of u (a NumPy array (N,))."""
        total = 0.0
        with no_grad():
            for _ in range(int(n_dequant)):
                lp = self.log_prob(self.dequantize(x)).numpy().astype(np.float64)
                total = total + (-lp + self.dim * math.log(self.levels))
        return total / int(n_dequant)

    def bits_per_dim(self, x, n_dequant=1):
        """Mean bits per dimension of quantized images x: NLL of the dequantized levels / (D ln 2)."""
        return float(np.mean(self.nll_levels(x, n_dequant)) / (self.dim * math.log(2.0)))

    # ------------------------------------------------------------------ sampling
    def sample(self, n, temperature=1.0, quantize=True):
        """n examples x = f⁻¹(z), z ~ N(0, temperature² I), as a Tensor (n, *data_shape) in data
        coordinates; image models return pixels on the data's levels (``quantize=False``: the
        continuous dequantized values)."""
        with no_grad():
            z = tgrandom.normal_array((int(n), self.dim), dtype=self._dtype, device=self.data_scale.device)
            x = self.inverse(Tensor(z * float(temperature)))
            if self.levels is not None:
                arr = x.data
                arr = self.quantize(arr) if quantize else backend.get_array_module(arr).clip(arr, 0, 1)
                x = Tensor(arr.astype(self._dtype, copy=False))
        return x.reshape((int(n),) + self.data_shape)
