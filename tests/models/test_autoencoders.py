"""Autoencoder, DenoisingAutoencoder and VAE: shapes, losses against hand formulas, corruption
statistics, likelihood sanity (ELBO ≤ IWAE ≤ 0), imputation, and that short training helps."""
import math

import numpy as np
import pytest

import tinygen as tg
from tinygen.models import VAE, Autoencoder, DenoisingAutoencoder


@pytest.fixture(scope="module", autouse=True)
def _one_thread():
    try:
        from threadpoolctl import threadpool_limits
        with threadpool_limits(1):
            yield
    except ImportError:  # pragma: no cover
        yield


@pytest.fixture(scope="module")
def digits():
    from tinygen.data import load_digits
    ds = load_digits(seed=0)
    return ds.x_train[:512], ds.x_test[:128], ds.y_test[:128]


def _train(model, x, steps=80, lr=3e-3, batch=64):
    opt = tg.optim.Adam(model.parameters(), lr=lr)
    rng = np.random.default_rng(0)
    losses = []
    for _ in range(steps):
        xb = x[rng.integers(0, len(x), batch)]
        opt.zero_grad()
        loss = model.loss(xb)
        loss.backward()
        opt.step()
        losses.append(loss.item())
    return losses


# ------------------------------------------------------------------------------ Autoencoder

@pytest.mark.parametrize("conv", [False, True])
@pytest.mark.parametrize("loss", ["mse", "bce"])
def test_autoencoder_shapes_and_range(conv, loss):
    m = Autoencoder((8, 8), latent_dim=5, hidden=(32,), conv=conv, channels=(4, 8), loss=loss)
    x = np.random.default_rng(1).random((6, 8, 8)).astype(np.float32)
    z = m.encode(x)
    assert z.shape == (6, 5)
    out = m.decode(z)
    assert out.shape == (6, 8, 8)
    assert np.all((out.numpy() >= 0) & (out.numpy() <= 1))
    assert m.reconstruct(x.reshape(6, 64)).shape == (6, 8, 8)       # flat input accepted
    err = m.reconstruction_error(x)
    assert err.shape == (6,) and not err.requires_grad
    assert m.sample(3).shape == (3, 8, 8)
    l = m.loss(x)
    assert l.shape == () and l.requires_grad


def test_autoencoder_loss_matches_formula():
    m = Autoencoder((8, 8), latent_dim=3, hidden=(16,), loss="mse")
    x = np.random.default_rng(2).random((4, 8, 8)).astype(np.float32)
    rec = m.reconstruct(x).numpy()
    assert m.loss(x).item() == pytest.approx(np.mean((rec - x) ** 2), rel=1e-5)
    assert np.allclose(m.reconstruction_error(x).numpy(), ((rec - x) ** 2).reshape(4, -1).mean(1), rtol=1e-5)
    b = Autoencoder((8, 8), latent_dim=3, hidden=(16,), loss="bce")
    p = np.clip(b.reconstruct(x).numpy().astype(np.float64), 1e-12, 1 - 1e-12)
    ref = -(x * np.log(p) + (1 - x) * np.log(1 - p)).mean()
    assert b.loss(x).item() == pytest.approx(ref, rel=1e-4)


def test_autoencoder_rejects_wrong_shapes_and_options():
    m = Autoencoder((8, 8), latent_dim=3, hidden=(16,))
    with pytest.raises(ValueError, match="expected"):
        m.encode(np.zeros((2, 7, 7), np.float32))
    with pytest.raises(ValueError, match="loss"):
        Autoencoder((8, 8), loss="l1")
    with pytest.raises(ValueError, match="image"):
        Autoencoder(64, conv=True)
    with pytest.raises(ValueError, match="activation"):
        Autoencoder((8, 8), activation="swish2")


def test_autoencoder_training_reduces_loss_and_flags_anomalies(digits):
    x, xt, _ = digits
    m = Autoencoder((8, 8), latent_dim=8, hidden=(64,))
    losses = _train(m, x, steps=120)
    assert np.mean(losses[-10:]) < 0.6 * np.mean(losses[:5])
    m.eval()
    noise = np.random.default_rng(3).random((64, 8, 8)).astype(np.float32)
    # random pixels are unlike any digit: every one scores worse than the median real digit
    assert np.min(m.reconstruction_error(noise).numpy()) > np.median(m.reconstruction_error(xt).numpy())


def test_autoencoder_code_distribution_sampling(digits):
    x, _, _ = digits
    m = Autoencoder((8, 8), latent_dim=4, hidden=(32,))
    m.fit_code_distribution(x)
    codes = m.encode(x).numpy().astype(np.float64)
    assert np.allclose(m.code_mean.numpy(), codes.mean(0), atol=1e-5)
    L = m.code_scale.numpy().astype(np.float64)
    assert np.allclose(L @ L.T, np.cov(codes, rowvar=False), atol=1e-4)
    assert "code_mean" in m.state_dict() and "code_scale" in m.state_dict()


# ------------------------------------------------------------------------------ Denoising AE

def test_dae_corruptions_have_the_right_statistics():
    x = np.full((200, 8, 8), 0.5, np.float32)
    g = DenoisingAutoencoder((8, 8), hidden=(8,), noise="gaussian", noise_level=0.1)
    c = g.corrupt(x).numpy()
    assert c.shape == x.shape and not np.array_equal(c, x)
    assert abs(float((c - x).std()) - 0.1) < 0.01 and c.min() >= 0 and c.max() <= 1
    m = DenoisingAutoencoder((8, 8), hidden=(8,), noise="masking", noise_level=0.25)
    c = m.corrupt(x).numpy()
    assert set(np.unique(c)) <= {0.0, 0.5}
    assert abs(float((c == 0).mean()) - 0.25) < 0.02
    s = DenoisingAutoencoder((8, 8), hidden=(8,), noise="salt_pepper", noise_level=0.2)
    c = s.corrupt(x).numpy()
    assert set(np.unique(c)) <= {0.0, 0.5, 1.0}
    assert abs(float((c != 0.5).mean()) - 0.2) < 0.02
    assert abs(float((c == 0).mean()) - float((c == 1).mean())) < 0.02


def test_dae_corrupts_in_training_only(digits):
    x, _, _ = digits
    m = DenoisingAutoencoder((8, 8), latent_dim=4, hidden=(16,), noise_level=0.3)
    m.train()
    assert m.loss(x[:32]).item() != m.loss(x[:32]).item()          # fresh noise each call
    m.eval()
    plain = Autoencoder((8, 8), latent_dim=4, hidden=(16,))
    plain.load_state_dict(m.state_dict())
    assert m.loss(x[:32]).item() == m.loss(x[:32]).item() == pytest.approx(plain.loss(x[:32]).item())


def test_dae_learns_to_denoise(digits):
    x, xt, _ = digits
    m = DenoisingAutoencoder((8, 8), latent_dim=16, hidden=(128,), noise_level=0.3)
    _train(m, x, steps=250)
    m.eval()
    noisy = m.corrupt(xt).numpy()
    den = m.reconstruct(noisy).numpy()
    assert np.mean((den - xt) ** 2) < 0.6 * np.mean((noisy - xt) ** 2)


def test_dae_rejects_bad_options():
    with pytest.raises(ValueError, match="noise"):
        DenoisingAutoencoder((8, 8), noise="pink")
    with pytest.raises(ValueError, match="noise_level"):
        DenoisingAutoencoder((8, 8), noise="masking", noise_level=1.5)
    with pytest.raises(ValueError, match="clip"):
        DenoisingAutoencoder((8, 8), clip=(1.0, 0.0))


# ------------------------------------------------------------------------------ VAE

@pytest.mark.parametrize("conv", [False, True])
@pytest.mark.parametrize("likelihood", ["bernoulli", "gaussian"])
def test_vae_shapes(conv, likelihood):
    m = VAE((8, 8), latent_dim=3, hidden=(32,), conv=conv, channels=(4, 8), likelihood=likelihood)
    x = np.random.default_rng(4).random((5, 8, 8)).astype(np.float32)
    mu, logvar = m.encode(x)
    assert mu.shape == logvar.shape == (5, 3)
    assert m.decode(mu).shape == (5, 8, 8)
    rec, mu2, lv2 = m(x)
    assert rec.shape == (5, 8, 8)
    assert m.reconstruct(x).shape == (5, 8, 8)
    assert m.sample(4).shape == (4, 8, 8) and m.sample(4, mean=False).shape == (4, 8, 8)
    assert m.elbo(x).shape == (5,) and m.log_likelihood(x, k=7).shape == (5,)
    assert m.interpolate(x[0], x[1], steps=6).shape == (6, 8, 8)
    assert m.interpolate(x[:2], x[2:4], steps=3).shape == (2, 3, 8, 8)
    assert m.impute(x, np.ones_like(x, bool), iters=2).shape == (5, 8, 8)
    if likelihood == "gaussian":
        _, lv = m.decode_params(mu)
        assert float(lv.numpy().min()) >= m.min_logvar


def test_vae_loss_terms_match_formulas():
    m = VAE((8, 8), latent_dim=4, hidden=(16,), beta=0.5)
    x = np.random.default_rng(5).random((6, 8, 8)).astype(np.float32)
    tg.manual_seed(7)
    t = m.loss_terms(x)
    assert t["loss"].item() == pytest.approx(t["recon"].item() + 0.5 * t["kl"].item(), rel=1e-6)
    mu, lv = (a.numpy().astype(np.float64) for a in m.encode(x))
    kl = 0.5 * (np.exp(lv) + mu ** 2 - 1 - lv).sum(1).mean()
    assert t["kl"].item() == pytest.approx(kl, rel=1e-4, abs=1e-6)
    # recon: Σ BCE over pixels, averaged over the batch, at the same z
    tg.manual_seed(7)
    eps = tg.random.normal_array((6, 4))
    z = mu + np.exp(0.5 * lv) * eps
    logits = m.decode_params(tg.Tensor(z.astype(np.float32)))[0].numpy().astype(np.float64).reshape(6, 64)
    xf = x.reshape(6, 64)
    bce = np.maximum(logits, 0) - logits * xf + np.log1p(np.exp(-np.abs(logits)))
    assert t["recon"].item() == pytest.approx(bce.sum(1).mean(), rel=1e-4)


def test_vae_reparameterization_is_differentiable():
    m = VAE((8, 8), latent_dim=2, hidden=(8,))
    mu = tg.Tensor(np.zeros((3, 2), np.float32), requires_grad=True)
    lv = tg.Tensor(np.zeros((3, 2), np.float32), requires_grad=True)
    m.reparameterize(mu, lv).sum().backward()
    assert np.allclose(mu.grad.numpy(), 1.0)
    assert np.any(lv.grad.numpy() != 0)


def test_vae_likelihood_sanity_after_training(digits):
    x, xt, _ = digits
    m = VAE((8, 8), latent_dim=4, hidden=(64,))
    losses = _train(m, x, steps=150)
    assert np.mean(losses[-10:]) < np.mean(losses[:5]) - 5
    m.eval()
    elbo = m.elbo(xt[:64], n_samples=50).numpy().astype(np.float64)
    iw = m.log_likelihood(xt[:64], k=200).numpy().astype(np.float64)
    assert np.all(np.isfinite(elbo)) and np.all(np.isfinite(iw))
    assert np.all(iw <= 0) and np.all(elbo <= 0)               # Bernoulli probabilities are ≤ 1
    assert iw.mean() >= elbo.mean() - 0.05                     # IWAE tightens the bound
    assert iw.mean() - elbo.mean() < 10                        # ... but not absurdly
    assert elbo.mean() > -60


def test_vae_interpolation_endpoints_and_sampling():
    m = VAE((8, 8), latent_dim=3, hidden=(16,))
    x = np.random.default_rng(6).random((2, 8, 8)).astype(np.float32)
    path = m.interpolate(x[0], x[1], steps=5).numpy()
    mu, _ = m.encode(x)
    ends = m.decode(mu).numpy()
    assert np.allclose(path[0], ends[0], atol=1e-6) and np.allclose(path[-1], ends[1], atol=1e-6)
    s = m.sample(50, mean=False).numpy()
    assert set(np.unique(s)) <= {0.0, 1.0}
    tg.manual_seed(3)
    a = m.sample(4).numpy()
    tg.manual_seed(3)
    assert np.array_equal(a, m.sample(4).numpy())


def test_vae_imputation_keeps_observed_and_beats_a_constant(digits):
    x, xt, _ = digits
    m = VAE((8, 8), latent_dim=6, hidden=(128,))
    _train(m, x, steps=300)
    m.eval()
    rng = np.random.default_rng(8)
    mask = np.ones(xt.shape, bool)
    mask[:, 4:, :] = False                                     # the bottom half is missing
    filled = m.impute(xt, mask, iters=20).numpy()
    assert np.array_equal(filled[mask], xt[mask])
    err = np.mean((filled[~mask] - xt[~mask]) ** 2)
    assert err < 0.7 * np.mean((0.5 - xt[~mask]) ** 2)
    assert err < np.mean((x.mean(0)[None].repeat(len(xt), 0)[~mask] - xt[~mask]) ** 2)
    stoch = m.impute(xt, mask, iters=3, stochastic=True).numpy()
    assert np.array_equal(stoch[mask], xt[mask])
    del rng


def test_vae_rejects_bad_options():
    with pytest.raises(ValueError, match="likelihood"):
        VAE((8, 8), likelihood="poisson")
    with pytest.raises(ValueError, match="beta"):
        VAE((8, 8), beta=-1)
    with pytest.raises(ValueError, match="k must"):
        VAE((8, 8), hidden=(4,)).log_likelihood(np.zeros((1, 8, 8), np.float32), k=0)
    with pytest.raises(ValueError, match="steps"):
        VAE((8, 8), hidden=(4,)).interpolate(np.zeros((8, 8)), np.zeros((8, 8)), steps=1)


def test_models_package_exports():
    import tinygen.models as M
    assert M.Autoencoder is Autoencoder and M.VAE is VAE
    with pytest.raises(AttributeError):
        M.NotAModel
    assert math.isfinite(VAE(2, latent_dim=2, hidden=(8,), likelihood="gaussian").elbo(np.zeros((3, 2))).numpy().sum())
