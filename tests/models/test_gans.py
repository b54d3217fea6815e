"""GAN family: the losses, each training tip doing what it says, conditional sampling, a short run.

Small networks and few steps: the whole file runs in well under a minute.
"""
import numpy as np
import pytest

import tinygen as tg
import tinygen.losses as L
from tinygen.data import load_digits, toy_2d, toy_modes
from tinygen.metrics import mode_coverage
from tinygen.models.cgan import ConditionalGAN, SelfConditionedGAN, kmeans
from tinygen.models.dcgan import ConditionalDCGAN, DCGAN
from tinygen.models.gan import GAN, pack_examples
from tinygen.models.gan_tricks import GANOptions, add_instance_noise, grad_norm, make_optimizers, train_step


def _small_gan(**kw):
    kw.setdefault("hidden", (16, 16))
    return GAN((2,), latent_dim=2, **kw)


def _batch(n=32, seed=0):
    return toy_2d("ring8", n, seed)


class _Counting:
    """Wraps an optimizer and counts step() calls."""

    def __init__(self, opt):
        self.opt, self.steps = opt, 0
        self.param_groups = opt.param_groups

    def step(self):
        self.steps += 1
        self.opt.step()

    def zero_grad(self):
        self.opt.zero_grad()


# ------------------------------------------------------------------ losses and gradients

def test_minimax_value_and_both_generator_losses():
    m = _small_gan(loss="minimax")
    real = m.to_model_space(_batch())
    fake = m.generate(m.sample_latent(32))
    d, r, f = m.d_loss(real, fake.detach())
    p_r, p_f = 1 / (1 + np.exp(-r.numpy().astype(np.float64))), 1 / (1 + np.exp(-f.numpy().astype(np.float64)))
    value = np.mean(np.log(p_r)) + np.mean(np.log(1 - p_f))          # V(D, G)
    np.testing.assert_allclose(d.item(), -value, rtol=1e-4)
    sat, _ = m.g_loss(fake)
    np.testing.assert_allclose(sat.item(), np.mean(np.log(1 - p_f)), rtol=1e-4, atol=1e-6)
    m.loss_type = "nonsaturating"
    ns, _ = m.g_loss(fake)
    np.testing.assert_allclose(ns.item(), -np.mean(np.log(p_f)), rtol=1e-4)


def test_saturating_generator_gradient_vanishes_at_a_confident_discriminator():
    """D(G(z)) ≈ e⁻⁸: ∂/∂f log(1 − D) = −σ(f) ≈ −3e-4 (saturating), ∂/∂f −log D = σ(f) − 1 ≈ −1."""
    norms = {}
    for loss in ("minimax", "nonsaturating"):
        tg.manual_seed(1)
        m = _small_gan(loss=loss)
        last = m.discriminator[-1]
        last.weight.data[...] = 0.05
        last.bias.data[...] = -8.0           # D rejects everything, confidence ≈ 1 − 3e-4
        g_loss, logits = m.g_loss(m.generate(m.sample_latent(64)))
        assert 1 / (1 + np.exp(-logits.numpy().max())) < 1e-3
        g_loss.backward()
        norms[loss] = grad_norm(m.generator.parameters())
    assert norms["nonsaturating"] > 0
    assert norms["minimax"] < 1e-3 * norms["nonsaturating"]


def test_gradient_penalty_uses_double_backward_and_reaches_discriminator():
    tg.manual_seed(3)
    m = GAN((2,), latent_dim=2, hidden=(5,), loss="wgan-gp")
    m.to(tg.float64)
    real = tg.Tensor(np.random.default_rng(0).normal(size=(6, 2)), dtype=tg.float64)
    fake = tg.Tensor(np.random.default_rng(1).normal(size=(6, 2)), dtype=tg.float64)
    w = m.discriminator[0].weight

    def gp():
        tg.manual_seed(7)                    # the same interpolation points every call
        return L.gradient_penalty(lambda x: m.discriminate(x), real, fake)

    (g,) = tg.grad(gp(), [w])
    assert g is not None and np.abs(g.numpy()).max() > 0
    # the penalty depends on D's weights only through ∇ₓD: match central finite differences
    eps, i, j = 1e-6, 1, 0
    w0 = w.data[i, j]
    w.data[i, j] = w0 + eps
    up = gp().item()
    w.data[i, j] = w0 - eps
    down = gp().item()
    w.data[i, j] = w0
    np.testing.assert_allclose(g.numpy()[i, j], (up - down) / (2 * eps), rtol=1e-5, atol=1e-9)


def test_wgan_gp_and_hinge_steps_run_and_report():
    for loss in ("wgan-gp", "hinge"):
        m = _small_gan(loss=loss)
        o = GANOptions()
        opts = make_optimizers(m, o)
        st = train_step(m, _batch(), None, opts["d"], opts["g"], o, 0)
        assert set(st) >= {"d_loss", "g_loss", "d_real", "d_fake", "d_grad_norm", "g_grad_norm"}
        assert all(np.isfinite(v) for v in st.values())


# ------------------------------------------------------------------ the tips

def test_label_smoothing_moves_only_the_real_target():
    m = _small_gan()
    real = m.to_model_space(_batch())
    fake = m.generate(m.sample_latent(32)).detach()
    _, r, f = m.d_loss(real, fake)
    r64, f64 = r.numpy().astype(np.float64), f.numpy().astype(np.float64)
    sp = lambda v: np.logaddexp(0, v)
    for s in (0.0, 0.1, 0.3):
        d, _, _ = m.d_loss(real, fake, label_smoothing=s)
        expect = np.mean((1 - s) * sp(-r64) + s * sp(r64)) + np.mean(sp(f64))   # BCE(r, 1 − s) + BCE(f, 0)
        np.testing.assert_allclose(d.item(), expect, rtol=1e-5)
    # and the training step passes it through: D's gradient on real logits is σ(r) − (1 − s)
    seen = {}
    orig = m.d_loss

    def spy(real, fake, labels=None, label_smoothing=0.0, **kw):
        seen["s"] = label_smoothing
        return orig(real, fake, labels, label_smoothing, **kw)

    m.d_loss = spy
    o = GANOptions(label_smoothing=0.2)
    opts = make_optimizers(m, o)
    train_step(m, _batch(), None, opts["d"], opts["g"], o, 0)
    assert seen["s"] == 0.2


def test_instance_noise_anneals_to_zero_and_reaches_discriminator_inputs():
    o = GANOptions(instance_noise=0.5, noise_anneal_steps=10)
    stds = [o.noise_std(s) for s in range(12)]
    assert stds[0] == 0.5 and stds[5] == pytest.approx(0.25) and stds[10] == 0.0 and stds[11] == 0.0
    assert all(a >= b for a, b in zip(stds, stds[1:]))
    assert GANOptions(instance_noise=0.3).noise_std(10 ** 6) == 0.3        # no annealing: constant
    x = tg.zeros(20000, 2)
    assert np.std(add_instance_noise(x, 0.25).numpy()) == pytest.approx(0.25, rel=0.03)
    assert add_instance_noise(x, 0.0) is x
    # the step really perturbs what D sees (real batch: a fixed point; D input spread = σ)
    m = _small_gan()
    seen = []
    orig = m.discriminate
    m.discriminate = lambda x, labels=None: (seen.append(x.numpy().copy()), orig(x, labels))[1]
    opts = make_optimizers(m, o)
    real = np.zeros((512, 2), np.float32)
    st0 = train_step(m, real, None, opts["d"], opts["g"], o, 0)
    assert st0["noise_std"] == 0.5 and np.std(seen[0]) == pytest.approx(0.5, rel=0.1)
    seen.clear()
    st = train_step(m, real, None, opts["d"], opts["g"], o, 10)
    assert st["noise_std"] == 0.0 and np.all(seen[0] == 0)


@pytest.mark.parametrize("n_critic,n_gen", [(1, 1), (3, 1), (1, 2)])
def test_discriminator_and_generator_step_counts(n_critic, n_gen):
    m = _small_gan()
    o = GANOptions(n_critic=n_critic, n_gen=n_gen)
    opts = make_optimizers(m, o)
    d, g = _Counting(opts["d"]), _Counting(opts["g"])
    train_step(m, _batch(), None, d, g, o, 0)
    train_step(m, _batch(), None, d, g, o, 1)
    assert (d.steps, g.steps) == (2 * n_critic, 2 * n_gen)


def test_separate_learning_rates_land_in_the_optimizers():
    m = _small_gan()
    opts = make_optimizers(m, GANOptions(lr_d=4e-4, lr_g=1e-4, betas=(0.5, 0.9)))
    assert [g["lr"] for g in opts["d"].param_groups] == [4e-4]
    assert [g["lr"] for g in opts["g"].param_groups] == [1e-4]
    assert tuple(opts["d"].param_groups[0]["betas"]) == (0.5, 0.9)
    d_ids = {id(p) for g in opts["d"].param_groups for p in g["params"]}
    g_ids = {id(p) for g in opts["g"].param_groups for p in g["params"]}
    assert d_ids == {id(p) for p in m.discriminator.parameters()}
    assert g_ids == {id(p) for p in m.generator.parameters()}
    o = GANOptions.from_config({"lr": 2e-4, "lr_g": 1e-3})
    assert (o.lr_d, o.lr_g) == (2e-4, 1e-3)


def test_packing_concatenates_k_samples():
    x = tg.Tensor(np.arange(12, dtype=np.float32).reshape(6, 2))
    np.testing.assert_array_equal(pack_examples(x, 3).numpy(), [[0, 1, 2, 3, 4, 5], [6, 7, 8, 9, 10, 11]])
    imgs = tg.Tensor(np.arange(4 * 1 * 2 * 2, dtype=np.float32).reshape(4, 1, 2, 2))
    p = pack_examples(imgs, 2).numpy()
    assert p.shape == (2, 2, 2, 2)
    np.testing.assert_array_equal(p[1, 1], imgs.numpy()[3, 0])
    with pytest.raises(ValueError, match="multiple"):
        pack_examples(x, 4)
    m = _small_gan(pack=4)
    assert m.discriminator[0].in_features == 8
    assert m.discriminate(m.to_model_space(_batch(32))).shape == (8,)
    # D's verdict on a group depends on all k members
    xb = m.to_model_space(_batch(4))
    xb2 = xb.numpy().copy()
    xb2[3] += 1.0
    assert m.discriminate(xb).item() != m.discriminate(tg.Tensor(xb2)).item()
    # a batch that is not a multiple of pack loses its tail instead of failing
    o = GANOptions()
    opts = make_optimizers(m, o)
    train_step(m, _batch(30), None, opts["d"], opts["g"], o, 0)


def test_generator_batch_norm_and_ema():
    m = _small_gan(g_batch_norm=True)
    assert any(type(l).__name__ == "BatchNorm1d" for l in m.generator)
    m.enable_ema()
    before = [p.numpy().copy() for p in m.generator_ema.parameters()]
    o = GANOptions(ema=0.9)
    opts = make_optimizers(m, o)
    train_step(m, _batch(), None, opts["d"], opts["g"], o, 0)
    for b, pe, p in zip(before, m.generator_ema.parameters(), m.generator.parameters()):
        np.testing.assert_allclose(pe.numpy(), 0.9 * b + 0.1 * p.numpy(), rtol=1e-5, atol=1e-6)
    assert not any(p.requires_grad for p in m.generator_ema.parameters())
    # the EMA generator is part of the state dict (checkpoints keep it)
    assert any(k.startswith("generator_ema.") for k in m.state_dict())


# ------------------------------------------------------------------ models and sampling

def test_conditional_sampling_shapes_and_labels():
    for kw in ({}, {"conditioning": "embedding", "embed_dim": 4}):
        m = ConditionalGAN((8, 8), num_classes=10, latent_dim=8, hidden=(32,), **kw)
        s = m.sample(12, 3).numpy()
        assert s.shape == (12, 8, 8) and s.min() >= 0 and s.max() <= 1
        assert m.sample(5).shape == (5, 8, 8)                      # balanced labels by default
        assert m.sample(4, np.array([0, 1, 2, 9])).shape == (4, 8, 8)
        with pytest.raises(ValueError):
            m.sample(3, [0, 1])
        with pytest.raises(ValueError):
            m.sample(2, 10)
    # the label changes the output (G sees it), the noise being equal
    m = ConditionalGAN((8, 8), latent_dim=8, hidden=(32,))
    z = m.sample_latent(2)
    a = m.generate(tg.Tensor(np.repeat(z.numpy()[:1], 2, 0)), np.array([0, 1])).numpy()
    assert not np.allclose(a[0], a[1])


def test_dcgan_shapes_and_conditional_step():
    d = load_digits()
    for m in (DCGAN((8, 8), latent_dim=8, g_width=16, d_width=8),
              ConditionalDCGAN((8, 8), latent_dim=8, g_width=16, d_width=8, pack=2),
              DCGAN((28, 28), latent_dim=8, g_width=8, d_width=4, loss="wgan-gp")):
        assert m.sample(4).shape == (4,) + m.data_shape
        o = GANOptions()
        opts = make_optimizers(m, o)
        x = d.x_train[:16] if m.data_shape == (8, 8) else np.random.default_rng(0).random((16, 28, 28), np.float32)
        st = train_step(m, x, d.y_train[:16], opts["d"], opts["g"], o, 0)
        assert np.isfinite(st["d_loss"]) and np.isfinite(st["g_loss"])
    assert not DCGAN((8, 8), loss="wgan-gp").d_batch_norm        # no batch norm in a GP critic


def test_r1_penalty_goes_through_double_backward():
    tg.manual_seed(2)
    m = GAN((2,), latent_dim=2, hidden=(6,))
    m.to(tg.float64)
    real = tg.Tensor(np.random.default_rng(0).normal(size=(5, 2)), dtype=tg.float64)
    fake = tg.Tensor(np.random.default_rng(1).normal(size=(5, 2)), dtype=tg.float64)
    plain, _, _ = m.d_loss(real, fake)
    reg, _, _ = m.d_loss(real, fake, r1=2.0)
    x = real.detach().requires_grad_(True)
    (gx,) = tg.grad(m.discriminate(x).sum(), x)
    np.testing.assert_allclose(reg.item() - plain.item(), (gx.numpy() ** 2).sum(1).mean(), rtol=1e-10)
    w = m.discriminator[0].weight
    (g_plain,) = tg.grad(plain, [w])
    (g_reg,) = tg.grad(reg, [w])
    assert np.abs(g_reg.numpy() - g_plain.numpy()).max() > 1e-6     # the penalty reaches D's weights


def test_truncation_trick_bounds_the_latent():
    m = _small_gan()
    z = m.sample_latent(4000, truncation=0.5).numpy()
    assert np.abs(z).max() <= 0.5 and z.std() > 0.2
    assert np.abs(m.sample_latent(4000).numpy()).max() > 2.5


def test_density_truncation_matches_change_of_variables_and_rejects_low_density():
    tg.manual_seed(4)
    m = GAN((2,), latent_dim=2, hidden=(32, 32), scale=2.0)
    m.to(tg.float64)
    z = m.sample_latent(6).numpy().astype(np.float64)

    def g(zz):
        with tg.no_grad():
            return m.to_data_space(m.generate(tg.Tensor(zz))).numpy()

    eps = 1e-6                                  # ReLU G: piecewise linear, small steps stay on a piece
    jac = np.stack([(g(z + eps * e) - g(z - eps * e)) / (2 * eps) for e in np.eye(2)], axis=2)
    expect = -0.5 * (z * z).sum(1) - np.log(2 * np.pi) - np.log(np.abs(np.linalg.det(jac)))
    np.testing.assert_allclose(m.log_density(z), expect, rtol=1e-6)
    thr = m.calibrate_truncation(0.3, n=4000)
    tg.manual_seed(5)
    s = m.sample(500).numpy()
    assert s.shape == (500, 2)
    # every kept sample has log p_G ≥ threshold, and a share of fresh draws does not
    zs = m.sample_latent(2000)
    assert np.mean(m.log_density(zs) < thr) == pytest.approx(0.3, abs=0.05)
    m.calibrate_truncation(0.0)
    assert not np.isfinite(m.density_threshold.item())


def test_self_conditioned_gan_clusters_assigns_and_samples():
    x = toy_2d("grid25", 3000, 0)
    c, lab = kmeans(x, 25, seed=0)
    centers, _ = toy_modes("grid25")
    assert np.abs(np.sort(c, axis=0) - np.sort(centers, axis=0)).max() < 0.1      # one cluster per mode
    m = SelfConditionedGAN((2,), clusters=30, hidden=(16,), shift=x.mean(0), scale=float(x.std()))
    m.fit_clusters(x, seed=0)
    w = m.cluster_weights.numpy()
    assert w.shape == (30,) and w.sum() == pytest.approx(1.0) and w.min() > 0
    real = m.to_model_space(x[:64])
    lab = m.training_labels(real, None)
    d = ((real.numpy()[:, None, :] - m.centroids.numpy()[None]) ** 2).sum(-1)
    np.testing.assert_array_equal(lab, d.argmin(1))                             # nearest centroid
    assert m.sample(50).shape == (50, 2)
    with pytest.raises(ValueError, match="unconditional"):
        m.sample(5, 3)
    # clusters are drawn by their share of the data
    tg.manual_seed(0)
    drawn = m._sample_labels(None, 20000)
    np.testing.assert_allclose(np.bincount(drawn, minlength=30) / 20000, w, atol=0.01)
    o = GANOptions()
    opts = make_optimizers(m, o)
    st = train_step(m, x[:64], None, opts["d"], opts["g"], o, 0)
    assert np.isfinite(st["d_loss"])
    assert {"centroids", "cluster_weights"} <= set(m.state_dict())


def test_short_ring8_run_improves_mode_coverage():
    tg.manual_seed(0)
    centers, sigma = toy_modes("ring8")
    x = toy_2d("ring8", 4000, 0)
    m = GAN((2,), latent_dim=2, hidden=(128, 128), scale=1.41)
    o = GANOptions(lr_d=2e-3, lr_g=2e-3)
    opts = make_optimizers(m, o)

    def score():
        return mode_coverage(m.sample(1000).numpy(), centers, sigma, min_count=5)

    before = score()
    rng = np.random.default_rng(0)
    for step in range(1200):
        train_step(m, x[rng.integers(0, len(x), 128)], None, opts["d"], opts["g"], o, step)
    after = score()
    assert after["modes"] >= before["modes"] + 3
    assert after["high_quality"] > before["high_quality"] + 0.1


def test_recipe_round_trip_on_ring8(tmp_path):
    from tinygen.data import load_dataset
    from tinygen.train.recipes import get
    r = get("gan")
    ds = load_dataset("ring8", n_train=512, n_test=256)
    cfg = r.defaults(ds)
    cfg.update(hidden=[16, 16], epochs=1, label_smoothing=0.1, lr_d=3e-4)
    m = r.build(ds, cfg)
    opts = r.make_optimizers(m, cfg)
    assert opts["d"].param_groups[0]["lr"] == 3e-4 and opts["g"].param_groups[0]["lr"] == cfg["lr"]
    st = r.train_step(m, (ds.x_train[:64],), opts, cfg, 0)
    assert np.isfinite(st["d_loss"])
    metrics = r.evaluate(m, ds, cfg)
    assert set(metrics) >= {"modes", "high_quality"}
    s = r.sample(m, 10, cfg, seed=3)
    assert s.shape == (10, 2) and s.dtype == np.float32
    np.testing.assert_array_equal(s, r.sample(m, 10, cfg, seed=3))
    with pytest.raises(ValueError, match="not conditional"):
        r.sample(m, 10, cfg, labels=1)
    r.pictures(m, ds, cfg, str(tmp_path))
    assert (tmp_path / "samples.png").exists()


def test_trainer_checkpoint_round_trip_keeps_clusters_ema_and_labels(tmp_path):
    """Through the real Trainer: a checkpoint rebuilds the same sampler (centroids, EMA G)."""
    import json
    from tinygen.train.trainer import Trainer, fit
    out = tmp_path / "gan"
    fit("gan", "ring8", str(out), epochs=1, hidden=[16, 16], progress=False, quiet=True)
    metrics = json.loads((out / "metrics.json").read_text())
    assert {"modes", "high_quality", "seconds"} <= set(metrics)
    assert (out / "samples.png").exists()
    t = Trainer.load(str(out))
    assert type(t.model).__name__ == "SelfConditionedGAN" and t.model.generator_ema is not None
    s = t.sample(40, seed=1)
    assert s.shape == (40, 2) and s.dtype == np.float32
    np.testing.assert_array_equal(s, Trainer.load(str(out)).sample(40, seed=1))
    # a conditional run (no evaluation: that would train the digit classifier)
    out = tmp_path / "cgan"
    out.mkdir()
    t = Trainer("cgan", "digits", str(out), {"epochs": 1, "hidden": [16], "r1": 0.0}, progress=False, quiet=True)
    t.build()
    t.train()
    t2 = Trainer.load(str(out))
    x = t2.sample(12, labels=np.full(12, 7), seed=0)
    assert x.shape == (12, 8, 8) and x.min() >= 0 and x.max() <= 1
    assert t2.model.truncation.item() == pytest.approx(1.2)
