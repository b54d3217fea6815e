"""Tests for tinygen.train.plots: every function writes a real PNG, atomically, and rejects bad
shapes with a ValueError that names the shape."""

import csv
import os
import subprocess
import sys

import numpy as np
import pytest

pytest.importorskip("matplotlib")
Image = pytest.importorskip("PIL.Image")

from tinygen.train import plots  # noqa: E402

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"
RNG = np.random.default_rng(0)
DIGITS = RNG.uniform(0, 1, size=(100, 8, 8))


def png(path):
    """Assert ``path`` is a complete PNG; return its decoded (width, height) and pixels."""
    with open(path, "rb") as fh:
        assert fh.read(8) == PNG_MAGIC
    with Image.open(path) as im:
        im.verify()
    with Image.open(path) as im:
        return im.size, np.asarray(im.convert("RGB"))


def no_temp_files(folder):
    return [f for f in os.listdir(folder) if f.endswith(".tmp")] == []


# ------------------------------------------------------------------------------ image pictures

def test_digit_grid_is_crisp_and_about_400px(tmp_path):
    out = plots.save_image_grid(DIGITS, tmp_path / "grid.png")
    assert out == os.fspath(tmp_path / "grid.png")
    (w, h), _ = png(out)
    assert 360 <= w <= 520 and w == h               # 10×10 tiles of 8×8, upscaled
    (w2, h2), _ = png(plots.save_image_grid(DIGITS, tmp_path / "t.png", title="samples"))
    assert h2 > h                                   # the title gets its own strip


def test_nearest_neighbour_upscaling_adds_no_blur(tmp_path):
    levels = np.array([0.0, 1 / 3, 2 / 3, 1.0])
    imgs = np.ones((4, 8, 8)) * levels[:, None, None]
    (w, h), px = png(plots.save_image_grid(imgs, tmp_path / "g.png"))
    grey = px[..., 0].astype(int)
    assert set(np.unique(grey)) <= {0, 85, 170, 255}     # no interpolated in-between values
    scale = (w - 3 * 2) // 16                             # 2 tiles of 8 px + 3 pads of 2 px
    assert np.sum(grey == 85) == (8 * scale) ** 2         # one whole tile, no more, no less
    assert np.sum(grey == 170) == (8 * scale) ** 2


def test_channel_first_and_channel_less_layouts_match(tmp_path):
    _, a = png(plots.save_image_grid(DIGITS[:16], tmp_path / "a.png"))
    _, b = png(plots.save_image_grid(DIGITS[:16, None], tmp_path / "b.png"))
    np.testing.assert_array_equal(a, b)


def test_mnist_rgb_value_range_and_nan(tmp_path):
    (w, _), _ = png(plots.save_image_grid(RNG.uniform(0, 1, (16, 28, 28)), tmp_path / "m.png"))
    assert w >= 200
    rgb = RNG.uniform(-1, 1, (9, 3, 16, 16))
    png(plots.save_image_grid(rgb, tmp_path / "rgb.png", nrow=3, value_range=(-1, 1)))
    png(plots.save_image_grid(rgb * 50, tmp_path / "auto.png", value_range=None))
    bad = DIGITS[:4].copy()
    bad[0, 0, 0] = np.nan
    _, px = png(plots.save_image_grid(bad, tmp_path / "nan.png"))
    assert np.any(np.all(px == (255, 0, 255), axis=-1))  # diverged pixels show up magenta


@pytest.mark.parametrize("shape", [(64,), (10, 64), (2, 5, 8, 8), (1, 2, 3, 4, 5), (0, 8, 8)])
def test_image_grid_rejects_bad_shapes(tmp_path, shape):
    with pytest.raises(ValueError, match=str(shape).replace("(", r"\(").replace(")", r"\)")):
        plots.save_image_grid(np.zeros(shape), tmp_path / "x.png")
    assert not (tmp_path / "x.png").exists()


def test_flat_vectors_get_a_reshape_hint(tmp_path):
    with pytest.raises(ValueError, match=r"reshape\(-1, 8, 8\)"):
        plots.save_image_grid(np.zeros((10, 64)), tmp_path / "x.png")


def test_reconstructions(tmp_path):
    x = DIGITS[:30]
    rec = np.clip(x + 0.1 * RNG.standard_normal(x.shape), 0, 1)
    (w, h), _ = png(plots.save_reconstructions(x, rec, tmp_path / "r.png"))
    (w3, h3), _ = png(plots.save_reconstructions(x, rec, tmp_path / "r3.png", noisy=rec))
    assert h3 > h                                    # a third row per block for noisy inputs
    png(plots.save_reconstructions(x[:3, None], rec[:3, None], tmp_path / "few.png", n=2))
    with pytest.raises(ValueError, match=r"\(30, 64\)"):
        plots.save_reconstructions(x, rec.reshape(30, 64), tmp_path / "bad.png")
    with pytest.raises(ValueError, match=r"shape \(20, 8, 8\).*shape \(30, 8, 8\)"):
        plots.save_reconstructions(x, rec[:20], tmp_path / "bad.png")
    with pytest.raises(ValueError, match=r"noisy shape \(5, 8, 8\)"):
        plots.save_reconstructions(x, rec, tmp_path / "bad.png", noisy=rec[:5])


def test_interpolation_strip_is_one_row(tmp_path):
    t = np.linspace(0, 1, 10)[:, None, None]
    (w, h), _ = png(plots.save_interpolation_strip(t * DIGITS[0] + (1 - t) * DIGITS[1],
                                                   tmp_path / "i.png", title="0 to 1"))
    assert w > 3 * h
    with pytest.raises(ValueError, match=r"\(10, 2\)"):
        plots.save_interpolation_strip(np.zeros((10, 2)), tmp_path / "bad.png")


def test_trajectory_images(tmp_path):
    frames = np.stack([DIGITS[:5] + s * RNG.standard_normal((5, 8, 8)) for s in (1, .5, .2, 0)])
    (w, h), _ = png(plots.save_trajectory_strip(frames, tmp_path / "t.png",
                                                times=[1000, 500, 100, 0]))
    assert h > w                                     # 5 samples (rows) × 4 times (columns)
    png(plots.save_trajectory_strip(list(frames[:, :, None]), tmp_path / "t4.png"))
    with pytest.raises(ValueError, match="same shape"):
        plots.save_trajectory_strip([DIGITS[:5], DIGITS[:4]], tmp_path / "bad.png")
    with pytest.raises(ValueError, match="kind"):
        plots.save_trajectory_strip(frames, tmp_path / "bad.png", kind="video")
    with pytest.raises(ValueError, match="times"):
        plots.save_trajectory_strip(frames, tmp_path / "bad.png", times=[1, 2])


def test_trajectory_points(tmp_path):
    data = RNG.standard_normal((500, 2)) * 0.1 + RNG.integers(-2, 3, (500, 2)) * 2
    frames = [RNG.standard_normal((300, 2)) * (1 - a) + data[:300] * a for a in (0, .5, 1)]
    (w, h), _ = png(plots.save_trajectory_strip(frames, tmp_path / "p.png", kind="points",
                                                data=data, title="reverse process"))
    assert w > 2 * h                                 # one row of panels
    with pytest.raises(ValueError, match=r"\(300, 3\)"):
        plots.save_trajectory_strip([np.zeros((300, 3))], tmp_path / "bad.png", kind="points")


# ------------------------------------------------------------------------------------- charts

def test_scatter_2d(tmp_path):
    modes = np.array([(a, b) for a in (-2, 0, 2) for b in (-2, 0, 2)], float)
    data = modes[RNG.integers(9, size=900)] + 0.05 * RNG.standard_normal((900, 2))
    samples = modes[RNG.integers(3, size=500)] + 0.1 * RNG.standard_normal((500, 2))
    samples[:5] = 1e6                                # a diverging generator's stragglers
    samples[5] = np.nan
    (w, h), _ = png(plots.save_scatter_2d(samples, tmp_path / "s.png", data=data, modes=modes,
                                          title="3/9 modes", mode_radius=0.15))
    assert 400 <= w <= 900 and 400 <= h <= 900
    png(plots.save_scatter_2d(samples[6:], tmp_path / "alone.png"))
    with pytest.raises(ValueError, match=r"\(500, 3\)"):
        plots.save_scatter_2d(np.zeros((500, 3)), tmp_path / "bad.png")
    with pytest.raises(ValueError, match=r"data must have shape \(N, 2\), got shape \(4,\)"):
        plots.save_scatter_2d(samples, tmp_path / "bad.png", data=np.zeros(4))


def test_latent_scatter(tmp_path):
    labels = RNG.integers(0, 10, size=400)
    z2 = RNG.standard_normal((400, 2)) + labels[:, None]
    png(plots.save_latent_scatter(z2, labels, tmp_path / "z2.png"))
    z8 = RNG.standard_normal((400, 8))
    png(plots.save_latent_scatter(z8, labels, tmp_path / "z8.png"))
    png(plots.save_latent_scatter(z8, RNG.uniform(size=400), tmp_path / "cont.png"))
    png(plots.save_latent_scatter(z8, None, tmp_path / "none.png"))
    with pytest.raises(ValueError, match=r"\(400, 1\)"):
        plots.save_latent_scatter(z8[:, :1], labels, tmp_path / "bad.png")
    with pytest.raises(ValueError, match=r"labels shape \(399,\)"):
        plots.save_latent_scatter(z8, labels[:-1], tmp_path / "bad.png")


def test_loss_curves_from_dict_records_and_csv(tmp_path):
    n = 40
    hist = {"epoch": list(range(1, n + 1)), "d_loss": list(0.7 + 0.05 * RNG.standard_normal(n)),
            "g_loss": list(1.5 + 0.2 * RNG.standard_normal(n))}
    png(plots.save_loss_curves(hist, tmp_path / "gan.png", title="GAN"))
    records = [{"epoch": e, "recon": 100 * np.exp(-e / 5) + 20, "kl": 3 + 0.1 * e,
                "elbo": -(100 * np.exp(-e / 5) + 23), "seconds": 1.5 * e} for e in range(1, n)]
    png(plots.save_loss_curves(records, tmp_path / "vae.png"))
    with open(tmp_path / "history.csv", "w", newline="") as fh:
        w = csv.DictWriter(fh, fieldnames=list(records[0]))
        w.writeheader()
        w.writerows(records)
    png(plots.save_loss_curves(tmp_path / "history.csv", tmp_path / "csv.png"))
    steps = np.exp(-np.arange(2000) / 300) * 10 + 0.01
    steps[1900:] = np.nan                            # a run that diverged
    png(plots.save_loss_curves({"loss": steps}, tmp_path / "steps.png", xlabel="step"))
    png(plots.save_loss_curves({"loss": [np.nan, np.inf], "kl": [1.0, 2.0]}, tmp_path / "nan.png"))


def test_loss_curve_choices():
    series, x_key, x = plots._normalise_history(
        [{"epoch": 1, "loss": 2.0, "phase": "warmup"}, {"epoch": 2, "loss": 1.0, "phase": "main"}])
    assert list(series) == ["loss"] and x_key == "epoch" and list(x) == [1, 2]
    assert plots._wants_log([np.array([10.0, 1.0, 0.05])])          # > 2 decades, positive
    assert not plots._wants_log([np.array([10.0, 1.0, 0.5])])       # 1.3 decades
    assert not plots._wants_log([np.array([100.0, 1.0, -0.01])])    # a negative value
    with pytest.raises(ValueError, match="no numeric series"):
        plots.save_loss_curves({"epoch": [1, 2]}, "unused.png")
    with pytest.raises(ValueError, match="dict"):
        plots.save_loss_curves(3.0, "unused.png")


# ---------------------------------------------------------------------------------- plumbing

def test_write_is_atomic(tmp_path, monkeypatch):
    from matplotlib.figure import Figure
    target = tmp_path / "keep.png"
    plots.save_image_grid(DIGITS[:4], target)
    before = target.read_bytes()

    def crash(self, fh, **kwargs):
        fh.write(PNG_MAGIC + b"half a picture")
        raise RuntimeError("killed mid-write")

    monkeypatch.setattr(Figure, "savefig", crash)
    with pytest.raises(RuntimeError, match="mid-write"):
        plots.save_image_grid(DIGITS[:9], target)
    with pytest.raises(RuntimeError, match="mid-write"):
        plots.save_loss_curves({"loss": [1, 2, 3]}, tmp_path / "new.png")
    assert target.read_bytes() == before             # the old picture survives intact
    assert not (tmp_path / "new.png").exists()
    assert no_temp_files(tmp_path)


def test_creates_parent_folders(tmp_path):
    png(plots.save_image_grid(DIGITS[:4], tmp_path / "a" / "b" / "g.png"))


def test_import_is_light():
    code = "import sys, tinygen.train.plots; print('matplotlib' in sys.modules)"
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=root,
                         check=True)
    assert out.stdout.strip() == "False"
