"""The training loop shared by every model: one ``Trainer`` driven by a Recipe.

A recipe (:mod:`tinygen.train.recipes`) knows one model family: its defaults per data set, how
to build the model and its optimizers, one training step, the metrics and the pictures. The
Trainer knows everything else, the same for all families:

* config: ``recipe.defaults(dataset)`` updated with the caller's overrides (unknown keys are an
  error naming the valid ones); ``epochs``, ``batch_size``, ``lr``, ``seed`` always exist;
* seeding: ``tg.manual_seed(seed)`` before the model is built, so one seed fixes the run;
* batches: a :class:`~tinygen.data.DataLoader` over the training split (``(x,)``, or ``(x, y)``
  for conditional recipes), shuffled by ``(seed, epoch)``;
* the loop: ``recipe.train_step`` per batch (``step`` counts batches from 0 over the whole run),
  ``recipe.end_of_epoch(model, optimizers, config, epoch)`` after each epoch (``epoch`` = the
  0-based index of the epoch just finished), a progress bar that shows the running means of the
  logged numbers (tqdm on a terminal; without one, a handful of plain lines);
* a NaN/Inf guard: the first non-finite logged number stops the run with
  :class:`TrainingDiverged`, naming the quantity, epoch and step; the last good checkpoint is
  kept untouched;
* history: per epoch, the mean of each logged number over the epoch's steps, and ``seconds``
  (training time so far), in ``history.csv``;
* checkpoints: ``DIR/checkpoint`` after every epoch (``tg.save``: atomic, no pickle) with the
  model's state_dict, each optimizer's state_dict, tinygen's RNG state, the DataLoader's state,
  epoch, step, history, config, recipe and data set names, so ``fit(resume=True)`` continues
  bit-exactly: an interrupted and resumed run ends with the same parameters as an uninterrupted
  one (on the CPU backend). A recipe with state of its own may define ``state_dict()`` and
  ``load_state_dict(state)``; it is saved too;
* at the end: ``metrics.json`` (``recipe.evaluate`` + ``seconds``), ``samples.png`` (and
  whatever else ``recipe.pictures`` draws) and ``loss.png``. Evaluation and pictures run under
  a fixed seed with the training RNG stream set aside, so ``tinygen eval DIR`` reproduces the
  same numbers and evaluating never changes what training draws next.

Python use::

    from tinygen.train.trainer import Trainer, fit
    metrics = fit("vae", "digits", "runs/vae", epochs=50)
    trainer = Trainer.load("runs/vae")            # rebuild the trained model from the checkpoint
    x = trainer.sample(16)                        # (16, 8, 8) in [0, 1]
"""
from __future__ import annotations

import contextlib
import csv
import io
import json
import math
import numbers
import os
import sys
import tempfile
import time
from typing import Any, Dict, Iterable, List, Optional

import numpy as np

__all__ = ["Trainer", "fit", "Callback", "TrainingError", "TrainingDiverged", "CHECKPOINT",
           "RUN_FORMAT", "CORE_OPTIONS"]

CHECKPOINT = "checkpoint"
RUN_FORMAT = "tinygen-run"
RUN_VERSION = 1
CORE_OPTIONS = ("epochs", "batch_size", "lr", "seed")
EVAL_SEED_OFFSET = 1_000_003        # evaluation/pictures draw from seed + this, apart from training


class TrainingError(Exception):
    """A run cannot start or go on (bad option, unusable folder, missing or foreign checkpoint).
    The message is one clear line meant for the user."""


class TrainingDiverged(TrainingError, FloatingPointError):
    """A logged number became NaN or infinite. ``epoch`` and ``step`` are 1-based, ``step``
    counting within the epoch; ``name`` and ``value`` say which number."""

    def __init__(self, message, epoch, step, name, value):
        super().__init__(message)
        self.epoch, self.step, self.name, self.value = epoch, step, name, value


class Callback:
    """Hooks into the loop (all optional): ``on_step_end(trainer, logs)`` after each step,
    ``on_epoch_end(trainer, epoch, row)`` after each epoch's checkpoint (``epoch`` 1-based,
    ``row`` its history entry). ``trainer.epoch``/``trainer.step`` count completed work."""

    def on_step_end(self, trainer, logs):
        pass

    def on_epoch_end(self, trainer, epoch, row):
        pass


# ---------------------------------------------------------------------------------------------
# small helpers
# ---------------------------------------------------------------------------------------------

def _recipe_registry():
    from . import recipes
    return recipes


def _dataset_name(data) -> str:
    return str(data if isinstance(data, str) else getattr(data, "name", "")).lower().replace("_", "-")


def _check_config(config: Dict[str, Any]) -> Dict[str, Any]:
    """Types and ranges of the options every recipe has; returns a cleaned copy."""
    cfg = dict(config)

    def _int(key, low):
        v = cfg.get(key)
        if isinstance(v, bool) or not isinstance(v, numbers.Integral) and not (
                isinstance(v, float) and v.is_integer()):
            raise TrainingError(f"{key.replace('_', '-')} must be a whole number, got {v!r}")
        if int(v) < low:
            raise TrainingError(f"{key.replace('_', '-')} must be {'positive' if low == 1 else f'>= {low}'}, got {v}")
        cfg[key] = int(v)

    for key in CORE_OPTIONS:
        if key not in cfg:
            raise TrainingError(f"the recipe's defaults lack {key!r}")
    _int("epochs", 1)
    _int("batch_size", 1)
    _int("seed", 0)
    lr = cfg["lr"]
    if isinstance(lr, bool) or not isinstance(lr, numbers.Real) or not math.isfinite(lr) or lr <= 0:
        raise TrainingError(f"lr must be a positive number, got {lr!r}")
    cfg["lr"] = float(lr)
    return cfg


def _plain(value):
    """NumPy scalars/arrays and Tensors → Python numbers/lists (for JSON and the checkpoint config)."""
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    if hasattr(value, "item") and getattr(value, "ndim", 1) == 0:
        return value.item()
    if isinstance(value, np.ndarray):
        return value.tolist()
    if hasattr(value, "numpy") and hasattr(value, "shape"):
        return _plain(value.numpy())
    return value


def _atomic_write_text(path: str, text: str) -> None:
    folder = os.path.dirname(os.path.abspath(path))
    fd, tmp = tempfile.mkstemp(prefix="." + os.path.basename(path) + ".", suffix=".tmp", dir=folder)
    try:
        with os.fdopen(fd, "w", newline="") as f:
            f.write(text)
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise


def write_json(path: str, obj) -> None:
    """Pretty JSON, written atomically (NaN/inf spelled as JSON's NaN/Infinity)."""
    _atomic_write_text(path, json.dumps(_plain(obj), indent=2, sort_keys=False) + "\n")


def write_history_csv(path: str, history: List[Dict[str, Any]]) -> None:
    keys: List[str] = []
    for row in history:
        keys += [k for k in row if k not in keys]
    if "seconds" in keys:                       # keep the time column last
        keys.remove("seconds")
        keys.append("seconds")
    buf = io.StringIO()
    w = csv.DictWriter(buf, fieldnames=keys, lineterminator="\n")
    w.writeheader()
    for row in history:
        w.writerow({k: (f"{v:.9g}" if isinstance(v, float) else v) for k, v in row.items()})
    _atomic_write_text(path, buf.getvalue())


@contextlib.contextmanager
def _separate_rng(seed: int):
    """Run the body on freshly seeded generators, then put the previous ones back untouched."""
    from .. import random as R
    saved_gens, saved_seed = dict(getattr(R, "_generators", {})), getattr(R, "_seed", None)
    saved_state = R.get_rng_state()
    R.manual_seed(seed)
    try:
        yield
    finally:
        if hasattr(R, "_generators"):
            R._generators.clear()
            R._generators.update(saved_gens)
            R._seed = saved_seed
        R.set_rng_state(saved_state)


def _fmt(v: float) -> str:
    a = abs(v)
    return f"{v:.4g}" if a == 0 or 1e-3 <= a < 1e5 else f"{v:.3e}"


# ---------------------------------------------------------------------------------------------
# the trainer
# ---------------------------------------------------------------------------------------------

class Trainer:
    """Train one model as its recipe says, with checkpoints, resume and outputs in ``out_dir``.

    Args:
      recipe: a model name from ``tinygen.train.recipes.available()`` or a Recipe instance.
      data: a data set name (``"digits"``, ``"ring8"``, ...) or a loaded data set object.
      out_dir: the run folder (checkpoint, metrics.json, history.csv, pictures); None keeps
        nothing on disk (no checkpoints, no files; handy in tests and notebooks).
      config: overrides of ``recipe.defaults(data)``; a key the recipe does not know is an error.
      data_dir: folder of file-based data sets (MNIST), remembered in the checkpoint.
      device: ``"cpu"`` or ``"cuda"`` (default: tinygen's default device).
      progress: True for a tqdm bar, False for plain lines, None to choose by whether stderr is
        a terminal. ``quiet=True`` prints nothing at all.
      callbacks: :class:`Callback` objects.
    """

    def __init__(self, recipe, data, out_dir=None, config: Optional[Dict[str, Any]] = None, *,
                 data_dir=None, device=None, progress=None, quiet: bool = False,
                 callbacks: Iterable[Callback] = (), overwrite: bool = False):
        registry = _recipe_registry()
        if isinstance(recipe, str):
            if recipe not in registry.REGISTRY:
                raise TrainingError(f"unknown model {recipe!r}; choose one of: {', '.join(registry.available())}")
            self.recipe_name = recipe
            try:
                self.recipe = registry.get(recipe)
            except (ImportError, AttributeError) as exc:
                raise TrainingError(f"model {recipe!r} is not available yet ({type(exc).__name__}: {exc})") from None
        else:
            self.recipe, self.recipe_name = recipe, getattr(recipe, "name", type(recipe).__name__)
        self.dataset_name = _dataset_name(data)
        from ..data import DATASETS
        if self.dataset_name not in DATASETS:
            raise TrainingError(f"unknown data set {self.dataset_name or data!r}; choose one of: {', '.join(DATASETS)}")
        if self.dataset_name not in tuple(self.recipe.datasets):
            raise TrainingError(f"{self.recipe_name} does not train on {self.dataset_name}; it trains on: "
                                f"{', '.join(self.recipe.datasets)}")
        self._data = None if isinstance(data, str) else data
        self.data_dir = None if data_dir is None else str(data_dir)
        self.out_dir = None if out_dir is None else str(out_dir)
        self.defaults = dict(self.recipe.defaults(self.dataset_name))
        overrides = dict(config or {})
        unknown = sorted(k for k in overrides if k not in self.defaults)
        if unknown:
            raise TrainingError(f"{self.recipe_name} has no option {unknown[0]!r}; its options are: "
                                f"{', '.join(sorted(self.defaults))}")
        self.overrides = overrides
        self.config = _check_config({**self.defaults, **overrides})
        from .. import backend
        try:
            self.device = backend.normalize_device(device if device is not None else backend.get_default_device())
            if self.device != "cpu" and not backend.cuda_available():
                raise TrainingError(f"device {self.device!r} is not available: {backend.cuda_unavailable_reason()}")
        except ValueError as exc:
            raise TrainingError(str(exc)) from None
        self.progress, self.quiet = progress, quiet
        self.callbacks = list(callbacks)
        self.overwrite = overwrite
        self.model = None
        self.optimizers: Dict[str, Any] = {}
        self.loader = None
        self.epoch = 0            # completed epochs
        self.step = 0             # completed steps (batches) over the whole run
        self.history: List[Dict[str, Any]] = []
        self.train_seconds = 0.0

    # ---- paths -----------------------------------------------------------------------------
    def path(self, name: str) -> str:
        if self.out_dir is None:
            raise TrainingError("this trainer has no out_dir")
        return os.path.join(self.out_dir, name)

    @property
    def checkpoint_path(self) -> str:
        return self.path(CHECKPOINT)

    # ---- the data set ------------------------------------------------------------------------
    @property
    def dataset(self):
        if self._data is None:
            from ..data import DownloadError, load_dataset
            try:
                self._data = load_dataset(self.dataset_name, data_dir=self.data_dir)
            except (ValueError, OSError, DownloadError) as exc:
                raise TrainingError(f"cannot load {self.dataset_name}: {exc}") from None
        return self._data

    def _train_arrays(self):
        ds = self.dataset
        if hasattr(self.recipe, "train_arrays"):     # e.g. a validation split held out of training
            return tuple(self.recipe.train_arrays(ds, self.config))
        if getattr(self.recipe, "conditional", False):
            if ds.y_train is None:
                raise TrainingError(f"{self.recipe_name} needs labels, and {self.dataset_name} has none")
            return (ds.x_train, ds.y_train)
        return (ds.x_train,)

    # ---- setting up ------------------------------------------------------------------------------
    def _log(self, msg: str) -> None:
        if not self.quiet:
            print(msg, file=sys.stderr, flush=True)

    def _prepare_out_dir(self, resume: bool) -> None:
        if self.out_dir is None:
            return
        if os.path.exists(self.out_dir) and not os.path.isdir(self.out_dir):
            raise TrainingError(f"--out {self.out_dir} exists and is not a folder")
        try:
            os.makedirs(self.out_dir, exist_ok=True)
            with tempfile.TemporaryFile(dir=self.out_dir):
                pass
        except OSError as exc:
            raise TrainingError(f"cannot write into {self.out_dir}: {exc.strerror or exc}") from None
        if not resume and os.path.exists(self.checkpoint_path) and not self.overwrite:
            raise TrainingError(f"{self.checkpoint_path} already exists; continue it with --resume, "
                                f"or start afresh with --overwrite (or pick another --out)")

    def read_checkpoint(self) -> Dict[str, Any]:
        """The checkpoint of ``out_dir``, checked to be a run of this model and data set."""
        return read_run_checkpoint(self.out_dir, expect_model=self.recipe_name, expect_data=self.dataset_name)

    def build(self) -> None:
        """Seed, build the model and optimizers, and make the loader (a fresh run's state)."""
        from .. import random as R
        from ..data import DataLoader
        cfg = self.config
        R.manual_seed(cfg["seed"])
        self.model = self.recipe.build(self.dataset, cfg)
        if self.device != "cpu":
            self.model.to(self.device)
        self.optimizers = dict(self.recipe.make_optimizers(self.model, cfg))
        arrays = self._train_arrays()
        drop_last = bool(cfg.get("drop_last", False)) and len(arrays[0]) >= cfg["batch_size"]
        self.loader = DataLoader(arrays, batch_size=cfg["batch_size"], shuffle=True, seed=cfg["seed"],
                                 drop_last=drop_last)
        self.epoch, self.step, self.history, self.train_seconds = 0, 0, [], 0.0

    def state_dict(self) -> Dict[str, Any]:
        from .. import random as R
        state = {
            "format": RUN_FORMAT, "version": RUN_VERSION,
            "recipe": self.recipe_name, "dataset": self.dataset_name, "data_dir": self.data_dir,
            "config": _plain(self.config), "epoch": self.epoch, "step": self.step,
            "seconds": float(self.train_seconds), "history": _plain(self.history),
            "device": self.device,
            "model": self.model.state_dict(),
            "optimizers": {k: o.state_dict() for k, o in self.optimizers.items()},
            "rng": R.get_rng_state(),
            "loader": self.loader.state_dict() if self.loader is not None else None,
        }
        if hasattr(self.recipe, "state_dict"):
            state["recipe_state"] = self.recipe.state_dict()
        return state

    def load_state_dict(self, state: Dict[str, Any], training: bool = True) -> None:
        """Restore model (and, with ``training``, optimizers, RNG, loader, counters) from a checkpoint."""
        from .. import random as R
        try:
            self.model.load_state_dict(state["model"])
            if training:
                for name, opt in self.optimizers.items():
                    opt.load_state_dict(state["optimizers"][name])
                R.set_rng_state(state["rng"])
                if state.get("loader") is not None:
                    self.loader.load_state_dict(state["loader"])
            # the recipe's own state (e.g. early stopping: best epoch and score) also matters for
            # evaluating a finished run, not only for resuming it
            if hasattr(self.recipe, "load_state_dict") and "recipe_state" in state:
                self.recipe.load_state_dict(state["recipe_state"])
        except (KeyError, ValueError, TypeError, RuntimeError) as exc:
            raise TrainingError(f"{self.checkpoint_path} does not fit this model: {exc}") from None
        self.epoch, self.step = int(state["epoch"]), int(state["step"])
        self.history = [dict(r) for r in state.get("history", [])]
        self.train_seconds = float(state.get("seconds", 0.0))

    def save_checkpoint(self) -> None:
        if self.out_dir is not None:
            from .. import io as tgio
            tgio.save(self.state_dict(), self.checkpoint_path)

    @classmethod
    def load(cls, out_dir, data_dir=None, device=None, **kwargs) -> "Trainer":
        """Rebuild a trained run from ``out_dir/checkpoint`` (for sampling and evaluation)."""
        state = read_run_checkpoint(out_dir)
        cfg = dict(state["config"])
        trainer = cls(state["recipe"], state["dataset"], out_dir, None,
                      data_dir=data_dir if data_dir is not None else state.get("data_dir"),
                      device=device, overwrite=True, **kwargs)
        trainer.config = _check_config(cfg)
        trainer.build()
        trainer.load_state_dict(state, training=False)
        trainer.model.eval()
        return trainer

    # ---- the loop --------------------------------------------------------------------------------
    def fit(self, resume: bool = False) -> Dict[str, Any]:
        """Train (from scratch, or continuing ``out_dir/checkpoint`` with ``resume``) to
        ``config["epochs"]``, then evaluate and write the outputs; returns the metrics."""
        state = None
        if resume:
            if self.out_dir is None:
                raise TrainingError("resume needs an out_dir holding a checkpoint")
            state = self.read_checkpoint()
            self._merge_resumed_config(state)
        self._prepare_out_dir(resume)
        _ = self.dataset                                  # fail on data before touching anything
        self.build()
        if state is not None:
            self.load_state_dict(state)
            self._log(f"resuming {self.recipe_name} on {self.dataset_name} after epoch {self.epoch} "
                      f"of {self.config['epochs']}")
        self.train()
        return self.finish()

    def _merge_resumed_config(self, state) -> None:
        saved = _check_config(dict(state["config"]))
        changed = [k for k, v in self.overrides.items() if k != "epochs" and _plain(v) != _plain(saved.get(k))]
        if changed:
            k = changed[0]
            raise TrainingError(f"cannot change {k} when resuming (the checkpoint has {k}={saved.get(k)!r}); "
                                f"only --epochs may change")
        if "epochs" in self.overrides:
            saved["epochs"] = int(self.overrides["epochs"])
        if saved["epochs"] < int(state["epoch"]):
            raise TrainingError(f"the checkpoint has already trained {state['epoch']} epochs, more than "
                                f"--epochs {saved['epochs']}")
        self.config = saved

    def _use_bar(self) -> bool:
        if self.quiet:
            return False
        if self.progress is not None:
            return bool(self.progress)
        try:
            return sys.stderr.isatty()
        except (AttributeError, ValueError):
            return False

    def train(self) -> None:
        """Run the remaining epochs (checkpointing each); the model must be built."""
        cfg = self.config
        epochs = cfg["epochs"]
        steps_per_epoch = len(self.loader)
        if self.epoch >= epochs:
            return
        bar = None
        if self._use_bar():
            from tqdm.auto import tqdm
            bar = tqdm(total=epochs * steps_per_epoch, initial=self.epoch * steps_per_epoch,
                       desc=f"{self.recipe_name} {self.dataset_name}", unit="step", dynamic_ncols=True,
                       leave=True, file=sys.stderr, mininterval=0.5)
        report_every = max(1, epochs // 10)
        try:
            while self.epoch < epochs:
                row = self._run_epoch(bar, epochs, steps_per_epoch)
                if bar is None and not self.quiet and (self.epoch % report_every == 0 or self.epoch == epochs):
                    nums = "  ".join(f"{k} {_fmt(v)}" for k, v in row.items()
                                     if k not in ("epoch", "seconds") and isinstance(v, float))
                    self._log(f"epoch {self.epoch}/{epochs}  {nums}  ({row['seconds']:.1f} s)")
        except KeyboardInterrupt:
            if bar is not None:
                bar.close()
                bar = None
            where = (f"{self.checkpoint_path} holds epoch {self.epoch}; continue with --resume"
                     if self.out_dir is not None and self.epoch > 0 else "nothing was saved")
            self._log(f"interrupted during epoch {self.epoch + 1}; {where}")
            raise
        finally:
            if bar is not None:
                bar.close()

    def _run_epoch(self, bar, epochs, steps_per_epoch) -> Dict[str, Any]:
        recipe, model, opts, cfg = self.recipe, self.model, self.optimizers, self.config
        sums: Dict[str, float] = {}
        counts: Dict[str, int] = {}
        model.train()
        start = time.perf_counter()
        epoch_no = self.epoch + 1
        i = 0
        for i, batch in enumerate(self.loader, start=1):
            logs = recipe.train_step(model, batch, opts, cfg, self.step)
            self.step += 1
            for k, v in logs.items():
                v = float(v)
                if not math.isfinite(v):
                    raise self._diverged(epoch_no, i, k, v)
                sums[k] = sums.get(k, 0.0) + v
                counts[k] = counts.get(k, 0) + 1
            for cb in self.callbacks:
                cb.on_step_end(self, logs)
            if bar is not None:
                bar.update(1)
                if i % 10 == 0 or i == steps_per_epoch:
                    bar.set_postfix_str(f"epoch {epoch_no}/{epochs} " + " ".join(
                        f"{k} {_fmt(sums[k] / counts[k])}" for k in sums), refresh=False)
        recipe.end_of_epoch(model, opts, cfg, self.epoch)
        self.train_seconds += time.perf_counter() - start
        self.epoch = epoch_no
        row: Dict[str, Any] = {"epoch": epoch_no}
        row.update({k: sums[k] / counts[k] for k in sums})
        row["seconds"] = round(self.train_seconds, 3)
        self.history.append(row)
        self.save_checkpoint()
        if self.out_dir is not None:
            write_history_csv(self.path("history.csv"), self.history)
        for cb in self.callbacks:
            cb.on_epoch_end(self, epoch_no, row)
        return row

    def _diverged(self, epoch, step, name, value):
        kept = (f"the last good checkpoint ({self.checkpoint_path}, epoch {self.epoch}) is kept"
                if self.out_dir is not None and self.epoch > 0 else "no checkpoint was written")
        return TrainingDiverged(
            f"training diverged: {name} = {value} at epoch {epoch}, step {step} (step {self.step} of the run); "
            f"{kept}; try a smaller --lr", epoch, step, name, value)

    # ---- after training -------------------------------------------------------------------------
    def evaluate(self) -> Dict[str, Any]:
        """``recipe.evaluate`` on held-out data, under the evaluation seed (training RNG untouched)."""
        self.model.eval()
        with _separate_rng(self.config["seed"] + EVAL_SEED_OFFSET):
            metrics = dict(self.recipe.evaluate(self.model, self.dataset, self.config))
        return _plain(metrics)

    def pictures(self) -> None:
        self.model.eval()
        with _separate_rng(self.config["seed"] + EVAL_SEED_OFFSET + 1):
            self.recipe.pictures(self.model, self.dataset, self.config, self.out_dir)
        if self.history:
            from .plots import save_loss_curves
            save_loss_curves(self.history, self.path("loss.png"),
                             title=f"{self.recipe_name} on {self.dataset_name}")

    def write_metrics(self, metrics: Dict[str, Any]) -> None:
        if self.out_dir is not None:
            write_json(self.path("metrics.json"), metrics)

    def finish(self) -> Dict[str, Any]:
        """Evaluate, then write metrics.json, history.csv and the pictures; returns the metrics."""
        metrics = self.evaluate()
        metrics["seconds"] = round(self.train_seconds, 3)
        if self.out_dir is not None:
            self.write_metrics(metrics)
            if self.history:
                write_history_csv(self.path("history.csv"), self.history)
            self.pictures()
        return metrics

    def sample(self, n: int, labels=None, seed=None):
        """``n`` samples as a NumPy array in the data's own range and layout (see Recipe.sample)."""
        self.model.eval()
        seed = self.config["seed"] if seed is None else int(seed)
        with _separate_rng(seed):
            return self.recipe.sample(self.model, int(n), self.config, labels=labels, seed=seed)


def read_run_checkpoint(out_dir, expect_model=None, expect_data=None) -> Dict[str, Any]:
    """Load and check ``out_dir/checkpoint``; every problem is a one-line :class:`TrainingError`."""
    from .. import io as tgio
    path = os.path.join(str(out_dir), CHECKPOINT)
    if not os.path.exists(path):
        raise TrainingError(f"no checkpoint at {path}" + ("" if os.path.isdir(str(out_dir)) else
                                                          f" ({out_dir} does not exist)"))
    try:
        state = tgio.load(path)
    except tgio.CheckpointError as exc:
        raise TrainingError(f"{path} is not a valid checkpoint: {exc}") from None
    except OSError as exc:
        raise TrainingError(f"cannot read {path}: {exc.strerror or exc}") from None
    needed = ("recipe", "dataset", "config", "epoch", "step", "model", "optimizers", "rng")
    if not isinstance(state, dict) or state.get("format") != RUN_FORMAT or any(k not in state for k in needed):
        raise TrainingError(f"{path} is a tinygen file but not a training run's checkpoint")
    if expect_model is not None and state["recipe"] != expect_model:
        raise TrainingError(f"{path} is a {state['recipe']} run, not {expect_model}")
    if expect_data is not None and state["dataset"] != expect_data:
        raise TrainingError(f"{path} was trained on {state['dataset']}, not {expect_data}")
    return state


def fit(model: str, data, out_dir=None, resume: bool = False, *, data_dir=None, device=None,
        progress=None, quiet: bool = False, callbacks=(), overwrite: bool = False, **config):
    """Train ``model`` (a recipe name) on ``data`` with config overrides; returns the metrics.

    ``fit("vae", "digits", "runs/vae", epochs=20, beta=0.5)`` is ``tinygen train vae --data
    digits --epochs 20 --beta 0.5 --out runs/vae``."""
    trainer = Trainer(model, data, out_dir, config, data_dir=data_dir, device=device, progress=progress,
                      quiet=quiet, callbacks=callbacks, overwrite=overwrite)
    return trainer.fit(resume=resume)
