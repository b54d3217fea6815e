"""Denoising diffusion probabilistic models (Ho et al., 2020), read top to bottom.

1. **Forward (noising) process.** A fixed Markov chain adds a little Gaussian noise at each of T
   steps, q(x_t | x_{t-1}) = N(√(1 − β_t) x_{t-1}, β_t I). With α_t = 1 − β_t and ᾱ_t = ∏_{s≤t} α_s
   it has the closed form

       q(x_t | x_0) = N(√ᾱ_t x_0, (1 − ᾱ_t) I),   i.e.   x_t = √ᾱ_t x_0 + √(1 − ᾱ_t) ε,  ε ~ N(0, I),

   so any noise level is one line away (:meth:`DDPM.q_sample`). Schedules: ``linear`` (β from
   1e-4 to 0.02 at T = 1000, scaled by 1000/T for other T, as in Nichol & Dhariwal 2021) and
   ``cosine`` (ᾱ_t = cos²(((t/T + s)/(1 + s))·π/2), Nichol & Dhariwal 2021), see
   :func:`make_schedule`. Steps are numbered t = 0 … T−1 here (step t adds β_t).

2. **Network.** ε_θ(x_t, t[, y]) predicts the noise that was added. The step index enters as a
   sinusoidal embedding (Vaswani et al., 2017); a class label, when the model is conditional,
   adds a learned vector. :class:`EpsMLP` (vectors: 2-D toys, flattened digits) reads
   [x_t ; emb(t)] and adds the label vector to its first layer; :class:`EpsConvNet` is a small U-Net
   for MNIST-size images.

3. **Loss.** The "simple" objective ‖ε − ε_θ(√ᾱ_t x_0 + √(1 − ᾱ_t) ε, t)‖² with t uniform
   (:meth:`DDPM.loss`). For classifier-free guidance (Ho & Salimans, 2021) the label is replaced
   by a "null" label with probability ``p_uncond``, so the same network learns p(x|y) and p(x).

4. **Sampling.** *Ancestral* (:meth:`DDPM.sample`, ``method="ancestral"``): start from
   x_{T−1} ~ N(0, I) and draw x_{t−1} from the Gaussian posterior q(x_{t−1} | x_t, x̂_0) with
   x̂_0 = (x_t − √(1 − ᾱ_t) ε_θ)/√ᾱ_t. *DDIM* (Song et al., 2021, ``method="ddim"``): the
   non-Markovian sampler with the same marginals, deterministic for η = 0, which may skip steps
   (``steps=50``); with every step and η = 1 it is the ancestral sampler. Guidance ``w`` mixes
   ε̃ = (1 + w) ε_θ(x, t, y) − w ε_θ(x, t, ∅), so w = 0 is the plain conditional model.

Data handling: the model standardises its inputs with two buffers, ``data_shift`` and
``data_scale`` (x_model = (x − shift)/scale; e.g. digits in [0, 1] → [−1, 1]), and maps samples
back, so ``loss`` takes and ``sample`` returns data in its own coordinates. An optional
exponential moving average of the weights (``ema_decay``) is kept in a frozen copy of the
network, ``ema``, which sampling uses by default.
"""
from __future__ import annotations

import math

import numpy as np

from .. import backend
from .. import functional as F
from .. import losses as L
from .. import random as tgrandom
from ..autograd.grad_mode import no_grad
from ..nn import Conv2d, Embedding, Linear, Module, ModuleList
from ..tensor import Tensor

__all__ = ["DDPM", "EpsMLP", "EpsConvNet", "make_schedule", "timestep_embedding"]


# =============================================================================================
# 1. The forward process: noise schedules
# =============================================================================================

def make_schedule(T, kind="linear", beta_start=None, beta_end=None, cosine_s=0.008, max_beta=0.999):
    """β_1..β_T of a noise schedule as a float64 array of shape (T,).

    ``linear``: evenly spaced from ``beta_start`` to ``beta_end``; by default 1e-4 and 0.02 scaled
    by 1000/T (so T = 1000 is Ho et al.'s schedule and a shorter chain covers the same range of
    noise levels), capped at ``max_beta`` for very short chains. ``cosine``: β_t = 1 − ᾱ(t+1)/ᾱ(t) with ᾱ(t) = cos²(((t/T + s)/(1 + s))·π/2),
    clipped at ``max_beta``; it adds noise slowly near t = 0, where fine detail is decided.
    """
    T = int(T)
    if T < 1:
        raise ValueError(f"make_schedule: T must be a positive number of steps, got {T}")
    if kind == "linear":
        scale = 1000.0 / T
        b1 = min(scale * 0.02, max_beta) if beta_end is None else float(beta_end)
        b0 = min(scale * 1e-4, b1) if beta_start is None else float(beta_start)
        if not 0 < b0 <= b1 < 1:
            raise ValueError(f"make_schedule: need 0 < beta_start <= beta_end < 1, got {b0}, {b1}")
        return np.linspace(b0, b1, T, dtype=np.float64)
    if kind == "cosine":
        steps = np.arange(T + 1, dtype=np.float64) / T
        f = np.cos((steps + cosine_s) / (1 + cosine_s) * math.pi / 2) ** 2
        abar = f / f[0]
        return np.clip(1.0 - abar[1:] / abar[:-1], 1e-8, max_beta)
    raise ValueError(f"make_schedule: unknown schedule {kind!r}; choose 'linear' or 'cosine'")


def timestep_embedding(t, dim, max_period=10000.0):
    """Sinusoidal embedding of integer steps t (shape (N,)) → (N, dim) float64 array:
    [sin(t·ω_k), cos(t·ω_k)] with ω_k = max_period^(−k/(dim/2)), k = 0 … dim/2 − 1."""
    t = np.asarray(t, dtype=np.float64).reshape(-1)
    half = dim // 2
    freqs = np.exp(-math.log(max_period) * np.arange(half, dtype=np.float64) / half)
    args = t[:, None] * freqs[None, :]
    emb = np.concatenate([np.sin(args), np.cos(args)], axis=1)
    if dim % 2:
        emb = np.concatenate([emb, np.zeros((len(t), 1))], axis=1)
    return emb


# =============================================================================================
# 2. ε-prediction networks
# =============================================================================================

class _Conditioning(Module):
    """sinusoidal(t) → Linear → SiLU → Linear (+ label embedding): one vector per example
    (or a single row that broadcasts, when the whole batch shares t and y)."""

    def __init__(self, out_features, embed_dim, hidden, num_classes=None, dtype=None, device=None):
        super().__init__()
        self.embed_dim = int(embed_dim)
        self.fc1 = Linear(self.embed_dim, hidden, dtype=dtype, device=device)
        self.fc2 = Linear(hidden, out_features, dtype=dtype, device=device)
        self.num_classes = num_classes
        if num_classes is not None:
            # index num_classes is the "null" label of classifier-free guidance
            self.label_emb = Embedding(num_classes + 1, hidden, dtype=dtype, device=device)
            self.label_emb.weight.data[...] *= 0.1

    def forward(self, t, y=None):
        t = np.asarray(t, dtype=np.int64).reshape(-1)
        if self.num_classes is not None and y is None:
            y = np.full(len(t), self.num_classes, dtype=np.int64)
        # Many examples share (t, y) while sampling: embed each distinct pair once, then gather.
        key = t if y is None else t * (self.num_classes + 1) + np.asarray(y, dtype=np.int64)
        uniq, first, inverse = np.unique(key, return_index=True, return_inverse=True)
        if len(uniq) * 2 > len(t):
            return self._embed(t, y)
        e = self._embed(t[first], None if y is None else np.asarray(y)[first])
        return e if len(uniq) == 1 else e[inverse]          # one row broadcasts over the batch

    def _embed(self, t, y):
        w = self.fc1.weight
        emb = Tensor(backend.to_device(timestep_embedding(t, self.embed_dim).astype(w.dtype), w.device))
        h = self.fc1(emb)
        if self.num_classes is not None:
            h = h + self.label_emb(y)
        return self.fc2(F.silu(h))


class EpsMLP(Module):
    """ε_θ for flat vectors: the input and its step embedding side by side, then ``depth`` hidden
    layers of width ``hidden`` with SiLU; a class label adds a learned vector to the first layer,

        h_1 = SiLU(W_1 [x ; emb(t)] + u_y),  h_{k+1} = SiLU(W_{k+1} h_k),  ε = W_out h_depth.
    """

    def __init__(self, dim, hidden=256, depth=3, embed_dim=64, num_classes=None, dtype=None, device=None):
        super().__init__()
        self.dim, self.hidden, self.depth, self.embed_dim = int(dim), int(hidden), int(depth), int(embed_dim)
        self.num_classes = num_classes
        sizes = [self.dim + self.embed_dim] + [self.hidden] * self.depth
        self.layers = ModuleList([Linear(a, b, dtype=dtype, device=device) for a, b in zip(sizes[:-1], sizes[1:])])
        self.out = Linear(self.hidden, self.dim, dtype=dtype, device=device)
        if num_classes is not None:
            # index num_classes is the "null" label of classifier-free guidance
            self.label_emb = Embedding(num_classes + 1, self.hidden, dtype=dtype, device=device)
            self.label_emb.weight.data[...] *= 0.1

    def forward(self, x, t, y=None):
        from ..functions import cat
        shape = x.shape
        w = self.out.weight
        emb = _embedding_table(int(np.max(t)) + 1, self.embed_dim)[np.asarray(t, dtype=np.int64)]
        h = self.layers[0](cat([x.reshape(shape[0], -1), Tensor(backend.to_device(emb.astype(w.dtype), w.device))],
                               axis=1))
        if self.num_classes is not None:
            h = h + self.label_emb(np.full(shape[0], self.num_classes, dtype=np.int64) if y is None else y)
        h = F.silu(h)
        for layer in self.layers[1:]:
            h = F.silu(layer(h))
        return self.out(h).reshape(shape)


_TABLES = {}


def _embedding_table(n, dim):
    """timestep_embedding(0..n−1, dim), cached (grown as needed)."""
    tab = _TABLES.get(dim)
    if tab is None or len(tab) < n:
        tab = _TABLES[dim] = timestep_embedding(np.arange(max(n, 1024)), dim)
    return tab


class _ResBlock(Module):
    """x + conv(SiLU(conv(SiLU(x)) + e(t, y))), channel count ``c`` kept (``cin`` → ``c`` by a 1×1)."""

    def __init__(self, cin, c, dtype=None, device=None):
        super().__init__()
        self.conv1 = Conv2d(cin, c, 3, padding=1, dtype=dtype, device=device)
        self.conv2 = Conv2d(c, c, 3, padding=1, dtype=dtype, device=device)
        self.skip = Conv2d(cin, c, 1, dtype=dtype, device=device) if cin != c else None

    def forward(self, x, e):
        h = self.conv1(F.silu(x)) + e.reshape(e.shape[0], e.shape[1], 1, 1)
        h = self.conv2(F.silu(h))
        return (x if self.skip is None else self.skip(x)) + h


class EpsConvNet(Module):
    """A small U-Net ε_θ for (N, C, H, W) images with H, W divisible by 4 (e.g. 28×28 MNIST):
    two resolutions down by strided convolutions, back up by nearest upsampling with skip
    connections; the step/label embedding is added inside every residual block."""

    def __init__(self, channels=1, base=32, embed_dim=64, num_classes=None, dtype=None, device=None):
        super().__init__()
        c1, c2 = int(base), 2 * int(base)
        self.widths = (c1, c2, c2, c2, c1)
        self.cond = _Conditioning(sum(self.widths), embed_dim, 4 * c1, num_classes, dtype, device)
        kw = dict(dtype=dtype, device=device)
        self.inp = Conv2d(channels, c1, 3, padding=1, **kw)
        self.down1 = _ResBlock(c1, c1, **kw)
        self.pool1 = Conv2d(c1, c2, 3, stride=2, padding=1, **kw)
        self.down2 = _ResBlock(c2, c2, **kw)
        self.pool2 = Conv2d(c2, c2, 3, stride=2, padding=1, **kw)
        self.mid = _ResBlock(c2, c2, **kw)
        self.up2 = _ResBlock(2 * c2, c2, **kw)
        self.up1 = _ResBlock(c2 + c1, c1, **kw)
        self.out = Conv2d(c1, channels, 3, padding=1, **kw)

    def forward(self, x, t, y=None):
        from ..functions import cat
        e_all = self.cond(t, y)
        es, o = [], 0
        for w in self.widths:
            es.append(e_all[:, o:o + w])
            o += w
        h0 = self.down1(self.inp(x), es[0])                 # H
        h1 = self.down2(self.pool1(h0), es[1])              # H/2
        h = self.mid(self.pool2(h1), es[2])                 # H/4
        h = self.up2(cat([F.upsample_nearest(h, 2), h1], axis=1), es[3])
        h = self.up1(cat([F.upsample_nearest(h, 2), h0], axis=1), es[4])
        return self.out(F.silu(h))


# =============================================================================================
# The model: forward process, loss, samplers
# =============================================================================================

def _progress(iterable, total, enabled, desc):
    if not enabled:
        return iterable
    try:
        from tqdm.auto import tqdm
    except ImportError:  # pragma: no cover - tqdm is a dependency
        return iterable
    return tqdm(iterable, total=total, desc=desc, leave=False, unit="step", dynamic_ncols=True)


class DDPM(Module):
    """A denoising diffusion model over examples of shape ``data_shape``.

    Args:
        data_shape: shape of one example: ``(2,)`` for the toys, ``(8, 8)`` or ``(64,)`` for
            digits, ``(1, 28, 28)`` for MNIST with the convolutional network.
        T: number of diffusion steps.
        schedule: ``"linear"`` or ``"cosine"`` (see :func:`make_schedule`).
        net: ``"mlp"`` (:class:`EpsMLP`, any shape, flattened) or ``"conv"`` (:class:`EpsConvNet`).
        hidden, depth, embed_dim: MLP width, number of hidden layers, sinusoidal embedding size
            (``hidden`` is the base channel count for ``"conv"``).
        num_classes: makes the model class-conditional (labels 0 … num_classes−1), trained with
            label dropout ``p_uncond`` for classifier-free guidance.
        data_shift, data_scale: the model works on (x − shift)/scale (scalars or arrays that
            broadcast against one example).
        clip_x0: optional (low, high) bounds, in the model's standardised coordinates, for the
            predicted x̂_0 while sampling (e.g. (−1, 1) for images).
        ema_decay: keep an exponential moving average of the network's weights in ``self.ema``
            (call :meth:`update_ema` after each optimiser step); sampling uses it by default.
        sigma: reverse-process variance, ``"posterior"`` (β̃_t, the default) or ``"beta"`` (β_t).
    """

    def __init__(self, data_shape=(2,), T=200, schedule="linear", net="mlp", hidden=256, depth=3,
                 embed_dim=64, num_classes=None, p_uncond=0.1, data_shift=0.0, data_scale=1.0,
                 clip_x0=None, ema_decay=None, sigma="posterior", beta_start=None, beta_end=None,
                 dtype=None, device=None):
        super().__init__()
        self.data_shape = tuple(int(s) for s in (data_shape if isinstance(data_shape, (tuple, list)) else (data_shape,)))
        self.T = int(T)
        self.schedule = schedule
        self.num_classes = None if num_classes is None else int(num_classes)
        self.p_uncond = float(p_uncond)
        self.clip_x0 = None if clip_x0 is None else (float(clip_x0[0]), float(clip_x0[1]))
        if sigma not in ("posterior", "beta"):
            raise ValueError(f"DDPM: sigma must be 'posterior' or 'beta', got {sigma!r}")
        self.sigma = sigma
        # --- schedule (float64 host arrays; coefficients are gathered per batch) ---
        self.betas = make_schedule(self.T, schedule, beta_start, beta_end)   # plain floats are read
        # from these float64 arrays with float(...) so float32 samples stay float32
        self.alphas = 1.0 - self.betas
        self.alpha_bars = np.cumprod(self.alphas)
        self.alpha_bars_prev = np.concatenate([[1.0], self.alpha_bars[:-1]])
        self.posterior_var = self.betas * (1.0 - self.alpha_bars_prev) / (1.0 - self.alpha_bars)
        # --- network ---
        self.net_kind = net
        self.net = self._make_net(net, hidden, depth, embed_dim, dtype, device)
        self.ema_decay = None if ema_decay is None else float(ema_decay)
        if self.ema_decay is not None:
            self.ema = self._make_net(net, hidden, depth, embed_dim, dtype, device)
            self.ema.load_state_dict(self.net.state_dict())
            self.ema.requires_grad_(False)
        w = self.net.out.weight
        xp = backend.get_array_module(w.data)
        shift = np.broadcast_to(np.asarray(data_shift, dtype=np.float64), self.data_shape)
        scale = np.broadcast_to(np.asarray(data_scale, dtype=np.float64), self.data_shape)
        self.register_buffer("data_shift", Tensor(xp.asarray(shift, dtype=w.dtype)))
        self.register_buffer("data_scale", Tensor(xp.asarray(scale, dtype=w.dtype)))

    def _make_net(self, net, hidden, depth, embed_dim, dtype, device):
        if net == "mlp":
            return EpsMLP(int(np.prod(self.data_shape)), hidden, depth, embed_dim, self.num_classes, dtype, device)
        if net == "conv":
            if len(self.data_shape) != 3:
                raise ValueError(f"DDPM(net='conv') needs data_shape (C, H, W), got {self.data_shape}")
            return EpsConvNet(self.data_shape[0], hidden, embed_dim, self.num_classes, dtype, device)
        raise ValueError(f"DDPM: unknown net {net!r}; choose 'mlp' or 'conv'")

    # ------------------------------------------------------------------ helpers
    @property
    def _param(self):
        return self.net.out.weight

    def _const(self, arr, ndim):
        """Per-example coefficients (N,) → a Tensor of shape (N, 1, ..., 1) on the model's device."""
        p = self._param
        a = np.asarray(arr, dtype=np.float64).reshape((-1,) + (1,) * (ndim - 1))
        return Tensor(backend.to_device(a.astype(p.dtype), p.device))

    def _as_input(self, x):
        p = self._param
        if not isinstance(x, Tensor):
            x = Tensor(backend.to_device(np.asarray(x), p.device) if isinstance(x, np.ndarray) else x)
        if x.dtype != p.dtype:
            x = x.astype(p.dtype)
        if tuple(x.shape[1:]) != self.data_shape:
            raise ValueError(f"DDPM: examples of shape {self.data_shape} expected, got a batch of shape {tuple(x.shape)}")
        return x

    def _labels(self, y, n):
        if y is None:
            return None
        y = backend.to_numpy(y.data) if isinstance(y, Tensor) else np.asarray(y)
        y = np.broadcast_to(y.astype(np.int64), (n,)).copy()
        if self.num_classes is None:
            raise ValueError("DDPM: labels given to an unconditional model (build it with num_classes=K)")
        if y.min() < 0 or y.max() > self.num_classes:
            raise ValueError(f"DDPM: labels must be in 0..{self.num_classes - 1} "
                             f"({self.num_classes} = the null label), got {y.min()}..{y.max()}")
        return y

    def normalize(self, x):
        """Data coordinates → the model's standardised coordinates."""
        return (self._as_input(x) - self.data_shift) / self.data_scale

    def denormalize(self, x):
        """The model's coordinates → data coordinates."""
        return x * self.data_scale + self.data_shift

    # ------------------------------------------------------------------ forward process
    def q_sample(self, x0, t, noise=None):
        """x_t = √ᾱ_t x_0 + √(1 − ᾱ_t) ε for integer steps ``t`` (N,), in model coordinates.
        Returns (x_t, ε)."""
        t = np.asarray(t, dtype=np.int64).reshape(-1)
        if noise is None:
            noise = Tensor(tgrandom.normal_array(tuple(x0.shape), dtype=x0.dtype, device=x0.device))
        ab = self.alpha_bars[t]
        return self._const(np.sqrt(ab), x0.ndim) * x0 + self._const(np.sqrt(1.0 - ab), x0.ndim) * noise, noise

    def q_mean_var(self, t):
        """Closed-form coefficients of q(x_t | x_0): (√ᾱ_t, 1 − ᾱ_t) as float64."""
        ab = self.alpha_bars[np.asarray(t, dtype=np.int64)]
        return np.sqrt(ab), 1.0 - ab

    def forward(self, x_t, t, y=None):
        """ε_θ(x_t, t, y): the network's noise prediction (model coordinates)."""
        return self._predict(self.net, x_t, np.asarray(t, dtype=np.int64).reshape(-1), y)

    def _predict(self, net, x_t, t, y=None):
        """ε_θ(x_t, t, y) from a given network (``net`` or its EMA copy)."""
        return net(x_t, t, y)

    # ------------------------------------------------------------------ 3. loss
    def loss(self, x, y=None):
        """Simple loss E_{t, ε} ‖ε − ε_θ(√ᾱ_t x_0 + √(1 − ᾱ_t) ε, t)‖² (mean over elements), x in
        data coordinates. Conditional models drop the label with probability ``p_uncond``."""
        x0 = self.normalize(x)
        n = x0.shape[0]
        t = tgrandom.integers_array(0, self.T, (n,))
        x_t, eps = self.q_sample(x0, t)
        if self.num_classes is not None:
            if y is None:
                y = np.full(n, self.num_classes, dtype=np.int64)
            else:
                y = self._labels(y, n)
                if self.p_uncond > 0:
                    drop = tgrandom.uniform_array((n,), dtype=np.float64) < self.p_uncond
                    y = np.where(drop, self.num_classes, y)
        elif y is not None:
            y = None   # unconditional models ignore labels handed in by a generic loop
        return L.mse(self._predict(self.net, x_t, t, y), eps)

    # ------------------------------------------------------------------ EMA
    def update_ema(self, decay=None):
        """ema ← decay·ema + (1 − decay)·net, parameter by parameter (no graph)."""
        if self.ema_decay is None:
            return
        d = self.ema_decay if decay is None else float(decay)
        for pe, p in zip(self.ema.parameters(), self.net.parameters()):
            pe.data *= d
            pe.data += (1.0 - d) * p.data

    # ------------------------------------------------------------------ 4. sampling
    def _eps(self, net, x, t, y, guidance):
        """ε̃ = (1 + w) ε(x, t, y) − w ε(x, t, ∅); plain ε when unconditional or w == 0."""
        n = x.shape[0]
        tt = np.full(n, t, dtype=np.int64)
        if y is None or guidance == 0:
            return self._predict(net, x, tt, y)
        from ..functions import cat
        null = np.full(n, self.num_classes, dtype=np.int64)
        both = self._predict(net, cat([x, x], axis=0), np.concatenate([tt, tt]), np.concatenate([y, null]))
        ec, eu = both[:n], both[n:]
        return ec * (1.0 + guidance) - eu * guidance

    def _x0(self, x, eps, t):
        ab = float(self.alpha_bars[t])
        x0 = (x - eps * math.sqrt(1.0 - ab)) / math.sqrt(ab)
        if self.clip_x0 is not None:
            x0 = x0.clip(*self.clip_x0)
        return x0

    def sample(self, n, labels=None, guidance=0.0, method="ancestral", steps=None, eta=0.0,
               use_ema=True, progress=True, return_trajectory=False, trajectory_points=8, noise=None):
        """Draw ``n`` examples; returns a Tensor of shape (n, *data_shape) in data coordinates.

        Args:
            labels: int or (n,) class labels for a conditional model (None: unconditional, i.e.
                the null label).
            guidance: classifier-free guidance weight w (ε̃ = (1 + w) ε_cond − w ε_uncond).
            method: ``"ancestral"`` (all T steps) or ``"ddim"``.
            steps: DDIM steps (default T), evenly spaced over the chain.
            eta: DDIM stochasticity (0 deterministic; 1 with all steps = ancestral).
            use_ema: sample with the EMA weights when the model keeps them.
            progress: show a progress bar over the steps.
            return_trajectory: also return ``trajectory_points`` snapshots x_T … x_0 (a list of
                NumPy arrays in data coordinates) and their step labels.
            noise: optional starting point x_T (model coordinates).
        """
        n = int(n)
        net = self.ema if (use_ema and self.ema_decay is not None) else self.net
        y = None
        if labels is not None:
            y = self._labels(labels, n)
        p = self._param
        shape = (n,) + self.data_shape
        with no_grad():
            x = noise if noise is not None else Tensor(tgrandom.normal_array(shape, dtype=p.dtype, device=p.device))
            if method == "ancestral":
                seq = list(range(self.T - 1, -1, -1))
            elif method == "ddim":
                s = self.T if steps is None else int(steps)
                if not 1 <= s <= self.T:
                    raise ValueError(f"DDPM.sample: steps must be in 1..{self.T}, got {s}")
                seq = sorted(set(np.round(np.linspace(0, self.T - 1, s)).astype(int).tolist()), reverse=True)
            else:
                raise ValueError(f"DDPM.sample: unknown method {method!r}; choose 'ancestral' or 'ddim'")
            keep = set(np.round(np.linspace(0, len(seq), max(2, trajectory_points))).astype(int).tolist())
            traj, times = [], []
            if return_trajectory:
                traj.append(self.denormalize(x).numpy())
                times.append("x_T")
            for i, t in enumerate(_progress(seq, len(seq), progress, f"DDPM {method}")):
                eps = self._eps(net, x, t, y, guidance)
                x0 = self._x0(x, eps, t)
                if method == "ancestral":
                    if t == 0:
                        x = x0
                    else:
                        ab, abp = float(self.alpha_bars[t]), float(self.alpha_bars_prev[t])
                        c0 = math.sqrt(abp) * float(self.betas[t]) / (1.0 - ab)
                        ct = math.sqrt(float(self.alphas[t])) * (1.0 - abp) / (1.0 - ab)
                        var = float(self.posterior_var[t] if self.sigma == "posterior" else self.betas[t])
                        z = tgrandom.normal_array(shape, dtype=p.dtype, device=p.device)
                        x = x0 * c0 + x * ct + Tensor(z) * math.sqrt(var)
                else:
                    t_prev = seq[i + 1] if i + 1 < len(seq) else -1
                    ab = float(self.alpha_bars[t])
                    abp = float(self.alpha_bars[t_prev]) if t_prev >= 0 else 1.0
                    if self.clip_x0 is not None:   # ε consistent with the clipped x̂_0
                        eps = (x - x0 * math.sqrt(ab)) / math.sqrt(1.0 - ab)
                    sig = eta * math.sqrt((1 - abp) / (1 - ab) * (1 - ab / abp)) if t_prev >= 0 else 0.0
                    x = x0 * math.sqrt(abp) + eps * math.sqrt(max(1.0 - abp - sig * sig, 0.0))
                    if sig > 0:
                        x = x + Tensor(tgrandom.normal_array(shape, dtype=p.dtype, device=p.device)) * sig
                if return_trajectory and (i + 1) in keep:
                    traj.append(self.denormalize(x).numpy())
                    times.append("x_0" if i + 1 == len(seq) else f"t={t}")
            out = self.denormalize(x)
        if return_trajectory:
            return out, traj, times
        return out
