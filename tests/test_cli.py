"""The ``tinygen`` command line end to end (in process, through ``tinygen.cli.main``): train,
sample, eval, info, bench, and bad input that must fail with one line and touch nothing."""
import json
import os

import numpy as np
import pytest

from tinygen import cli

TINY_AE = ["--hidden", "16", "--latent-dim", "4"]
TINY_VAE = ["--hidden", "16", "--latent-dim", "2"]


def _train(out, model="ae", extra=(), epochs=2, data="digits"):
    return cli.main(["train", model, "--data", data, "--epochs", str(epochs), "--out", str(out),
                     "--quiet", *extra])


@pytest.fixture(scope="module")
def ae_run(tmp_path_factory):
    out = tmp_path_factory.mktemp("cli") / "ae"
    assert _train(out, "ae", TINY_AE) == 0
    return out


@pytest.fixture(scope="module")
def vae_run(tmp_path_factory):
    out = tmp_path_factory.mktemp("cli") / "vae"
    assert _train(out, "vae", TINY_VAE + ["--set", "beta=1.0"]) == 0
    return out


def _fails(argv, capsys, code=None, match=None):
    """main(argv) exits non-zero with exactly one line on stderr (no traceback)."""
    capsys.readouterr()
    with pytest.raises(SystemExit) as info:
        cli.main(argv)
    err = capsys.readouterr().err
    assert info.value.code not in (0, None)
    if code is not None:
        assert info.value.code == code
    lines = err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("tinygen: error: "), err
    assert "Traceback" not in err
    if match is not None:
        assert match in lines[0], lines[0]
    return lines[0]


# ------------------------------------------------------------------------------ happy paths

def test_train_ae_writes_every_output(ae_run, capsys):
    for name in ("checkpoint", "metrics.json", "history.csv", "samples.png", "loss.png"):
        assert (ae_run / name).is_file(), name
    metrics = json.loads((ae_run / "metrics.json").read_text())
    assert set(metrics) == {"recon_mse", "seconds"}
    assert 0 < metrics["recon_mse"] < 0.2
    assert len((ae_run / "history.csv").read_text().strip().splitlines()) == 3    # header + 2 epochs


def test_train_vae_metrics_and_family_options(vae_run):
    metrics = json.loads((vae_run / "metrics.json").read_text())
    assert {"test_elbo", "test_log_likelihood", "frechet", "class_coverage", "recon_mse", "seconds"} <= set(metrics)
    assert -80 < metrics["test_elbo"] < 0
    assert 0 <= metrics["class_coverage"] <= 10
    from tinygen.train.trainer import read_run_checkpoint
    cfg = read_run_checkpoint(vae_run)["config"]
    assert cfg["hidden"] == [16] and cfg["latent_dim"] == 2 and cfg["epochs"] == 2 and cfg["beta"] == 1.0


@pytest.mark.parametrize("run", ["ae_run", "vae_run"])
def test_sample_npy_and_png(run, request, tmp_path):
    d = request.getfixturevalue(run)
    out = tmp_path / "s.npy"
    assert cli.main(["sample", str(d), "--n", "9", "--seed", "3", "--out", str(out)]) == 0
    x = np.load(out)
    assert x.shape == (9, 8, 8) and x.dtype == np.float32
    assert x.min() >= 0 and x.max() <= 1
    again = tmp_path / "again.npy"
    cli.main(["sample", str(d), "--n", "9", "--seed", "3", "--out", str(again)])
    assert np.array_equal(np.load(again), x)                 # a seed fixes the samples
    png = tmp_path / "deep" / "s.png"
    assert cli.main(["sample", str(d), "--n", "16", "--out", str(png)]) == 0
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_eval_prints_and_writes_the_same_metrics(vae_run, capsys):
    before = json.loads((vae_run / "metrics.json").read_text())
    capsys.readouterr()
    assert cli.main(["eval", str(vae_run)]) == 0
    printed = capsys.readouterr().out
    assert "test_elbo" in printed and "frechet" in printed
    after = json.loads((vae_run / "metrics.json").read_text())
    assert after == pytest.approx(before)


def test_toy_vae_samples_are_points(tmp_path):
    out = tmp_path / "toy"
    assert _train(out, "vae", ["--hidden", "8"], epochs=1, data="moons") == 0
    assert "on_manifold" in json.loads((out / "metrics.json").read_text())
    cli.main(["sample", str(out), "--n", "5", "--out", str(tmp_path / "p.npy")])
    assert np.load(tmp_path / "p.npy").shape == (5, 2)


def test_resume_and_list_options(ae_run, tmp_path, capsys):
    out = tmp_path / "r"
    assert _train(out, "ae", TINY_AE, epochs=1) == 0
    assert cli.main(["train", "ae", "--data", "digits", "--epochs", "2", "--resume", "--out", str(out),
                     "--quiet"]) == 0
    from tinygen.train.trainer import read_run_checkpoint
    assert read_run_checkpoint(out)["epoch"] == 2
    a, b = (read_run_checkpoint(p)["model"] for p in (out, ae_run))
    assert all(np.array_equal(a[k].numpy(), b[k].numpy()) for k in a)   # resumed = straight run
    capsys.readouterr()
    assert cli.main(["train", "dae", "--data", "digits", "--help"]) == 0
    text = capsys.readouterr().out
    assert "--noise-level" in text and "--latent-dim" in text and "(default: 0.3)" in text


def test_info_and_bench(capsys, monkeypatch):
    assert cli.main(["info"]) == 0
    text = capsys.readouterr().out
    for word in ("tinygen", "python", "numpy", "numba", "cuda", "devices", "vae"):
        assert word in text
    monkeypatch.setattr(cli, "_find_benchmarks", lambda: None)
    assert cli.main(["bench"]) == 1
    assert "benchmark suite" in capsys.readouterr().err


# ------------------------------------------------------------------------------ bad input

@pytest.mark.parametrize("argv,match", [
    (["train", "vea", "--data", "digits", "--out", "X"], "unknown model 'vea'"),
    (["train", "vae", "--data", "digitz", "--out", "X"], "unknown data set 'digitz'"),
    (["train", "ae", "--data", "moons", "--out", "X"], "does not train on moons"),
    (["train", "vae", "--data", "digits", "--epochs", "0", "--out", "X"], "--epochs must be positive"),
    (["train", "vae", "--data", "digits", "--epochs", "-3", "--out", "X"], "--epochs must be positive"),
    (["train", "vae", "--data", "digits", "--epochs", "two", "--out", "X"], "invalid int value"),
    (["train", "vae", "--data", "digits", "--beta", "big", "--out", "X"], "--beta expects a number"),
    (["train", "vae", "--data", "digits", "--set", "gamma=1", "--out", "X"], "no option 'gamma'"),
    (["train", "vae", "--data", "digits", "--frobnicate", "--out", "X"], "unrecognized arguments"),
    (["train", "vae", "--data", "digits"], "needs --out"),
    (["train", "--data", "digits", "--out", "X"], "needs a MODEL"),
    (["sample", "X", "--n", "0", "--out", "s.npy"], "--n must be positive"),
    (["sample", "X", "--n", "3", "--out", "s.txt"], ".npy or .png"),
    (["frobnicate"], "invalid choice"),
    ([], "choose a command"),
])
def test_bad_arguments_fail_with_one_line(argv, match, capsys, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    _fails(argv, capsys, match=match)
    assert not (tmp_path / "X").exists()


def test_missing_checkpoint(tmp_path, capsys):
    empty = tmp_path / "empty"
    empty.mkdir()
    for argv in (["sample", str(empty), "--n", "2", "--out", str(tmp_path / "s.npy")],
                 ["eval", str(empty)],
                 ["train", "ae", "--data", "digits", "--resume", "--out", str(empty)],
                 ["eval", str(tmp_path / "nowhere")]):
        _fails(argv, capsys, match="no checkpoint")
    assert not (tmp_path / "s.npy").exists()


@pytest.mark.parametrize("damage", ["garbage", "truncated", "empty", "other-file"])
def test_corrupt_checkpoint_is_refused_and_left_alone(damage, ae_run, tmp_path, capsys):
    run = tmp_path / "run"
    run.mkdir()
    good = (ae_run / "checkpoint").read_bytes()
    bad = {"garbage": b"this is not a checkpoint at all" * 10, "truncated": good[:len(good) // 2],
           "empty": b""}.get(damage)
    if bad is None:
        import tinygen as tg
        tg.save({"weights": np.zeros(3)}, str(run / "checkpoint"))
        bad = (run / "checkpoint").read_bytes()
    (run / "checkpoint").write_bytes(bad)
    for argv in (["sample", str(run), "--n", "2", "--out", str(tmp_path / "s.npy")],
                 ["eval", str(run)],
                 ["train", "ae", "--data", "digits", "--resume", "--out", str(run)]):
        _fails(argv, capsys, match="checkpoint")
        assert (run / "checkpoint").read_bytes() == bad
    assert not (tmp_path / "s.npy").exists() and not (run / "metrics.json").exists()


def test_existing_run_is_untouched_by_bad_input(ae_run, tmp_path, capsys):
    before = {p: (ae_run / p).read_bytes() for p in os.listdir(ae_run)}
    d = str(ae_run)
    for argv, match in [
        (["train", "ae", "--data", "digits", "--epochs", "1", "--out", d], "already exists"),
        (["train", "ae", "--data", "digits", "--epochs", "0", "--out", d], "--epochs must be positive"),
        (["train", "vae", "--data", "digits", "--resume", "--out", d], "is a ae run, not vae"),
        (["train", "ae", "--data", "digits", "--resume", "--epochs", "1", "--out", d], "already trained 2 epochs"),
        (["train", "ae", "--data", "digits", "--resume", "--latent-dim", "9", "--out", d], "cannot change latent_dim"),
        (["train", "ae", "--data", "digits", "--resume", "--overwrite", "--out", d], "exclude each other"),
        (["sample", d, "--n", "2", "--label", "3", "--out", str(tmp_path / "s.npy")], "not conditional"),
    ]:
        _fails(argv, capsys, match=match)
    assert {p: (ae_run / p).read_bytes() for p in os.listdir(ae_run)} == before


def test_unwritable_out(tmp_path, capsys):
    blocker = tmp_path / "file"
    blocker.write_text("I am a file")
    _fails(["train", "ae", "--data", "digits", "--epochs", "1", "--out", str(blocker)], capsys,
           match="not a folder")
    _fails(["train", "ae", "--data", "digits", "--epochs", "1", "--out", str(blocker / "sub")], capsys,
           match="cannot write into")
    assert blocker.read_text() == "I am a file"


def test_missing_file_dataset_is_one_line(tmp_path, capsys):
    _fails(["train", "ae", "--data", "mnist", "--epochs", "1", "--data-dir", str(tmp_path / "none"),
            "--out", str(tmp_path / "m")], capsys, match="mnist")
