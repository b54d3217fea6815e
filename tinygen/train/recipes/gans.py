"""Recipes for the GAN family: ``gan``, ``cgan``, ``dcgan``, ``cdcgan``.

A step is one iteration of the game (:func:`tinygen.models.gan_tricks.train_step`): ``n_critic``
D updates then ``n_gen`` G updates, with the training tips as options. Defaults per data set are
the settings measured to reach the quality targets (benchmarks/train_gan_toys.py,
benchmarks/train_cgan_digits.py), so ``tinygen train gan --data ring8 --out run`` needs no flags:

* toys (``gan``): the anchor's G 2-256-256-2 and D 2-256-256-1 ReLU MLPs on standardised data,
  self-conditioned on 50 k-means clusters of the training data
  (:class:`tinygen.models.cgan.SelfConditionedGAN`), Adam 1e-3 β=(0.5, 0.999) decaying linearly
  to 1 %, batch 256, 50 epochs (3,900 steps), EMA 0.99 of G. Measured over seeds 0-2: ring8 8/8
  modes at 99.7-99.8 % high quality, grid25 25/25 at 99.8-100 % (PyTorch anchor, 5,000 plain
  steps: ring8 8/8 at 80-95 %, grid25 12-20/25 at 55-70 %), in ~30 s.
* digits, ``cgan``/``gan``: G 42-256-256-64 / D 74-256-256-1 LeakyReLU MLPs (unconditional:
  32-256-256-64 / 64-256-256-1), R1 = 1 on real digits, Adam 5e-4 decaying to 5 %, batch 64, 300
  epochs, EMA 0.995; conditional samples use the truncation trick ψ = 1.2. Measured: label
  accuracy 99.8-100 % (98.0-98.7 % without truncation; PyTorch anchor 97.0-98.2 % by the same
  classifier), frechet 0.11-0.12 (0.02-0.03 without truncation; real test digits ≈ 0.06).
* ``dcgan``/``cdcgan``: DCGAN's own recipe (batch norm, Adam 2e-4, 200 epochs on digits);
  conditional samples at ψ = 1.5.

Metrics (metrics.json): toys ``modes``, ``high_quality`` and ``per_mode`` (2,500 samples, the 3σ
rule of :func:`tinygen.metrics.mode_coverage`); moons/swissroll ``on_manifold``; images
``frechet`` (PCA-20, against the training split), ``classifier_frechet`` (features of the digit
classifier of :mod:`tinygen.metrics.classifier`), ``class_coverage`` (classes found among 1,000
samples) and, for conditional models, ``label_accuracy`` (the classifier agrees with the
requested label, 100 samples per class).

Family options (``--name value`` on the command line): see ``OPTION_HELP``.
"""
from __future__ import annotations

import math
import os

import numpy as np

from ... import random as R
from .base import dataset_name, IMAGE_DATASETS, TOY_DATASETS, N_TOY_SAMPLES, N_IMAGE_SAMPLES, Recipe


OPTION_HELP = {
    "loss": "minimax (saturating G loss), nonsaturating, wgan-gp or hinge",
    "latent_dim": "size of the noise z",
    "hidden": "MLP hidden sizes of G and D, comma separated",
    "g_width": "DCGAN: channels of G's first feature map",
    "d_width": "DCGAN: channels of D's first convolution",
    "conditioning": "conditional models: onehot or embedding",
    "lr_d": "Adam learning rate of D (None: --lr)",
    "lr_g": "Adam learning rate of G (None: --lr)",
    "beta1": "Adam's beta1 for both players",
    "n_critic": "D updates per iteration",
    "n_gen": "G updates per iteration",
    "label_smoothing": "one-sided label smoothing: D's target for real examples is 1 - s",
    "instance_noise": "std of Gaussian noise added to D's inputs (model space), annealed to 0",
    "noise_anneal": "share of the run over which the instance noise falls to 0",
    "g_batch_norm": "batch normalisation in G",
    "drop_last": "drop each epoch's last, smaller batch",
    "pack": "PacGAN: D judges this many samples at once",
    "ema": "decay of the moving average of G's weights used for sampling (0: off)",
    "lr_decay": "learning rates fall linearly to lr_final x their value over the run",
    "lr_final": "final learning-rate factor with lr_decay",
    "gp_weight": "wgan-gp: weight of the gradient penalty",
    "r1": "weight of the R1 penalty on D's gradient at real data (0: off)",
    "clusters": "self-conditioning: G and D are conditioned on this many k-means clusters of the data "
                "(0: a plain GAN)",
    "truncation": "sampling: the truncation trick's psi, |z_i| <= psi (0: off)",
    "density_truncation": "sampling, latent_dim = data dim: reject this share of samples with the lowest "
                          "density under G (change of variables; 0: off)",
}



def _bool(v):
    if isinstance(v, str):
        return v.strip().lower() in ("1", "true", "yes", "on")
    return bool(v)


def _ints(v):
    if isinstance(v, str):
        return tuple(int(s) for s in v.replace(" ", "").split(",") if s)
    return tuple(int(s) for s in v)


class _GANFamily(Recipe):
    name = "gan"
    conditional = False
    conv = False
    datasets = IMAGE_DATASETS + TOY_DATASETS
    option_help = OPTION_HELP

    # ---- defaults ----------------------------------------------------------------------------
    def defaults(self, dataset):
        name = dataset_name(dataset)
        cfg = {"seed": 0, "loss": "nonsaturating", "beta1": 0.5, "lr_d": None, "lr_g": None, "n_critic": 1,
               "n_gen": 1, "label_smoothing": 0.0, "instance_noise": 0.0, "noise_anneal": 0.5, "pack": 1,
               "g_batch_norm": False, "ema": 0.0, "lr_decay": False, "lr_final": 0.1, "gp_weight": 10.0,
               "r1": 0.0, "truncation": 0.0, "density_truncation": 0.0, "drop_last": True}
        if name in TOY_DATASETS:
            # the anchor's networks, self-conditioned on 50 k-means clusters of the data (no mode
            # can be dropped), 50 epochs = 3,900 steps with the learning rate falling to 1 %
            cfg.update(epochs=50, batch_size=256, lr=1e-3, latent_dim=2, hidden=[256, 256], clusters=50,
                       ema=0.99, lr_decay=True, lr_final=0.01)
            return cfg
        small = name == "digits"
        if self.conv:
            # DCGAN's own recipe: Adam 2e-4, batch norm in G (and D), 200 epochs on digits
            cfg.update(epochs=200 if small else 20, batch_size=64 if small else 128, lr=2e-4,
                       latent_dim=32 if small else 64, g_width=128, d_width=64, g_batch_norm=True)
        else:
            # the MLPs (G 42-256-256-64 on digits), stabilised by R1 so a higher learning rate
            # can be used, decaying to 5 % over 300 epochs; an EMA of G for sampling
            cfg.update(epochs=300 if small else 30, batch_size=64 if small else 128, lr=5e-4,
                       latent_dim=32 if small else 64, hidden=[256, 256] if small else [512, 512],
                       r1=1.0, lr_decay=True, lr_final=0.05, ema=0.995)
        if self.conditional:
            # the truncation trick trades a little diversity for samples of unambiguous class
            cfg.update(conditioning="onehot", truncation=1.5 if self.conv else 1.2)
        else:
            cfg["clusters"] = 0
        return cfg

    # ---- model and optimizers ----------------------------------------------------------------
    def _data_kwargs(self, dataset):
        if dataset.is_toy:       # centred, unit overall standard deviation
            x = np.asarray(dataset.x_train, np.float64)
            return {"shift": x.mean(axis=0), "scale": float(x.std())}
        return {"shift": 0.5, "scale": 0.5}     # [0, 1] pixels ↔ G's tanh range [−1, 1]

    def build(self, dataset, config):
        n, b = len(dataset.x_train), int(config["batch_size"])     # as the Trainer's DataLoader
        self._steps_per_epoch = n // b if (config.get("drop_last") and n >= b) else math.ceil(n / b)
        self._total_steps = self._steps_per_epoch * int(config["epochs"])
        kw = dict(latent_dim=int(config["latent_dim"]), loss=str(config["loss"]), pack=int(config["pack"]),
                  gp_weight=float(config["gp_weight"]), **self._data_kwargs(dataset))
        shape = tuple(dataset.data_shape)
        clusters = 0 if self.conditional else int(config.get("clusters") or 0)
        if self.conv:
            if clusters:
                raise ValueError(f"{self.name}: clusters (self-conditioning) is an MLP option; use gan")
            from ...models.dcgan import DCGAN, ConditionalDCGAN
            kw.update(g_width=int(config["g_width"]), d_width=int(config["d_width"]),
                      g_batch_norm=_bool(config["g_batch_norm"]))
            if self.conditional:
                model = ConditionalDCGAN(shape, num_classes=dataset.num_classes,
                                         conditioning=str(config["conditioning"]), **kw)
            else:
                model = DCGAN(shape, **kw)
        else:
            act = "relu" if dataset.is_toy else "leaky_relu"
            kw.update(hidden=_ints(config["hidden"]), g_activation=act, d_activation=act,
                      out_activation=None if dataset.is_toy else "tanh", g_batch_norm=_bool(config["g_batch_norm"]))
            if self.conditional:
                from ...models.cgan import ConditionalGAN
                model = ConditionalGAN(shape, num_classes=dataset.num_classes,
                                       conditioning=str(config["conditioning"]), **kw)
            elif clusters:
                from ...models.cgan import SelfConditionedGAN
                model = SelfConditionedGAN(shape, clusters=clusters, **kw)
                model.fit_clusters(dataset.x_train, seed=int(config.get("seed") or 0))
            else:
                from ...models.gan import GAN
                model = GAN(shape, **kw)
        if float(config.get("ema") or 0) > 0:
            model.enable_ema()
        model.truncation.data[...] = float(config.get("truncation") or 0.0)
        return model

    def options(self, config):
        from ...models.gan_tricks import GANOptions
        total = getattr(self, "_total_steps", 0)
        lr = float(config["lr"])
        return GANOptions(
            lr_d=float(config["lr_d"]) if config.get("lr_d") is not None else lr,
            lr_g=float(config["lr_g"]) if config.get("lr_g") is not None else lr,
            betas=(float(config["beta1"]), 0.999), n_critic=int(config["n_critic"]), n_gen=int(config["n_gen"]),
            label_smoothing=float(config["label_smoothing"]), instance_noise=float(config["instance_noise"]),
            noise_anneal_steps=int(round(float(config["noise_anneal"]) * total)), ema=float(config["ema"]),
            lr_decay_steps=total if _bool(config["lr_decay"]) else 0, lr_final=float(config["lr_final"]),
            r1=float(config.get("r1") or 0.0))

    def make_optimizers(self, model, config):
        from ...models.gan_tricks import make_optimizers
        return make_optimizers(model, self.options(config))

    def train_step(self, model, batch, optimizers, config, step):
        from ...models.gan_tricks import train_step
        if getattr(self, "_options_for", None) is not config:
            self._options, self._options_for = self.options(config), config
        x = batch[0]
        y = batch[1] if self.conditional and len(batch) > 1 else None
        return train_step(model, x, y, optimizers["d"], optimizers["g"], self._options, step)

    def end_of_epoch(self, model, optimizers, config, epoch):
        # the density truncation's threshold is a quantile of the trained G's densities: set it
        # once training ends (epoch may count from 0 or 1: the last two calls both qualify)
        if epoch >= int(config["epochs"]) - 1:
            self._calibrate(model, config)

    def _calibrate(self, model, config):
        q = float(config.get("density_truncation") or 0.0)
        if q > 0 and model.latent_dim == model._data_dim():
            model.calibrate_truncation(q)

    # ---- sampling and evaluation -----------------------------------------------------------
    def sample(self, model, n, config, labels=None, seed=None):
        if labels is not None and not self.conditional:
            raise ValueError(f"{self.name} is not conditional: it takes no labels (use cgan or cdcgan)")
        if seed is not None:
            R.manual_seed(seed)
        out = model.sample(int(n), labels) if self.conditional else model.sample(int(n))
        out = out.numpy().astype(np.float32)
        if len(model.data_shape) > 1:
            out = np.clip(out, 0.0, 1.0)            # images: the data's own range, [0, 1]
        return out

    def evaluate(self, model, dataset, config):
        if dataset.is_toy:
            s = self.sample(model, N_TOY_SAMPLES, config)
            if dataset.centers is not None:
                from ...metrics import mode_coverage
                cov = mode_coverage(s, dataset.centers, dataset.sigma)
                return {"modes": cov["modes"], "high_quality": cov["high_quality"], "per_mode": cov["per_mode"]}
            from ...metrics import fraction_on_manifold
            radius = 0.1 if dataset.name == "moons" else 0.2
            return {"on_manifold": fraction_on_manifold(s, dataset.x_train, radius)}
        from ...metrics import classifier as C
        from ...metrics import frechet_pca
        n = N_IMAGE_SAMPLES
        labels = np.arange(n) % dataset.num_classes if self.conditional else None
        s = self.sample(model, n, config, labels)
        metrics = {"frechet": float(frechet_pca(dataset.x_train, s)),
                   "classifier_frechet": float(C.classifier_frechet(s, dataset)),
                   "class_coverage": C.class_coverage(s, dataset)}
        if self.conditional:
            metrics["label_accuracy"] = C.label_accuracy(s, labels, dataset)
        return metrics

    def pictures(self, model, dataset, config, out_dir):
        from .. import plots
        path = os.path.join(out_dir, "samples.png")
        if dataset.is_toy:
            s = self.sample(model, N_TOY_SAMPLES, config)
            radius = None if dataset.sigma is None else 3 * dataset.sigma
            plots.save_scatter_2d(s, path, data=dataset.x_train[:5000], modes=dataset.centers,
                                  mode_radius=radius, title=f"{self.name} samples over the data")
            return
        if self.conditional:
            c = dataset.num_classes
            labels = np.repeat(np.arange(c), 10)          # row k: ten samples of class k
            plots.save_image_grid(self.sample(model, len(labels), config, labels), path, nrow=10,
                                  title=f"{self.name}: one class per row")
        else:
            plots.save_image_grid(self.sample(model, 100, config), path, nrow=10, title=f"{self.name} samples")


class GANRecipe(_GANFamily):
    name = "gan"


class CGANRecipe(_GANFamily):
    name = "cgan"
    conditional = True
    datasets = IMAGE_DATASETS


class DCGANRecipe(_GANFamily):
    name = "dcgan"
    conv = True
    datasets = IMAGE_DATASETS


class CDCGANRecipe(_GANFamily):
    name = "cdcgan"
    conv = True
    conditional = True
    datasets = IMAGE_DATASETS
