"""Recipe for ``tinygen train ddpm``: a denoising diffusion model (:class:`tinygen.models.DDPM`).

Each step is the simple loss ‖ε − ε_θ(x_t, t)‖² on one batch with Adam, followed by an update of
the exponential moving average (EMA) of the weights that sampling uses. The learning rate
follows a short warm-up and a cosine decay to ``lr_final_ratio``·lr over the whole run, so the
last steps polish the weights instead of jittering around them (the toys' modes are 0.02 wide).

Defaults per data set (measured to reach issue #7's targets; see benchmarks/train_ddpm.py):

* 2-D toys: ε-MLP 3×256 SiLU reading the point and its 64-d step embedding, T = 200 with
  the cosine schedule, batch 256, Adam 1e-3, 64 epochs of 20,000 points (≈ 5,000 steps), data
  centred and scaled by 1/``data_scale`` = 2, EMA 0.995, ancestral sampling;
  metrics ``modes``/``high_quality`` (ring8, grid25) or ``on_manifold`` (moons, swissroll),
  on 2,500 samples.
* digits: class-conditional ε-MLP 3×512 with label dropout 0.1 (classifier-free guidance),
  T = 500 cosine, batch 128, 1,200 epochs, EMA 0.999, pixels scaled to [−1, 1] and x̂_0
  clipped there, deterministic DDIM with 100 steps (sharper than ancestral sampling here).
  Metrics on 1,000 samples of the model's p(x) = Σ_y p(y) p(x|y) (labels drawn with the
  training frequencies, guidance ``guidance``, 0 by default): ``frechet`` (PCA-20),
  ``class_coverage`` and ``label_accuracy`` (the shared digit classifier); and on 1,000 samples
  with the null label: ``frechet_unconditional``, ``class_coverage_unconditional``.
  ``tinygen sample DIR`` draws labels the same way unless ``--label K`` fixes one.
* MNIST / Fashion-MNIST: the small convolutional U-Net (:class:`~tinygen.models.ddpm.EpsConvNet`).

Family options: ``T``, ``schedule`` (linear, cosine), ``hidden``, ``depth``, ``embed_dim``, ``data_scale``,
``ema_decay``, ``warmup``, ``lr_final_ratio``, ``sampler`` (ancestral, ddim), ``sample_steps``
(DDIM), ``eta``, ``conditional``, ``p_uncond``, ``guidance``. The learning-rate decay spans
``epochs``: a run resumed with the same ``--epochs`` ends exactly as an uninterrupted one; a
larger ``--epochs`` on resume stretches the rest of the decay.
"""
from __future__ import annotations

import math
import os

import numpy as np

from ... import random as R
from .base import (IMAGE_DATASETS, N_IMAGE_SAMPLES, N_TOY_SAMPLES, ON_MANIFOLD_RADIUS, TOY_DATASETS,
                   Recipe, dataset_name)


OPTION_HELP = {
    "T": "number of diffusion steps",
    "schedule": "noise schedule: linear or cosine",
    "net": "ε-network: mlp, or conv (a small U-Net for 28x28 images)",
    "hidden": "MLP width (conv: base channel count)",
    "depth": "MLP hidden layers",
    "embed_dim": "size of the sinusoidal step embedding",
    "data_scale": "toys: the model sees (x - mean)/data_scale",
    "ema_decay": "decay of the moving average of the weights used for sampling (0: off)",
    "warmup": "learning-rate warm-up steps",
    "lr_final_ratio": "the cosine learning-rate decay ends at lr times this (1: constant lr)",
    "sampler": "ancestral (all T steps) or ddim",
    "sample_steps": "DDIM steps (ignored by the ancestral sampler)",
    "eta": "DDIM noise (0: deterministic)",
    "conditional": "train with labels (classifier-free guidance; images only)",
    "p_uncond": "probability of dropping the label in training (classifier-free guidance)",
    "guidance": "guidance weight w for labelled samples: (1+w) eps(x,y) - w eps(x)",
}



class DDPMRecipe(Recipe):
    name = "ddpm"
    datasets = IMAGE_DATASETS + TOY_DATASETS
    option_help = OPTION_HELP

    def __init__(self):
        self.conditional = False
        self._total_steps = None
        self._toy_samples = None          # evaluate's samples, drawn again by pictures otherwise
        self._train_labels = None         # a conditional run draws labels from these for p(x)
        self._image = False

    # ---- defaults ------------------------------------------------------------------------------
    def defaults(self, dataset):
        name = dataset_name(dataset)
        if name in TOY_DATASETS:
            cfg = {"epochs": 64, "batch_size": 256, "lr": 1e-3, "seed": 0,
                   "T": 200, "schedule": "cosine", "net": "mlp", "hidden": 256, "depth": 3, "embed_dim": 64,
                   "data_scale": 0.5, "ema_decay": 0.995, "warmup": 100, "lr_final_ratio": 0.05,
                   "sampler": "ancestral", "sample_steps": 200, "eta": 0.0,
                   "conditional": False, "p_uncond": 0.0, "guidance": 0.0}
        elif name == "digits":
            cfg = {"epochs": 1200, "batch_size": 128, "lr": 1e-3, "seed": 0,
                   "T": 500, "schedule": "cosine", "net": "mlp", "hidden": 512, "depth": 3, "embed_dim": 64,
                   "ema_decay": 0.999, "warmup": 200, "lr_final_ratio": 0.05,
                   "sampler": "ddim", "sample_steps": 100, "eta": 0.0,
                   "conditional": True, "p_uncond": 0.1, "guidance": 0.0}
        else:
            cfg = {"epochs": 10, "batch_size": 128, "lr": 2e-4, "seed": 0,
                   "T": 500, "schedule": "cosine", "net": "conv", "hidden": 32, "depth": 3, "embed_dim": 64,
                   "ema_decay": 0.999, "warmup": 200, "lr_final_ratio": 0.1,
                   "sampler": "ddim", "sample_steps": 100, "eta": 0.0,
                   "conditional": True, "p_uncond": 0.1, "guidance": 0.0}
        self.conditional = bool(cfg["conditional"])
        return cfg

    # ---- model and optimizer -------------------------------------------------------------------
    def build(self, dataset, config):
        from ...models.ddpm import DDPM
        name = dataset_name(dataset)
        toy = name in TOY_DATASETS
        self._image = not toy
        self.conditional = bool(config.get("conditional", False)) and not toy
        self._train_labels = np.asarray(dataset.y_train) if self.conditional else None
        x = np.asarray(dataset.x_train, dtype=np.float64)
        shape = tuple(dataset.data_shape)
        if toy:
            # centred and scaled *up* (x_model = (x − mean)/0.5): the schedule's noise levels are
            # absolute, and the toys' modes (σ 0.02–0.05) are tiny next to their extent, so this
            # spends more of the chain where the modes get resolved (standardising to unit
            # variance instead loses most of grid25's modes)
            shift, scale = x.mean(axis=0), float(config.get("data_scale", 0.5))
            # x̂_0 = (x_t − √(1−ᾱ) ε̂)/√ᾱ amplifies ε̂'s error by 1/√ᾱ near t = T (4,000× for the
            # cosine schedule's last step); clipping it to the data's box (+20 %) keeps DDIM's
            # big early jumps sane (ring8, DDIM-20: 1 % → 95 % high quality; ancestral unchanged)
            bound = 1.2 * float(np.abs((x - shift) / scale).max())
            clip = (-bound, bound)
        else:
            # images in [0, 1] → [−1, 1]; x̂_0 clipped there while sampling
            shift, scale, clip = 0.5, 0.5, (-1.0, 1.0)
            if config.get("net") == "conv" and len(shape) == 2:
                shape = (1,) + shape
        ema = float(config.get("ema_decay", 0.0))
        n = len(dataset.x_train)
        self._total_steps = int(config["epochs"]) * max(1, math.ceil(n / int(config["batch_size"])))
        return DDPM(shape, T=int(config["T"]), schedule=str(config["schedule"]), net=str(config["net"]),
                    hidden=int(config["hidden"]), depth=int(config["depth"]), embed_dim=int(config["embed_dim"]),
                    num_classes=dataset.num_classes if self.conditional else None,
                    p_uncond=float(config.get("p_uncond", 0.0)), data_shift=shift, data_scale=scale,
                    clip_x0=clip, ema_decay=ema if ema > 0 else None)

    def make_optimizers(self, model, config):
        from ...optim import Adam
        return {"opt": Adam(model.net.parameters(), lr=float(config["lr"]))}

    def _lr(self, config, step):
        """Linear warm-up, then a cosine decay from lr to lr·lr_final_ratio over the run."""
        lr = float(config["lr"])
        warm = int(config.get("warmup", 0))
        if warm > 0 and step < warm:
            return lr * (step + 1) / warm
        total = self._total_steps or 1
        final = float(config.get("lr_final_ratio", 1.0))
        frac = min(1.0, max(0.0, (step - warm) / max(1, total - warm)))
        return lr * (final + (1.0 - final) * 0.5 * (1.0 + math.cos(math.pi * frac)))

    def _reshape(self, model, x):
        return x.reshape((len(x),) + model.data_shape)

    def train_step(self, model, batch, optimizers, config, step):
        opt = optimizers["opt"]
        for g in opt.param_groups:
            g["lr"] = self._lr(config, step)
        x = self._reshape(model, batch[0])
        y = batch[1] if (self.conditional and len(batch) > 1) else None
        opt.zero_grad()
        loss = model.loss(x, y)
        loss.backward()
        opt.step()
        model.update_ema()
        return {"loss": loss.item()}

    # ---- sampling ------------------------------------------------------------------------------
    def _draw(self, model, n, config, labels=None, progress=False, **kw):
        method = str(config.get("sampler", "ancestral"))
        steps = min(int(config.get("sample_steps", model.T)), model.T) if method == "ddim" else None
        out = []
        for i in range(0, n, 1000):                        # bounded memory for big requests
            lab = None if labels is None else labels[i:i + 1000]
            out.append(model.sample(min(1000, n - i), labels=lab, guidance=float(config.get("guidance", 0.0)),
                                    method=method, steps=steps, eta=float(config.get("eta", 0.0)),
                                    progress=progress, **kw).numpy())
        return np.concatenate(out) if out else np.zeros((0,) + model.data_shape, np.float32)

    def _to_data(self, model, x, dataset_shape):
        x = np.asarray(x, dtype=np.float32)
        if self._image:                                    # images: the data's own range
            x = np.clip(x, 0.0, 1.0)
        return x.reshape((len(x),) + tuple(dataset_shape))

    def sample(self, model, n, config, labels=None, seed=None):
        if seed is not None:
            R.manual_seed(seed)
        if labels is not None:
            if not self.conditional:
                raise ValueError("this ddpm run is not conditional: it takes no labels")
            labels = np.broadcast_to(np.asarray(labels, dtype=np.int64), (int(n),))
        elif self._train_labels is not None:
            labels = self._random_labels(int(n))     # no label asked: a sample of p(x) = Σ_y p(y) p(x|y)
        x = self._draw(model, int(n), config, labels, progress=True)
        shape = model.data_shape if len(model.data_shape) != 3 or model.data_shape[0] != 1 else model.data_shape[1:]
        return self._to_data(model, x, shape)

    def _random_labels(self, n):
        """n labels drawn with the training set's class frequencies (tinygen's generator)."""
        return self._train_labels[R.integers_array(0, len(self._train_labels), (n,))]

    # ---- evaluation ----------------------------------------------------------------------------
    def evaluate(self, model, dataset, config):
        name = dataset_name(dataset)
        metrics = {"test_loss": self._test_loss(model, dataset)}
        if name in TOY_DATASETS:
            s = self._toy_samples = self._draw(model, N_TOY_SAMPLES, config)
            if dataset.centers is not None:
                from ...metrics import mode_coverage
                cov = mode_coverage(s, dataset.centers, dataset.sigma)
                metrics["modes"], metrics["high_quality"] = cov["modes"], cov["high_quality"]
            else:
                from ...metrics import fraction_on_manifold
                metrics["on_manifold"] = fraction_on_manifold(s, dataset.x_train, ON_MANIFOLD_RADIUS[name])
            return metrics
        from ...metrics import frechet_pca
        from ...metrics.classifier import class_coverage, label_accuracy
        shape = dataset.data_shape
        if self.conditional:
            # the model's own p(x) = Σ_y p(y) p(x | y): labels drawn with the training frequencies
            # (the usual protocol for class-conditional models); guidance as configured
            labels = self._random_labels(N_IMAGE_SAMPLES)
            s = self._to_data(model, self._draw(model, N_IMAGE_SAMPLES, config, labels), shape)
            metrics["label_accuracy"] = float(label_accuracy(s, labels, dataset))
        else:
            s = self._to_data(model, self._draw(model, N_IMAGE_SAMPLES, config), shape)
        metrics["frechet"] = float(frechet_pca(dataset.x_train, s))
        metrics["class_coverage"] = int(class_coverage(s, dataset))
        if self.conditional:
            # the same network without a label (the null label of classifier-free guidance)
            su = self._to_data(model, self._draw(model, N_IMAGE_SAMPLES, config), shape)
            metrics["frechet_unconditional"] = float(frechet_pca(dataset.x_train, su))
            metrics["class_coverage_unconditional"] = int(class_coverage(su, dataset))
        return metrics

    def _test_loss(self, model, dataset, limit=5000):
        """The training objective on held-out data (fixed t and ε under the evaluation seed)."""
        x = self._reshape(model, dataset.x_test[:limit])
        y = dataset.y_test[:limit] if (self.conditional and dataset.y_test is not None) else None
        total = 0.0
        for i in range(0, len(x), 1000):
            yy = None if y is None else y[i:i + 1000]
            total += model.loss(x[i:i + 1000], yy).item() * len(x[i:i + 1000])
        return total / len(x)

    # ---- pictures ------------------------------------------------------------------------------
    def pictures(self, model, dataset, config, out_dir):
        from .. import plots
        name = dataset_name(dataset)
        if name in TOY_DATASETS:
            s = self._toy_samples if self._toy_samples is not None else self._draw(model, N_TOY_SAMPLES, config)
            self._toy_samples = None
            radius = None if dataset.sigma is None else 3 * dataset.sigma
            plots.save_scatter_2d(s, os.path.join(out_dir, "samples.png"), data=dataset.x_train[:5000],
                                  modes=dataset.centers, mode_radius=radius,
                                  title=f"DDPM samples ({config['sampler']}, T={config['T']})")
            _, traj, times = model.sample(500, progress=False, return_trajectory=True, trajectory_points=6,
                                          method=str(config.get("sampler", "ancestral")),
                                          steps=min(int(config.get("sample_steps", model.T)), model.T))
            plots.save_trajectory_strip(traj, os.path.join(out_dir, "trajectory.png"), kind="points",
                                        data=dataset.x_train[:3000], times=times,
                                        title="reverse diffusion x_T → x_0")
            return
        shape = dataset.data_shape
        if self.conditional:
            labels = np.repeat(np.arange(dataset.num_classes), 10)
            grid = self._to_data(model, self._draw(model, len(labels), config, labels), shape)
            title = f"DDPM samples, one row per class (guidance {config.get('guidance', 0.0)})"
        else:
            grid = self._to_data(model, self._draw(model, 100, config), shape)
            title = "DDPM samples"
        plots.save_image_grid(grid, os.path.join(out_dir, "samples.png"), nrow=10, title=title)
        labels = np.arange(min(8, dataset.num_classes)) if self.conditional else None
        _, traj, times = model.sample(8, labels=labels, progress=False, return_trajectory=True, trajectory_points=8,
                                      method=str(config.get("sampler", "ancestral")),
                                      steps=min(int(config.get("sample_steps", model.T)), model.T))
        traj = [np.clip(f, 0.0, 1.0).reshape((len(f),) + tuple(shape)) for f in traj]
        plots.save_trajectory_strip(traj, os.path.join(out_dir, "denoising.png"), kind="images", times=times,
                                    title="denoising x_T → x_0")
