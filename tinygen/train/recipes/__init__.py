"""Recipes: what ``tinygen train MODEL --data DATASET`` does for each model family.

A recipe is the one place that knows a model family's good defaults per dataset, how one training
step goes (one loss for autoencoders; alternating D and G steps for GANs), which metrics go into
``metrics.json`` and which pictures are drawn. The command line and the Trainer only talk to
recipes through :class:`~tinygen.train.recipes.base.Recipe`.

Recipes are registered by name and imported lazily, so ``tinygen info`` stays fast and one
family's import problems never break another's.
"""
from __future__ import annotations

import importlib

# model name -> "module:RecipeClass" (modules under tinygen.train.recipes)
REGISTRY = {
    "ae": "autoencoders:AERecipe",
    "dae": "autoencoders:DAERecipe",
    "vae": "autoencoders:VAERecipe",
    "conv-ae": "autoencoders:ConvAERecipe",
    "conv-vae": "autoencoders:ConvVAERecipe",
    "gan": "gans:GANRecipe",
    "cgan": "gans:CGANRecipe",
    "dcgan": "gans:DCGANRecipe",
    "cdcgan": "gans:CDCGANRecipe",
    "ddpm": "diffusion:DDPMRecipe",
    "realnvp": "flows:RealNVPRecipe",
}


def available():
    """Model names the command line accepts."""
    return list(REGISTRY)


def get(name):
    """An instance of the recipe for model ``name`` (ValueError naming the valid ones otherwise)."""
    if name not in REGISTRY:
        raise ValueError(f"unknown model {name!r}; choose one of: {', '.join(REGISTRY)}")
    module, cls = REGISTRY[name].split(":")
    mod = importlib.import_module(f"{__name__}.{module}")
    return getattr(mod, cls)()
