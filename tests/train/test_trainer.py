"""The Trainer: outputs, bit-exact resume, the NaN guard, config checks, and the recipes' contract."""
import csv
import json
import os

import numpy as np
import pytest

import tinygen as tg
from tinygen.train import recipes
from tinygen.train.recipes.autoencoders import AERecipe
from tinygen.train.trainer import (Callback, Trainer, TrainingDiverged, TrainingError, fit,
                                   read_run_checkpoint)

TINY_VAE = {"hidden": [16], "latent_dim": 2}
TINY_AE = {"hidden": [16], "latent_dim": 4}


@pytest.fixture(scope="module")
def digits():
    from tinygen.data import load_digits
    return load_digits(seed=0)


def _params(model):
    return {k: v.numpy().copy() for k, v in model.state_dict().items()}


class _Interrupt(Callback):
    """Raise KeyboardInterrupt in the middle of an epoch, as a user's Ctrl-C would."""

    def __init__(self, epoch, step):
        self.epoch, self.step = epoch, step

    def on_step_end(self, trainer, logs):
        if trainer.epoch + 1 == self.epoch and trainer.step % len(trainer.loader) == self.step:
            raise KeyboardInterrupt


@pytest.mark.parametrize("model,config", [("vae", TINY_VAE), ("dae", TINY_AE)])
def test_interrupted_and_resumed_run_equals_uninterrupted(tmp_path, digits, model, config):
    cfg = dict(config, epochs=4)
    full = Trainer(model, digits, tmp_path / "full", cfg, quiet=True)
    full.fit()
    cut = Trainer(model, digits, tmp_path / "cut", cfg, quiet=True, callbacks=[_Interrupt(3, 5)])
    with pytest.raises(KeyboardInterrupt):
        cut.fit()
    assert read_run_checkpoint(tmp_path / "cut")["epoch"] == 2          # the last finished epoch
    resumed = Trainer(model, digits, tmp_path / "cut", cfg, quiet=True)
    resumed.fit(resume=True)
    a, b = _params(full.model), _params(resumed.model)
    assert a.keys() == b.keys()
    for k in a:
        assert np.array_equal(a[k], b[k]), k
    for name in full.optimizers:
        sa, sb = full.optimizers[name].state_dict()["state"], resumed.optimizers[name].state_dict()["state"]
        for i in sa:
            for key in sa[i]:
                assert np.array_equal(np.asarray(sa[i][key].numpy()), np.asarray(sb[i][key].numpy()))
    strip = lambda h: [{k: v for k, v in r.items() if k != "seconds"} for r in h]   # noqa: E731
    assert strip(full.history) == strip(resumed.history)
    assert full.evaluate() == resumed.evaluate()


def test_resume_with_more_epochs_continues_the_same_run(tmp_path, digits):
    long = Trainer("ae", digits, tmp_path / "long", dict(TINY_AE, epochs=3), quiet=True)
    long.fit()
    Trainer("ae", digits, tmp_path / "short", dict(TINY_AE, epochs=1), quiet=True).fit()
    more = Trainer("ae", digits, tmp_path / "short", {"epochs": 3}, quiet=True)
    more.fit(resume=True)
    for k, v in _params(long.model).items():
        assert np.array_equal(v, _params(more.model)[k])
    # resuming a finished run just re-evaluates; fewer epochs than done is refused
    again = Trainer("ae", digits, tmp_path / "short", {}, quiet=True)
    assert again.fit(resume=True)["recon_mse"] == pytest.approx(long.evaluate()["recon_mse"])
    with pytest.raises(TrainingError, match="already trained 3 epochs"):
        Trainer("ae", digits, tmp_path / "short", {"epochs": 2}, quiet=True).fit(resume=True)
    with pytest.raises(TrainingError, match="cannot change latent_dim"):
        Trainer("ae", digits, tmp_path / "short", {"latent_dim": 3}, quiet=True).fit(resume=True)
    with pytest.raises(TrainingError, match="is a ae run, not vae"):
        Trainer("vae", digits, tmp_path / "short", {}, quiet=True).fit(resume=True)


def test_outputs_history_and_loss_decrease(tmp_path, digits):
    out = tmp_path / "run"
    metrics = fit("vae", digits, out, quiet=True, epochs=4, **TINY_VAE)
    for name in ("checkpoint", "metrics.json", "history.csv", "samples.png", "loss.png"):
        assert (out / name).is_file(), name
    saved = json.loads((out / "metrics.json").read_text())
    assert saved == pytest.approx(metrics)
    assert {"test_elbo", "seconds", "frechet", "class_coverage", "recon_mse"} <= set(saved)
    assert saved["test_elbo"] < 0 and saved["seconds"] > 0
    rows = list(csv.DictReader(open(out / "history.csv")))
    assert [int(r["epoch"]) for r in rows] == [1, 2, 3, 4]
    assert list(rows[0]) == ["epoch", "loss", "recon", "kl", "seconds"]
    assert float(rows[-1]["loss"]) < float(rows[0]["loss"])
    state = read_run_checkpoint(out)
    assert state["recipe"] == "vae" and state["dataset"] == "digits" and state["epoch"] == 4
    assert state["config"]["epochs"] == 4 and state["config"]["hidden"] == [16]
    assert {"model", "optimizers", "rng", "loader", "history"} <= set(state)


class _NaNRecipe(AERecipe):
    """An AE whose logged loss turns NaN at epoch 2, step 3."""
    name = "nan-ae"

    def train_step(self, model, batch, optimizers, config, step):
        logs = super().train_step(model, batch, optimizers, config, step)
        if step == self.steps_per_epoch + 2:
            logs["loss"] = float("nan")
        return logs


def test_nan_guard_names_epoch_and_step_and_keeps_the_last_checkpoint(tmp_path, digits):
    recipe = _NaNRecipe()
    recipe.steps_per_epoch = -(-len(digits.x_train) // 64)
    out = tmp_path / "nan"
    t = Trainer(recipe, digits, out, dict(TINY_AE, epochs=3), quiet=True)
    with pytest.raises(TrainingDiverged) as info:
        t.fit()
    msg = str(info.value)
    assert "loss = nan" in msg and "epoch 2, step 3" in msg and "\n" not in msg
    assert info.value.epoch == 2 and info.value.step == 3
    assert read_run_checkpoint(out)["epoch"] == 1
    assert not (out / "metrics.json").exists()


def test_config_is_checked(tmp_path, digits):
    with pytest.raises(TrainingError, match="has no option 'gamma'"):
        Trainer("vae", digits, None, {"gamma": 1})
    with pytest.raises(TrainingError, match="epochs must be positive"):
        Trainer("vae", digits, None, {"epochs": 0})
    with pytest.raises(TrainingError, match="lr must be a positive"):
        Trainer("vae", digits, None, {"lr": -1.0})
    with pytest.raises(TrainingError, match="unknown model"):
        Trainer("vea", digits)
    with pytest.raises(TrainingError, match="unknown data set"):
        Trainer("vae", "digitz")
    with pytest.raises(TrainingError, match="does not train on ring8"):
        Trainer("ae", "ring8")


def test_existing_checkpoint_is_never_overwritten_by_accident(tmp_path, digits):
    out = tmp_path / "run"
    fit("ae", digits, out, quiet=True, epochs=1, **TINY_AE)
    before = (out / "checkpoint").read_bytes()
    with pytest.raises(TrainingError, match="already exists"):
        fit("ae", digits, out, quiet=True, epochs=1, **TINY_AE)
    assert (out / "checkpoint").read_bytes() == before
    fit("ae", digits, out, quiet=True, overwrite=True, epochs=1, seed=5, **TINY_AE)
    assert (out / "checkpoint").read_bytes() != before


def test_evaluate_is_reproducible_and_leaves_training_rng_alone(digits):
    t = Trainer("vae", digits, None, dict(TINY_VAE, epochs=1), quiet=True)
    t.build()
    t.train()
    state = tg.random.get_rng_state()
    first = t.evaluate()
    assert tg.random.get_rng_state() == state
    assert t.evaluate() == first
    a = t.sample(5, seed=1)
    assert np.array_equal(a, t.sample(5, seed=1)) and not np.array_equal(a, t.sample(5, seed=2))
    assert a.shape == (5, 8, 8) and a.min() >= 0 and a.max() <= 1


def test_load_rebuilds_the_trained_model(tmp_path, digits):
    out = tmp_path / "run"
    t = Trainer("conv-ae", digits, out, {"epochs": 1, "channels": [4, 8], "latent_dim": 3}, quiet=True)
    t.fit()
    back = Trainer.load(out)
    for k, v in _params(t.model).items():
        assert np.array_equal(v, _params(back.model)[k])
    assert back.evaluate() == t.evaluate()


def test_toy_vae_trains_and_samples_in_data_coordinates(tmp_path):
    t = Trainer("vae", "ring8", None, {"epochs": 1, "hidden": [16]}, quiet=True)
    metrics = t.fit()
    assert {"test_elbo", "modes", "high_quality", "seconds"} <= set(metrics)
    s = t.sample(100)
    assert s.shape == (100, 2) and np.all(np.isfinite(s)) and np.abs(s).max() < 10


@pytest.mark.parametrize("name", ["ae", "dae", "vae", "conv-ae", "conv-vae"])
def test_recipe_defaults_cover_every_dataset(name):
    r = recipes.get(name)
    for ds in r.datasets:
        d = r.defaults(ds)
        assert {"epochs", "batch_size", "lr", "seed"} <= set(d)
        assert d["epochs"] >= 1 and d["batch_size"] >= 1 and d["lr"] > 0


def test_vae_digits_defaults_are_the_measured_network():
    d = recipes.get("vae").defaults("digits")
    assert d == {"epochs": 300, "batch_size": 64, "lr": 1e-3, "seed": 0, "latent_dim": 8,
                 "hidden": [256, 256], "activation": "relu", "likelihood": "bernoulli", "beta": 1.0}


def test_recipe_training_arrays_and_state_survive_load(tmp_path):
    """A recipe that holds rows out (RealNVP's validation split) trains on the rest only, and a
    loaded run keeps the recipe's early-stopping state, so eval reports it."""
    out = tmp_path / "flow"
    cfg = {"epochs": 2, "n_couplings": 2, "hidden": 16, "n_hidden": 1, "val_fraction": 0.2, "patience": 0}
    t = Trainer("realnvp", "moons", out, cfg, quiet=True)
    t.build()
    (train_x,) = t.loader.arrays if hasattr(t.loader, "arrays") else t._train_arrays()
    val = t.recipe._val_keys
    assert len(train_x) == len(t.dataset.x_train) - len(val)
    assert not any(np.ascontiguousarray(r).tobytes() in val for r in train_x)
    t.fit()
    back = Trainer.load(out)
    assert back.recipe._best_epoch == t.recipe._best_epoch >= 0
    assert back.evaluate() == t.evaluate()
