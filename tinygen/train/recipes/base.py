"""The recipe interface every model family implements (see recipes/__init__.py)."""
from __future__ import annotations

from typing import Any, Dict


class Recipe:
    """How one model family is built, trained, evaluated and pictured from the command line.

    ``config`` is a plain dict: the recipe's ``defaults(dataset)`` updated with what the user gave
    on the command line (``epochs``, ``batch_size``, ``lr``, ``seed`` and any family option).
    It is saved in the checkpoint, so ``resume``/``sample``/``eval`` rebuild the same model.
    """

    name = "base"
    #: dataset names this family can train on
    datasets = ("digits", "mnist", "fashion-mnist", "ring8", "grid25", "moons", "swissroll")
    #: True when the model uses labels (conditional models)
    conditional = False

    def defaults(self, dataset) -> Dict[str, Any]:
        """Good settings for this dataset: the ones that reach the quality targets with no flags."""
        raise NotImplementedError

    def build(self, dataset, config):
        """A fresh model (a tg.nn.Module) for this dataset and config."""
        raise NotImplementedError

    def make_optimizers(self, model, config) -> Dict[str, Any]:
        """Named optimizers, e.g. {"opt": Adam} or {"d": Adam, "g": Adam}."""
        raise NotImplementedError

    def train_step(self, model, batch, optimizers, config, step: int) -> Dict[str, float]:
        """One optimisation step on a batch (a tuple of NumPy arrays: (x,) or (x, y));
        returns the numbers to log (floats), e.g. {"loss": 1.23} or {"d_loss": .., "g_loss": ..}."""
        raise NotImplementedError

    def end_of_epoch(self, model, optimizers, config, epoch: int) -> None:
        """Hook for schedules (EMA, annealed instance noise, ...); default nothing."""

    def evaluate(self, model, dataset, config) -> Dict[str, Any]:
        """The metrics of API.md for this family on held-out data (metrics.json)."""
        raise NotImplementedError

    def sample(self, model, n: int, config, labels=None, seed=None):
        """n samples as a NumPy array in the data's own range and layout: digits (n, 8, 8) in [0, 1],
        MNIST (n, 28, 28) in [0, 1], 2-D toys (n, 2) in data coordinates."""
        raise NotImplementedError

    def pictures(self, model, dataset, config, out_dir) -> None:
        """Write samples.png (and any family-specific pictures) into out_dir."""
        raise NotImplementedError
