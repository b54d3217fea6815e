"""The recipe interface every model family implements (see recipes/__init__.py)."""
from __future__ import annotations

from typing import Any, Dict

# What every recipe family trains on and how much it samples to score (shared by all of them)
IMAGE_DATASETS = ("digits", "mnist", "fashion-mnist")
TOY_DATASETS = ("ring8", "grid25", "moons", "swissroll")
N_TOY_SAMPLES = 2500           # samples scored by mode coverage (PacGAN's count on grid25)
N_IMAGE_SAMPLES = 1000         # samples scored by frechet / class_coverage
ON_MANIFOLD_RADIUS = {"moons": 0.1, "swissroll": 0.2}   # "on the data" for the curve toys


def dataset_name(dataset) -> str:
    """The canonical name ("fashion-mnist") of a data set object or a name string."""
    return str(dataset if isinstance(dataset, str) else dataset.name).lower().replace("_", "-")


class Recipe:
    """How one model family is built, trained, evaluated and pictured from the command line.

    ``config`` is a plain dict: the recipe's ``defaults(dataset)`` updated with what the user gave
    on the command line (``epochs``, ``batch_size``, ``lr``, ``seed`` and any family option).
    It is saved in the checkpoint, so ``resume``/``sample``/``eval`` rebuild the same model.

    Conventions the Trainer and the command line rely on:

    * ``defaults(dataset)`` receives the data set *name* (flags are built before data is loaded);
      every key beyond the core ones becomes a command-line flag (``noise_level`` →
      ``--noise-level``, parsed like its default value), and ``--set key=value`` sets any key.
      An optional ``option_help = {key: "help text"}`` documents them in ``--help``.
    * Optional ``state_dict()`` / ``load_state_dict()`` hold recipe-owned training state (EMA
      weights, annealing counters); the Trainer saves them in the checkpoint.
    * ``train_step(..., step)`` gets the 0-based global step; ``end_of_epoch(..., epoch)`` the
      0-based index of the epoch that just finished.
    * ``evaluate`` and ``pictures`` run with grad mode on (wrap model calls in ``tg.no_grad()``)
      under a separate, fixed random stream, so evaluation never disturbs training's numbers.
    * ``sample(..., labels=)`` receives an int64 array (``--label K`` repeated n times) or None.
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
