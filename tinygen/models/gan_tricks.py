"""Training a GAN: the alternating D and G updates, with the classic tips as options.

The seeds' table of training tips, each one an option of :class:`GANOptions` used by
:func:`train_step` (and on the command line: ``tinygen train gan --label-smoothing 0.1 ...``):

=====================  ========================================================================
problem                option (what it does)
=====================  ========================================================================
mode collapse          ``instance_noise``: add N(0, σ²) to every input of D, real and fake, with
                       σ annealed linearly to 0 over ``noise_anneal_steps`` (Sønderby et al.
                       2017): the two distributions overlap early on, so D's gradient points G
                       towards *all* the data instead of the nearest mode.
                       ``g_batch_norm`` (a model option): BatchNorm1d/2d in G.
                       ``lr_d``/``lr_g``: separate learning rates for D and G (TTUR, Heusel et
                       al. 2017).
                       Beyond the seeds: ``pack`` (a model option), PacGAN: D judges ``pack``
                       samples at once, so a collapsed G is easy to spot (Lin et al. 2018);
                       :class:`tinygen.models.cgan.SelfConditionedGAN`: both players are
                       conditioned on k-means clusters of the data (Liu et al. 2020), so no
                       cluster -- and no mode -- can be dropped unpunished.
unstable training      smaller learning rates (``lr_d``, ``lr_g``, and ``lr_decay_steps`` to let
                       them fall); regularisation: ``r1`` (R1 penalty on D's gradient at real
                       data, Mescheder et al. 2018) or ``loss="wgan-gp"`` (the gradient penalty);
                       ``label_smoothing``: D's target for real examples is 1 − s instead of 1
                       (one-sided: fakes stay at 0, Salimans et al. 2016), so D cannot become
                       infinitely confident.
D too good             ``n_gen``: G steps per iteration (update G more often); ``n_critic``: D steps
                       per iteration (> 1 to slow G down relative to D, as WGAN's 5 critic steps).
(sampling)             ``ema``: an exponential moving average of G's weights with this decay
                       is what ``sample`` uses (Yazıcı et al. 2019); the truncation trick and a
                       D-free density truncation are model options (``truncation``,
                       ``calibrate_truncation``).
=====================  ========================================================================

Every step reports what a student needs to see the game: the D and G losses, D(x) and D(G(z))
(means of σ(logit) for the BCE losses; mean raw scores for wgan-gp and hinge), and the gradient
norms of D and G -- with ``loss="minimax"`` the G gradient norm collapses as soon as D wins,
the vanishing-gradient problem the non-saturating loss fixes.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, fields
from typing import Tuple

import numpy as np

from .. import optim
from ..autograd.grad_mode import no_grad
from ..random import normal_array
from ..tensor import Tensor


@dataclass
class GANOptions:
    """The knobs of :func:`train_step` (see the module docstring for what each is for).

    lr_d, lr_g: Adam learning rates of D and G. betas: Adam's betas for both (GANs use β₁ = 0.5).
    n_critic: D updates per iteration (each on the same real batch, fresh noise).
    n_gen: G updates per iteration (fresh noise each).
    label_smoothing: one-sided smoothing s of D's real target (BCE losses only).
    instance_noise: σ₀ of the Gaussian noise added to D's inputs (model space).
    noise_anneal_steps: iterations over which σ falls linearly from σ₀ to 0 (0: constant σ₀).
    ema: decay of the moving average of G's weights used for sampling (0: off).
    r1: weight γ of the R1 penalty (γ/2)·E‖∇ₓD(x)‖² on real data (0: off).
    lr_decay_steps: when > 0, both learning rates fall linearly to ``lr_final`` × their value
        at that iteration (and stay there).
    """

    lr_d: float = 1e-3
    lr_g: float = 1e-3
    betas: Tuple[float, float] = (0.5, 0.999)
    n_critic: int = 1
    n_gen: int = 1
    label_smoothing: float = 0.0
    instance_noise: float = 0.0
    noise_anneal_steps: int = 0
    ema: float = 0.0
    lr_decay_steps: int = 0
    lr_final: float = 1.0
    r1: float = 0.0

    def __post_init__(self):
        if self.n_critic < 1 or self.n_gen < 1:
            raise ValueError(f"n_critic and n_gen must be >= 1, got {self.n_critic} and {self.n_gen}")
        if not 0.0 <= self.label_smoothing < 1.0:
            raise ValueError(f"label_smoothing must lie in [0, 1), got {self.label_smoothing}")
        if self.instance_noise < 0:
            raise ValueError(f"instance_noise must be >= 0, got {self.instance_noise}")
        if not 0.0 <= self.ema < 1.0:
            raise ValueError(f"ema must lie in [0, 1), got {self.ema}")

    @classmethod
    def from_config(cls, config):
        """Options from a recipe config dict (``lr`` sets both rates unless lr_d/lr_g are given)."""
        kw = {f.name: config[f.name] for f in fields(cls) if config.get(f.name) is not None}
        lr = config.get("lr")
        if lr is not None:
            kw.setdefault("lr_d", lr)
            kw.setdefault("lr_g", lr)
        if "betas" in kw:
            kw["betas"] = tuple(kw["betas"])
        return cls(**kw)

    def noise_std(self, step):
        """σ of the instance noise at iteration ``step`` (0-based): σ₀·max(0, 1 − step/anneal)."""
        if self.instance_noise == 0:
            return 0.0
        if self.noise_anneal_steps <= 0:
            return float(self.instance_noise)
        return float(self.instance_noise) * max(0.0, 1.0 - step / self.noise_anneal_steps)

    def lr_factor(self, step):
        if self.lr_decay_steps <= 0:
            return 1.0
        t = min(1.0, step / self.lr_decay_steps)
        return 1.0 + (self.lr_final - 1.0) * t


def make_optimizers(model, options: GANOptions):
    """{"d": Adam over D's parameters at lr_d, "g": Adam over G's at lr_g}."""
    return {"d": optim.Adam(model.discriminator.parameters(), lr=options.lr_d, betas=options.betas),
            "g": optim.Adam(model.generator.parameters(), lr=options.lr_g, betas=options.betas)}


def grad_norm(params):
    """‖∇‖₂ over all parameters that have a gradient (a float)."""
    total = 0.0
    for p in params:
        if p.grad is not None:
            g = p.grad.data
            total += float((g * g).sum())
    return math.sqrt(total)


def add_instance_noise(x, std):
    """x + N(0, std²) (x itself when std is 0); the noise is a constant, so gradients pass through."""
    if std <= 0:
        return x
    return x + Tensor(normal_array(tuple(x.shape), x.dtype, x.device) * float(std), device=x.device)


def _set_lr(opt, lr):
    for group in opt.param_groups:
        group["lr"] = lr


def _prob(logits, bce):
    d = logits.data
    if bce:
        return float((1.0 / (1.0 + np.exp(-np.clip(_host(d), -60, 60)))).mean())
    return float(_host(d).mean())


def _host(a):
    return a.get() if hasattr(a, "get") and not isinstance(a, np.ndarray) else np.asarray(a)


def train_step(model, real, labels, opt_d, opt_g, options: GANOptions, step: int):
    """One iteration of the game on a batch of real examples (data space, NumPy or Tensor).

    1. ``n_critic`` times: fakes G(z) (detached) → D's loss on (noisy) real and fake → D update.
    2. ``n_gen`` times: G's loss through the updated D (D's weights untouched) → G update; the
       first G step reuses the last D step's fakes (as the usual loop does), later ones draw anew.
    3. EMA of G's weights (``options.ema``).

    For conditional models, fakes use the real batch's labels. A batch that is not a multiple of
    ``model.pack`` loses its last few examples. Returns floats: d_loss, g_loss, d_real (D(x)),
    d_fake (D(G(z))), d_grad_norm, g_grad_norm, noise_std.
    """
    real = model.to_model_space(real)
    k = model.pack
    n = (real.shape[0] // k) * k
    if n == 0:
        raise ValueError(f"a batch of {real.shape[0]} examples is smaller than pack={k}")
    if n != real.shape[0]:
        real = real[:n]
        labels = None if labels is None else labels[:n]
    labels = model.training_labels(real, labels)
    sigma = options.noise_std(step)
    f = options.lr_factor(step)
    if options.lr_decay_steps > 0:
        _set_lr(opt_d, options.lr_d * f)
        _set_lr(opt_g, options.lr_g * f)
    bce = model.loss_type in ("minimax", "nonsaturating")
    model.train()

    d_params = list(model.discriminator.parameters())
    g_params = list(model.generator.parameters())
    for i in range(options.n_critic):
        if i == options.n_critic - 1:       # the last D step's fakes keep G's graph for G's step
            fake_g = model.generate(model.sample_latent(n), labels)
            fake = fake_g.detach()
        else:
            with no_grad():
                fake = model.generate(model.sample_latent(n), labels)
        d_loss, r_logits, f_logits = model.d_loss(add_instance_noise(real, sigma),
                                                  add_instance_noise(fake, sigma), labels,
                                                  label_smoothing=options.label_smoothing if bce else 0.0,
                                                  r1=options.r1)
        opt_d.zero_grad()
        d_loss.backward()
        d_norm = grad_norm(d_params)
        opt_d.step()

    for p in d_params:              # G's step: D is a fixed function, its weights get no gradient
        p.requires_grad_(False)
    try:
        for j in range(options.n_gen):
            fake = fake_g if j == 0 else model.generate(model.sample_latent(n), labels)
            g_loss, _ = model.g_loss(add_instance_noise(fake, sigma), labels)
            opt_g.zero_grad()
            g_loss.backward()
            g_norm = grad_norm(g_params)
            opt_g.step()
    finally:
        for p in d_params:
            p.requires_grad_(True)

    if options.ema > 0:
        model.update_ema(options.ema)

    return {"d_loss": float(d_loss.item()), "g_loss": float(g_loss.item()),
            "d_real": _prob(r_logits, bce), "d_fake": _prob(f_logits, bce),
            "d_grad_norm": d_norm, "g_grad_norm": g_norm, "noise_std": sigma}
