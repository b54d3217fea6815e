"""Recipes for the autoencoder family: ``ae``, ``dae``, ``vae``, ``conv-ae``, ``conv-vae``.

Every step is one loss on one batch (``model.loss(x)``, Adam). Defaults per data set are the
settings measured to reach the quality targets (see benchmarks/train_vae_digits.py for the VAE):

* digits, ``vae``: the 64-256-256-8 MLP (ReLU), Bernoulli likelihood, Adam 1e-3, batch 64,
  300 epochs; metrics ``test_elbo`` (nats per example), ``test_log_likelihood`` (importance
  weighted, k=100), ``frechet`` (PCA-20), ``class_coverage`` (how many of the ten classes an
  independent classifier finds among 1,000 prior samples), ``recon_mse``.
* ``ae``: MSE reconstruction with a sigmoid output; metric ``recon_mse`` (per pixel, test set).
* ``dae``: as ``ae`` plus Gaussian corruption σ=0.3 in training; adds ``noisy_psnr``,
  ``denoised_psnr`` and ``psnr_gain`` (dB) on the corrupted test set.
* toys (``vae`` only): a Gaussian-likelihood VAE with a 2-D latent; ``test_elbo`` (nats, data
  coordinates) and ``modes``/``high_quality`` (ring8, grid25) or ``on_manifold`` (moons, swissroll).

Family options (command line ``--name value``, or ``--set name=value``): ``latent_dim``,
``hidden`` (MLP, e.g. ``256,256``) or ``channels`` (conv), ``activation``, ``loss`` (ae/dae:
mse or bce), ``noise``/``noise_level`` (dae), ``likelihood``/``beta`` (vae).
"""
from __future__ import annotations

import os

import numpy as np

from ... import random as R
from .base import dataset_name, IMAGE_DATASETS, TOY_DATASETS, N_TOY_SAMPLES, Recipe

EVAL_BATCH = 1000
N_EVAL_SAMPLES = 1000          # samples scored by frechet / class_coverage

OPTION_HELP = {
    "latent_dim": "size of the code z",
    "hidden": "MLP hidden sizes, encoder order, comma separated (the decoder mirrors them)",
    "channels": "conv channel widths, encoder order, comma separated",
    "activation": "hidden nonlinearity: relu, leaky_relu, elu, gelu, silu, tanh",
    "loss": "reconstruction loss: mse or bce",
    "noise": "corruption: gaussian, salt_pepper or masking",
    "noise_level": "gaussian: noise std; salt_pepper/masking: probability per pixel",
    "likelihood": "decoder distribution: bernoulli (data in [0, 1]) or gaussian",
    "beta": "weight of the KL term (1 = the true ELBO)",
}



def _batched(fn, x, batch=EVAL_BATCH):
    """Apply ``fn`` (array → Tensor) over ``x`` in chunks, recording no graph; concatenated NumPy result."""
    from ...autograd.grad_mode import no_grad
    with no_grad():
        return np.concatenate([np.asarray(fn(x[i:i + batch]).numpy()) for i in range(0, len(x), batch)])


def _psnr(a, b) -> float:
    mse = float(np.mean((np.asarray(a, np.float64) - np.asarray(b, np.float64)) ** 2))
    return float("inf") if mse == 0 else float(10.0 * np.log10(1.0 / mse))


# ---------------------------------------------------------------------------------------------
# the shared recipe
# ---------------------------------------------------------------------------------------------

class _AutoencoderFamily(Recipe):
    kind = "ae"            # "ae", "dae" or "vae"
    conv = False
    datasets = IMAGE_DATASETS
    option_help = OPTION_HELP

    # ---- defaults ----------------------------------------------------------------------------
    def defaults(self, dataset):
        name = dataset_name(dataset)
        small = name == "digits"
        cfg = {"epochs": 100 if small else 20, "batch_size": 64 if small else 128, "lr": 1e-3, "seed": 0}
        cfg["latent_dim"] = 16 if small else 32
        if self.conv:
            cfg["channels"] = [32, 64] if small else [32, 64, 64]
            cfg["epochs"] = 30 if small else 10
        else:
            cfg["hidden"] = [256, 128] if small else [512, 256]
        cfg["activation"] = "relu"
        cfg["loss"] = "mse"
        return cfg

    def _arch(self, config):
        arch = {"latent_dim": int(config["latent_dim"]), "activation": str(config["activation"]),
                "conv": self.conv}
        if self.conv:
            arch["channels"] = tuple(int(c) for c in config["channels"])
        else:
            arch["hidden"] = tuple(int(h) for h in config["hidden"])
        return arch

    # ---- model and optimizer ----------------------------------------------------------------
    def build(self, dataset, config):
        from ...models.autoencoder import Autoencoder
        self._x_train = dataset.x_train
        return Autoencoder(dataset.data_shape, loss=str(config["loss"]), **self._arch(config))

    def make_optimizers(self, model, config):
        from ...optim import Adam
        return {"opt": Adam(model.parameters(), lr=float(config["lr"]))}

    def train_step(self, model, batch, optimizers, config, step):
        opt = optimizers["opt"]
        opt.zero_grad()
        loss = model.loss(batch[0])
        loss.backward()
        opt.step()
        return {"loss": loss.item()}

    def end_of_epoch(self, model, optimizers, config, epoch):
        # An AE has no prior: keep a Gaussian fitted to the training codes for sample().
        model.fit_code_distribution(self._x_train)

    # ---- evaluation --------------------------------------------------------------------------
    def evaluate(self, model, dataset, config):
        x = dataset.x_test
        rec = _batched(model.reconstruct, x)
        return {"recon_mse": float(np.mean((rec.astype(np.float64) - x) ** 2))}

    def sample(self, model, n, config, labels=None, seed=None):
        if labels is not None:
            raise ValueError(f"{self.name} is not conditional: it takes no labels")
        if seed is not None:
            R.manual_seed(seed)
        out = model.sample(n).numpy()
        return np.clip(out, 0.0, 1.0).astype(np.float32)

    # ---- pictures ----------------------------------------------------------------------------
    def pictures(self, model, dataset, config, out_dir):
        from .. import plots
        x, y = dataset.x_test, dataset.y_test
        plots.save_image_grid(self.sample(model, 100, config), os.path.join(out_dir, "samples.png"),
                              title=f"{self.name}: decoded codes drawn from a Gaussian fit")
        show = x[:20]
        plots.save_reconstructions(show, _batched(model.reconstruct, show),
                                   os.path.join(out_dir, "reconstructions.png"))
        z = _batched(model.encode, x)
        if z.shape[1] >= 2:
            plots.save_latent_scatter(z, y, os.path.join(out_dir, "latent.png"),
                                      title=f"{self.name}: test codes")


class AERecipe(_AutoencoderFamily):
    name = "ae"


class ConvAERecipe(_AutoencoderFamily):
    name = "conv-ae"
    conv = True


class DAERecipe(_AutoencoderFamily):
    name = "dae"
    kind = "dae"

    def defaults(self, dataset):
        cfg = super().defaults(dataset)
        cfg["noise"] = "gaussian"
        cfg["noise_level"] = 0.3
        return cfg

    def build(self, dataset, config):
        from ...models.autoencoder import DenoisingAutoencoder
        self._x_train = dataset.x_train
        return DenoisingAutoencoder(dataset.data_shape, loss=str(config["loss"]), noise=str(config["noise"]),
                                    noise_level=float(config["noise_level"]), clip=(0.0, 1.0),
                                    **self._arch(config))

    def evaluate(self, model, dataset, config):
        metrics = super().evaluate(model, dataset, config)
        x = dataset.x_test
        noisy = _batched(model.corrupt, x)
        denoised = _batched(model.reconstruct, noisy)
        metrics["noisy_psnr"] = _psnr(noisy, x)
        metrics["denoised_psnr"] = _psnr(denoised, x)
        metrics["psnr_gain"] = metrics["denoised_psnr"] - metrics["noisy_psnr"]
        return metrics

    def pictures(self, model, dataset, config, out_dir):
        super().pictures(model, dataset, config, out_dir)
        from .. import plots
        x = dataset.x_test[:20]
        noisy = model.corrupt(x).numpy()
        plots.save_reconstructions(x, _batched(model.reconstruct, noisy), os.path.join(out_dir, "denoising.png"),
                                   noisy=noisy, title=f"denoising ({config['noise']}, level {config['noise_level']})")


# ---------------------------------------------------------------------------------------------
# the VAE
# ---------------------------------------------------------------------------------------------

class VAERecipe(_AutoencoderFamily):
    name = "vae"
    kind = "vae"
    datasets = IMAGE_DATASETS + TOY_DATASETS

    def defaults(self, dataset):
        name = dataset_name(dataset)
        if name in TOY_DATASETS:
            return {"epochs": 30, "batch_size": 256, "lr": 1e-3, "seed": 0, "latent_dim": 2,
                    "hidden": [128, 128], "activation": "relu", "likelihood": "gaussian", "beta": 1.0}
        small = name == "digits"
        cfg = {"epochs": 300 if small else 30, "batch_size": 64 if small else 128, "lr": 1e-3, "seed": 0,
               "latent_dim": 8 if small else 16}
        if self.conv:
            cfg["channels"] = [32, 64] if small else [32, 64, 64]
            cfg["epochs"] = 50 if small else 10
        else:
            cfg["hidden"] = [256, 256] if small else [512, 256]
        cfg.update({"activation": "relu", "likelihood": "bernoulli", "beta": 1.0})
        return cfg

    def build(self, dataset, config):
        from ...models.vae import VAE
        return VAE(dataset.data_shape, likelihood=str(config["likelihood"]), beta=float(config["beta"]),
                   **self._arch(config))

    def train_step(self, model, batch, optimizers, config, step):
        opt = optimizers["opt"]
        opt.zero_grad()
        terms = model.loss_terms(batch[0])
        terms["loss"].backward()
        opt.step()
        return {k: v.item() for k, v in terms.items()}

    def end_of_epoch(self, model, optimizers, config, epoch):
        pass

    def evaluate(self, model, dataset, config):
        x = dataset.x_test
        metrics = {"test_elbo": float(np.mean(_batched(lambda b: model.elbo(b, n_samples=10), x)))}
        sub = x[:EVAL_BATCH]
        metrics["test_log_likelihood"] = float(np.mean(_batched(lambda b: model.log_likelihood(b, k=100), sub, 250)))
        if dataset.is_toy:
            s = model.sample(N_TOY_SAMPLES, mean=False).numpy()
            if dataset.centers is not None:
                from ...metrics import mode_coverage
                cov = mode_coverage(s, dataset.centers, dataset.sigma)
                metrics["modes"], metrics["high_quality"] = cov["modes"], cov["high_quality"]
            else:
                from ...metrics import fraction_on_manifold
                radius = 0.1 if dataset.name == "moons" else 0.2
                metrics["on_manifold"] = fraction_on_manifold(s, dataset.x_train, radius)
            return metrics
        rec = _batched(model.reconstruct, x)
        metrics["recon_mse"] = float(np.mean((rec.astype(np.float64) - x) ** 2))
        samples = model.sample(N_EVAL_SAMPLES).numpy()
        from ...metrics import frechet_pca
        metrics["frechet"] = float(frechet_pca(dataset.x_train, samples))
        from ...metrics.classifier import class_coverage
        metrics["class_coverage"] = class_coverage(samples, dataset)
        return metrics

    def sample(self, model, n, config, labels=None, seed=None):
        if labels is not None:
            raise ValueError(f"{self.name} is not conditional: it takes no labels")
        if seed is not None:
            R.manual_seed(seed)
        toy = str(config.get("likelihood")) == "gaussian" and len(model.input_shape) == 1
        out = model.sample(n, mean=not toy).numpy().astype(np.float32)
        return out if toy else np.clip(out, 0.0, 1.0)

    def pictures(self, model, dataset, config, out_dir):
        from .. import plots
        x = dataset.x_test
        if dataset.is_toy:
            s = self.sample(model, N_TOY_SAMPLES, config)
            radius = None if dataset.sigma is None else 3 * dataset.sigma
            plots.save_scatter_2d(s, os.path.join(out_dir, "samples.png"), data=dataset.x_train[:5000],
                                  modes=dataset.centers, mode_radius=radius, title=f"{self.name} samples")
            mu = _batched(lambda b: model.encode(b)[0], x)
            plots.save_latent_scatter(mu, None, os.path.join(out_dir, "latent.png"),
                                      title="test codes μ(x)")
            return
        y = dataset.y_test
        plots.save_image_grid(self.sample(model, 100, config), os.path.join(out_dir, "samples.png"),
                              title=f"{self.name}: samples from the prior")
        show = x[:20]
        plots.save_reconstructions(show, model.reconstruct(show).numpy(),
                                   os.path.join(out_dir, "reconstructions.png"))
        mu = _batched(lambda b: model.encode(b)[0], x)
        plots.save_latent_scatter(mu, y, os.path.join(out_dir, "latent.png"), title="test codes μ(x)")
        a = int(np.flatnonzero(y == y[0])[0])
        b = int(np.flatnonzero(y != y[0])[0])
        plots.save_interpolation_strip(model.interpolate(x[a], x[b], 10).numpy(),
                                       os.path.join(out_dir, "interpolation.png"),
                                       title=f"interpolating {y[a]} → {y[b]} in latent space")


class ConvVAERecipe(VAERecipe):
    name = "conv-vae"
    conv = True
    datasets = IMAGE_DATASETS
