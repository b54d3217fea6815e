"""DDPM: the closed-form forward process against the iterated chain, schedules, the loss, the
samplers (ancestral, DDIM, classifier-free guidance), EMA and shapes."""
import math

import numpy as np
import pytest

import tinygen as tg
from tinygen import backend
from tinygen.models.ddpm import DDPM, EpsConvNet, make_schedule, timestep_embedding


def _fill(p, arr):
    """Write host values into a parameter wherever it lives (CPU or GPU)."""
    p.data[...] = backend.to_device(np.asarray(arr, dtype=p.dtype), p.device)


def _small(**kw):
    args = dict(data_shape=(2,), T=40, hidden=16, depth=2, embed_dim=8, dtype="float64")
    args.update(kw)
    return DDPM(**args)


# ------------------------------------------------------------------------------- forward process

@pytest.mark.parametrize("kind", ["linear", "cosine"])
def test_schedules_are_monotone_with_alpha_bar_in_unit_interval(kind):
    for T in (10, 200, 1000):
        betas = make_schedule(T, kind)
        assert betas.shape == (T,) and betas.dtype == np.float64
        assert np.all(betas > 0) and np.all(betas < 1)
        assert np.all(np.diff(betas) >= -1e-15)          # noise is added faster and faster
        abar = np.cumprod(1 - betas)
        assert np.all((abar > 0) & (abar < 1))
        assert np.all(np.diff(abar) < 0)
        assert abar[-1] < 0.01                            # the chain ends close to N(0, I)
    np.testing.assert_allclose(make_schedule(1000, "linear")[[0, -1]], [1e-4, 0.02])
    with pytest.raises(ValueError, match="unknown schedule"):
        make_schedule(10, "quadratic")


@pytest.mark.parametrize("kind", ["linear", "cosine"])
def test_closed_form_matches_the_iterated_forward_process(kind):
    m = _small(schedule=kind, T=50)
    # exact moments of x_t = sqrt(1 - b_t) x_{t-1} + sqrt(b_t) eps, started at a fixed x_0
    mean, var = 1.0, 0.0
    for t in range(m.T):
        mean = math.sqrt(1 - m.betas[t]) * mean
        var = (1 - m.betas[t]) * var + m.betas[t]
        a, v = m.q_mean_var(t)
        assert abs(a - mean) < 1e-12 and abs(v - var) < 1e-12
    # Monte Carlo: the iterated chain and q_sample give the same distribution at t = 20
    rng = np.random.default_rng(0)
    x0 = np.array([1.5, -0.5])
    n = 40000
    x = np.tile(x0, (n, 1))
    for t in range(21):
        x = math.sqrt(1 - m.betas[t]) * x + math.sqrt(m.betas[t]) * rng.standard_normal(x.shape)
    xt, eps = m.q_sample(tg.Tensor(np.tile(x0, (n, 1))), np.full(n, 20))
    xt = xt.numpy()
    a, v = m.q_mean_var(20)
    for sample in (x, xt):
        np.testing.assert_allclose(sample.mean(0), a * x0, atol=4 * math.sqrt(v / n))
        np.testing.assert_allclose(sample.var(0), v, rtol=0.03)
    # q_sample returns the noise it used
    np.testing.assert_allclose(xt, a * x0 + math.sqrt(v) * eps.numpy(), atol=1e-12)


def test_timestep_embedding():
    e = timestep_embedding(np.array([0, 3, 7]), 8)
    assert e.shape == (3, 8)
    np.testing.assert_allclose(e[0], [0, 0, 0, 0, 1, 1, 1, 1])
    np.testing.assert_allclose(e[1, 0], math.sin(3.0))
    assert timestep_embedding(np.array([1]), 5).shape == (1, 5)


def test_normalisation_round_trip():
    m = _small(data_shift=[1.0, -2.0], data_scale=[0.5, 4.0])
    x = np.random.default_rng(0).normal(size=(6, 2))
    np.testing.assert_allclose(m.denormalize(m.normalize(x)).numpy(), x, atol=1e-12)
    np.testing.assert_allclose(m.normalize(x).numpy(), (x - [1.0, -2.0]) / [0.5, 4.0], atol=1e-12)


# ------------------------------------------------------------------------------- loss and training

def test_loss_is_a_scalar_and_decreases_on_a_short_run():
    from tinygen.data import toy_2d
    x = toy_2d("ring8", 4096, 0)
    m = DDPM((2,), T=50, hidden=64, depth=2, embed_dim=16, data_scale=x.std())
    opt = tg.optim.Adam(m.parameters(), lr=2e-3)
    rng = np.random.default_rng(0)

    def held_out_loss():
        tg.manual_seed(99)            # the same t and ε each time
        with tg.no_grad():
            return m.loss(x[:2048]).item()

    before = held_out_loss()
    for _ in range(120):
        loss = m.loss(x[rng.integers(0, len(x), 256)])
        assert loss.shape == ()
        opt.zero_grad()
        loss.backward()
        opt.step()
    after = held_out_loss()
    assert before > 0.8                 # ε-prediction starts at about Var(ε) = 1
    assert after < 0.7 * before, (before, after)


def test_loss_gradients_reach_every_parameter_of_a_conditional_model():
    m = _small(num_classes=3, p_uncond=0.5)
    loss = m.loss(np.random.default_rng(0).normal(size=(32, 2)), np.arange(32) % 3)
    loss.backward()
    for name, p in m.net.named_parameters():
        assert p.grad is not None and np.all(np.isfinite(p.grad.numpy())), name


def test_ema_update():
    m = _small(ema_decay=0.9)
    before = [p.numpy().copy() for p in m.ema.parameters()]
    for p in m.net.parameters():
        p.data += 1.0
    m.update_ema()
    for b, pe, p in zip(before, m.ema.parameters(), m.net.parameters()):
        np.testing.assert_allclose(pe.numpy(), 0.9 * b + 0.1 * p.numpy(), atol=1e-12)
        assert not pe.requires_grad
    # the EMA weights are in the state dict (so checkpoints keep them)
    assert any(k.startswith("ema.") for k in m.state_dict())


# ------------------------------------------------------------------------------- samplers

def _trained_like(m, seed=0, std=0.3):
    rng = np.random.default_rng(seed)
    for p in m.net.parameters():
        _fill(p, rng.normal(0, std, p.shape))
    return m


def test_ddim_with_all_steps_and_eta_one_is_the_ancestral_sampler():
    m = _trained_like(_small(data_shift=[0.5, 0.0], data_scale=2.0))
    tg.manual_seed(5)
    anc = m.sample(300, method="ancestral", progress=False).numpy()
    tg.manual_seed(5)
    ddim = m.sample(300, method="ddim", eta=1.0, progress=False).numpy()
    # same noise draws in the same order: the two samplers agree draw by draw
    np.testing.assert_allclose(ddim, anc, rtol=1e-8, atol=1e-8)
    # and in distribution with independent noise
    tg.manual_seed(6)
    ddim2 = m.sample(1500, method="ddim", eta=1.0, progress=False).numpy()
    tg.manual_seed(7)
    anc2 = m.sample(1500, method="ancestral", progress=False).numpy()
    np.testing.assert_allclose(ddim2.mean(0), anc2.mean(0), atol=0.15 * anc2.std(0).max())
    np.testing.assert_allclose(ddim2.std(0), anc2.std(0), rtol=0.1)


def test_ddim_deterministic_and_fewer_steps():
    m = _trained_like(_small())
    z = tg.Tensor(np.random.default_rng(0).normal(size=(20, 2)))
    a = m.sample(20, method="ddim", steps=10, noise=z, progress=False).numpy()
    tg.manual_seed(123)
    b = m.sample(20, method="ddim", steps=10, noise=z, progress=False).numpy()
    np.testing.assert_array_equal(a, b)         # η = 0: no randomness beyond x_T
    out, traj, times = m.sample(20, method="ddim", steps=10, noise=z, progress=False,
                                return_trajectory=True, trajectory_points=5)
    assert len(traj) == len(times) and times[0] == "x_T" and times[-1] == "x_0"
    np.testing.assert_allclose(traj[-1], out.numpy())
    np.testing.assert_allclose(traj[0], z.numpy())
    with pytest.raises(ValueError, match="steps"):
        m.sample(2, method="ddim", steps=0, progress=False)


def test_sampler_recovers_a_gaussian_with_the_exact_noise_predictor():
    """For data N(μ, s²I) the optimal ε-predictor is known in closed form; plugging it in, the
    ancestral and DDIM samplers must return N(μ, s²I)."""
    mu, s = np.array([0.7, -0.3]), 0.5
    m = _small(T=200, schedule="cosine")

    class Exact(tg.nn.Module):
        def forward(self, x, t, y=None):
            ab = m.alpha_bars[t][:, None]
            xt = x.numpy()
            # x_t ~ N(√ᾱ μ, (ᾱ s² + 1 − ᾱ) I); E[ε | x_t] = √(1−ᾱ)(x_t − √ᾱ μ)/(ᾱ s² + 1 − ᾱ)
            return tg.Tensor(np.sqrt(1 - ab) * (xt - np.sqrt(ab) * mu) / (ab * s * s + 1 - ab))

    m.net = Exact()
    m.net.out = tg.nn.Linear(1, 1, dtype="float64")      # gives the sampler its dtype/device
    # (few DDIM steps shrink the spread a little: discretisation error of the ODE)
    for method, kw, rtol in (("ancestral", {}, 0.04), ("ddim", {}, 0.04), ("ddim", dict(steps=25), 0.1)):
        tg.manual_seed(1)
        x = m.sample(4000, method=method, progress=False, **kw).numpy()
        np.testing.assert_allclose(x.mean(0), mu, atol=0.04)
        np.testing.assert_allclose(x.std(0), s, rtol=rtol)


def test_classifier_free_guidance():
    m = _trained_like(_small(num_classes=3))
    labels = np.array([0, 1, 2, 1])
    z = tg.Tensor(np.random.default_rng(0).normal(size=(4, 2)))
    # w = 0 is the plain conditional model: compare with an ancestral loop written out by hand
    tg.manual_seed(2)
    got = m.sample(4, labels=labels, guidance=0.0, noise=z, progress=False).numpy()
    tg.manual_seed(2)
    x = z.numpy().copy()
    for t in range(m.T - 1, -1, -1):
        eps = m(tg.Tensor(x), np.full(4, t), labels).numpy()
        ab, abp, b = m.alpha_bars[t], m.alpha_bars_prev[t], m.betas[t]
        x0 = (x - math.sqrt(1 - ab) * eps) / math.sqrt(ab)
        if t == 0:
            x = x0
            break
        mean = math.sqrt(abp) * b / (1 - ab) * x0 + math.sqrt(1 - b) * (1 - abp) / (1 - ab) * x
        x = mean + math.sqrt(b * (1 - abp) / (1 - ab)) * tg.random.normal_array((4, 2), dtype=np.float64)
    np.testing.assert_allclose(got, x, rtol=1e-9, atol=1e-9)
    # w ≠ 0 mixes (1 + w) ε(x, y) − w ε(x, ∅), computed in one batched call
    xt = tg.Tensor(np.random.default_rng(1).normal(size=(4, 2)))
    mixed = m._eps(m.net, xt, 7, labels, 2.5).numpy()
    cond = m(xt, np.full(4, 7), labels).numpy()
    uncond = m(xt, np.full(4, 7), np.full(4, 3)).numpy()
    np.testing.assert_allclose(mixed, 3.5 * cond - 2.5 * uncond, atol=1e-12)
    # no label = the null label
    np.testing.assert_allclose(m(xt, np.full(4, 7)).numpy(), uncond, atol=1e-12)
    with pytest.raises(ValueError, match="labels"):
        m.sample(2, labels=[5, 0], progress=False)
    with pytest.raises(ValueError, match="unconditional"):
        _small().sample(2, labels=[0, 1], progress=False)


def test_clip_x0_keeps_samples_in_range():
    m = _trained_like(_small(clip_x0=(-1.0, 1.0), data_shift=0.5, data_scale=0.5), std=1.0)
    for method in ("ancestral", "ddim"):
        x = m.sample(200, method=method, steps=20, progress=False).numpy()
        assert x.min() >= -1e-12 and x.max() <= 1 + 1e-12


# ------------------------------------------------------------------------------- shapes

def test_shapes_for_vectors_images_and_the_conv_net():
    m = DDPM((8, 8), T=10, hidden=16, depth=2, embed_dim=8, num_classes=10, ema_decay=0.99)
    x = np.random.default_rng(0).uniform(size=(5, 8, 8)).astype(np.float32)
    assert m.loss(x, np.arange(5)).shape == ()
    s = m.sample(3, labels=[1, 2, 3], guidance=1.0, progress=False)
    assert s.shape == (3, 8, 8) and s.dtype == np.float32
    assert m.sample(2, method="ddim", steps=4, progress=False).shape == (2, 8, 8)
    mc = DDPM((1, 8, 8), T=10, net="conv", hidden=4, embed_dim=8, num_classes=2)
    assert isinstance(mc.net, EpsConvNet)
    xc = np.random.default_rng(0).normal(size=(3, 1, 8, 8)).astype(np.float32)
    out = mc(tg.Tensor(xc), np.array([0, 5, 9]), np.array([0, 1, 2]))
    assert out.shape == (3, 1, 8, 8)
    loss = mc.loss(xc, np.array([0, 1, 1]))
    loss.backward()
    assert all(p.grad is not None for p in mc.net.parameters())
    assert mc.sample(2, labels=1, progress=False).shape == (2, 1, 8, 8)
    with pytest.raises(ValueError, match="shape"):
        m.loss(np.zeros((2, 64), dtype=np.float32))
    with pytest.raises(ValueError, match="net"):
        DDPM((2,), net="transformer")


# ------------------------------------------------------------------------------- the command-line recipe

def test_recipe_on_a_toy_writes_metrics_and_pictures(tmp_path):
    from tinygen.train.trainer import Trainer, fit
    m = fit("ddpm", "ring8", str(tmp_path), epochs=1, T=20, hidden=32, depth=2, quiet=True)
    assert set(m) >= {"modes", "high_quality", "test_loss", "seconds"}
    for f in ("checkpoint", "metrics.json", "samples.png", "trajectory.png", "history.csv"):
        assert (tmp_path / f).exists(), f
    tr = Trainer.load(str(tmp_path), quiet=True)
    s = tr.sample(500)
    assert s.shape == (500, 2) and s.dtype == np.float32
    assert s.min() < -0.5 and s.max() > 1.0              # data coordinates (ring of radius 2)
    with pytest.raises(ValueError, match="not conditional"):
        tr.sample(3, labels=np.zeros(3, dtype=np.int64))


def test_recipe_on_digits_is_class_conditional(tmp_path):
    from tinygen.train.trainer import Trainer, fit
    m = fit("ddpm", "digits", str(tmp_path), epochs=1, T=10, hidden=32, depth=2, quiet=True)
    assert {"frechet", "class_coverage", "label_accuracy", "frechet_unconditional"} <= set(m)
    assert (tmp_path / "denoising.png").exists()
    tr = Trainer.load(str(tmp_path), quiet=True)
    s = tr.sample(5, labels=np.full(5, 3))
    assert s.shape == (5, 8, 8) and s.min() >= 0 and s.max() <= 1
