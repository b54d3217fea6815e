"""The generative models, one file per family, each read top to bottom like a textbook.

* :mod:`.autoencoder`: ``Autoencoder``, ``DenoisingAutoencoder`` (compression, denoising,
  anomaly detection)
* :mod:`.vae`: ``VAE`` (generation, latent spaces, likelihoods, imputation)
* :mod:`.gan`, :mod:`.cgan`, :mod:`.dcgan`: ``GAN``, ``ConditionalGAN`` (and convolutional variants)
* :mod:`.ddpm`: ``DDPM``;  :mod:`.realnvp`: ``RealNVP``

Every model is a ``tg.nn.Module`` with ``loss(x[, y])``. Families load on first use, so one
family's file (or its absence) never breaks another's import.
"""
from __future__ import annotations

import importlib

# exported name -> candidate modules (tried in order) under tinygen.models
_LAZY = {
    "Autoencoder": ("autoencoder",),
    "DenoisingAutoencoder": ("autoencoder",),
    "VAE": ("vae",),
    "GAN": ("gan", "dcgan"),
    "ConditionalGAN": ("cgan", "gan", "dcgan"),
    "DCGAN": ("dcgan",),
    "ConditionalDCGAN": ("dcgan",),
    "SelfConditionedGAN": ("cgan",),
    "DDPM": ("ddpm",),
    "RealNVP": ("realnvp",),
}



def _available():
    out = []
    for name in _LAZY:
        try:
            __getattr__(name)
        except AttributeError:
            continue
        out.append(name)
    return out


def __getattr__(name):
    if name == "__all__":          # `from tinygen.models import *`: the families that exist
        return _available()
    if name not in _LAZY:
        raise AttributeError(f"module 'tinygen.models' has no attribute {name!r}")
    missing = []
    for module in _LAZY[name]:
        try:
            mod = importlib.import_module(f"{__name__}.{module}")
        except ModuleNotFoundError as exc:
            if exc.name != f"{__name__}.{module}":
                raise                       # the file exists but something it imports does not
            missing.append(module)
            continue
        if hasattr(mod, name):
            value = getattr(mod, name)
            globals()[name] = value
            return value
    where = " or ".join(f"tinygen/models/{m}.py" for m in _LAZY[name])
    raise AttributeError(f"tinygen.models.{name} is not available: it lives in {where}, "
                         f"which {'does not exist yet' if missing else 'does not define it'}")


def __dir__():
    return sorted(set(globals()) | set(_LAZY))
