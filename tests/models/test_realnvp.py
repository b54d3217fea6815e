"""RealNVP: exact invertibility, log-determinants against the full autograd Jacobian, the base
density, normalisation on a grid, dequantization/bits-per-dimension bookkeeping, and training."""
import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

import tinygen as tg
from tinygen import backend
from tinygen.models.realnvp import RealNVP, make_masks


def _fill(p, arr):
    """Write host values into a parameter wherever it lives (CPU or GPU)."""
    p.data[...] = backend.to_device(np.asarray(arr, dtype=p.dtype), p.device)


def _randomize(model, seed, std=0.4):
    """Give every coupling non-trivial weights (the default zero last layer is the identity)."""
    rng = np.random.default_rng(seed)
    for name, p in model.named_parameters():
        if name.endswith("scale"):
            _fill(p, rng.uniform(0.5, 1.5, p.shape))
        else:
            _fill(p, rng.normal(0.0, std, p.shape))
    return model


def _vector_flow(dim, seed, n_couplings=4, **kw):
    return _randomize(RealNVP((dim,), n_couplings=n_couplings, hidden=8, dtype="float64", **kw), seed)


def _image_flow(shape, seed, n_couplings=4):
    return _randomize(RealNVP(shape, n_couplings=n_couplings, hidden=8, levels=17, logit_alpha=0.05,
                              dtype="float64"), seed)


def _jacobian(fn, x):
    """Per-example Jacobians (N, D, D) of fn: (N, D) → (N, D), row by row with tg.grad."""
    x = tg.Tensor(x, requires_grad=True)
    y = fn(x)
    y = y.reshape(y.shape[0], -1)
    d = y.shape[1]
    rows = [tg.grad(y[:, i].sum(), x, retain_graph=True)[0].numpy().reshape(x.shape[0], -1) for i in range(d)]
    return np.stack(rows, axis=1)


# ------------------------------------------------------------------------------- invertibility

@settings(max_examples=25, deadline=None)
@given(dim=st.integers(2, 6), n=st.integers(1, 5), seed=st.integers(0, 2 ** 16), data=st.data())
def test_inverse_of_forward_is_identity_vectors(dim, n, seed, data):
    x = data.draw(hnp.arrays(np.float64, (n, dim), elements=st.floats(-4, 4, allow_nan=False)))
    model = _vector_flow(dim, seed, data_shift=np.linspace(-0.5, 0.5, dim), data_scale=np.linspace(0.5, 2.0, dim))
    with tg.no_grad():
        z, _ = model(tg.Tensor(x))
        back = model.inverse(z).numpy()
        # and the other way round: forward(inverse(z)) == z
        again, _ = model(model.inverse(tg.Tensor(x)))
    assert z.shape == x.shape
    np.testing.assert_allclose(back, x, rtol=0, atol=1e-10)
    np.testing.assert_allclose(again.numpy(), x, rtol=0, atol=1e-10)


@settings(max_examples=15, deadline=None)
@given(shape=st.sampled_from([(2, 2), (3, 4), (4, 4), (1, 3, 2)]), n=st.integers(1, 4),
       seed=st.integers(0, 2 ** 16), data=st.data())
def test_inverse_of_forward_is_identity_images(shape, n, seed, data):
    x = data.draw(hnp.arrays(np.float64, (n,) + shape, elements=st.floats(0.001, 0.999)))
    model = _image_flow(shape, seed)
    with tg.no_grad():
        z, _ = model(tg.Tensor(x))
        back = model.inverse(z).numpy()
    np.testing.assert_allclose(back, x, rtol=0, atol=1e-10)


# ------------------------------------------------------------------------------- log-determinants

@pytest.mark.parametrize("dim", [2, 3, 5])
def test_logdet_matches_full_autograd_jacobian_vectors(dim):
    model = _vector_flow(dim, 7, n_couplings=5, data_shift=0.3, data_scale=np.linspace(0.5, 1.5, dim))
    x = np.random.default_rng(1).normal(size=(4, dim))
    jac = _jacobian(lambda v: model(v)[0], x)
    _, logdet = model(tg.Tensor(x))
    sign, expected = np.linalg.slogdet(jac)
    assert np.all(sign != 0)
    np.testing.assert_allclose(logdet.numpy(), expected, rtol=1e-9, atol=1e-9)


def test_logdet_matches_full_autograd_jacobian_images_with_logit():
    model = _image_flow((3, 4), 3)
    x = np.random.default_rng(2).uniform(0.02, 0.98, size=(3, 3, 4))
    jac = _jacobian(lambda v: model(v)[0], x)
    _, logdet = model(tg.Tensor(x))
    _, expected = np.linalg.slogdet(jac)
    np.testing.assert_allclose(logdet.numpy(), expected, rtol=1e-9, atol=1e-9)


def test_coupling_jacobian_is_triangular_in_the_mask_split():
    model = _vector_flow(4, 5, n_couplings=1)
    x = np.random.default_rng(3).normal(size=(2, 4))
    jac = _jacobian(lambda v: model(v)[0], x)
    mask = make_masks((4,), 1)[0].astype(bool)
    # the masked (passed-through) coordinates do not depend on the others
    np.testing.assert_allclose(jac[:, mask][:, :, ~mask], 0.0, atol=1e-14)


# ------------------------------------------------------------------------------- densities

def _std_normal_logpdf(x):
    return -0.5 * np.sum(x * x, axis=1) - 0.5 * x.shape[1] * math.log(2 * math.pi)


def test_identity_couplings_give_the_standard_normal():
    model = RealNVP((3,), n_couplings=6, hidden=8, dtype="float64")     # last layers start at zero
    x = np.random.default_rng(4).normal(size=(10, 3)) * 2
    np.testing.assert_allclose(model.log_prob(x).numpy(), _std_normal_logpdf(x), rtol=1e-12, atol=1e-12)
    # ... and with a standardisation, the change of variables of the affine map
    shift, scale = np.array([1.0, -2.0, 0.5]), np.array([2.0, 0.5, 3.0])
    model = RealNVP((3,), n_couplings=2, hidden=8, dtype="float64", data_shift=shift, data_scale=scale)
    expected = _std_normal_logpdf((x - shift) / scale) - np.log(scale).sum()
    np.testing.assert_allclose(model.log_prob(x).numpy(), expected, rtol=1e-12, atol=1e-12)
    z = np.random.default_rng(5).normal(size=(4, 3))
    np.testing.assert_allclose(model.inverse(z).numpy(), z * scale + shift, atol=1e-12)


def test_density_integrates_to_one_on_a_grid():
    model = _vector_flow(2, 11, n_couplings=6)
    h = 0.04
    g = np.arange(-9.0, 9.0, h) + h / 2
    xx, yy = np.meshgrid(g, g, indexing="ij")
    pts = np.stack([xx.ravel(), yy.ravel()], axis=1)
    with tg.no_grad():
        dens = np.exp(model.log_prob(pts).numpy())
    total = dens.sum() * h * h
    assert abs(total - 1.0) < 0.01, total


def test_image_density_is_on_the_unit_cube_and_bpd_bookkeeping():
    model = _image_flow((2, 2), 9)
    # one pixel through the logit transform alone: y ↦ logit(α + (1 − 2α) y) is a bijection from
    # (−α/(1 − 2α), (1 − α)/(1 − 2α)) onto ℝ, so the density integrates to 1 there, and to a bit
    # less on (0, 1) (the mass the bpd figure gives away: it is an upper bound)
    a = 0.05
    one = RealNVP((1, 1), n_couplings=0, levels=17, logit_alpha=a, dtype="float64")
    lo, hi = -a / (1 - 2 * a), (1 - a) / (1 - 2 * a)
    n = 20000
    u = lo + (hi - lo) * (np.arange(n) + 0.5) / n
    with tg.no_grad():
        p = np.exp(one.log_prob(u.reshape(-1, 1, 1)).numpy())
    assert abs(p.mean() * (hi - lo) - 1.0) < 1e-3
    inside = (u > 0) & (u < 1)
    assert 0.99 < p[inside].sum() * (hi - lo) / n < 1.0
    # bits per dimension = (−log p(y) + D log L)/(D ln 2) on the dequantized pixels
    x = np.random.default_rng(0).integers(0, 17, size=(5, 2, 2)) / 16.0
    tg.manual_seed(3)
    bpd = model.bits_per_dim(x)
    tg.manual_seed(3)
    y = model.dequantize(x)
    lp = model.log_prob(y).numpy()
    np.testing.assert_allclose(bpd, np.mean(-lp + 4 * math.log(17)) / (4 * math.log(2)), rtol=1e-12)
    # dequantized values stay in their level's bin
    k = np.round(x * 16).reshape(5, -1)
    yv = y.numpy().reshape(5, -1) * 17
    assert np.all((yv >= k) & (yv < k + 1))


def test_quantize_inverts_dequantize():
    model = RealNVP((4, 4), n_couplings=2, hidden=8, levels=17)
    x = np.random.default_rng(0).integers(0, 17, size=(6, 4, 4)) / 16.0
    y = model.dequantize(x).numpy().reshape(6, 4, 4)
    np.testing.assert_allclose(model.quantize(y), x, atol=1e-6)


# ------------------------------------------------------------------------------- sampling, training

def test_sample_shapes_and_ranges():
    m = RealNVP((2,), n_couplings=4, hidden=8)
    assert m.sample(7).shape == (7, 2)
    mi = _randomize(RealNVP((8, 8), n_couplings=2, hidden=8, levels=17), 0, std=0.1)
    s = mi.sample(5).numpy()
    assert s.shape == (5, 8, 8) and s.min() >= 0 and s.max() <= 1
    np.testing.assert_allclose(s * 16, np.round(s * 16), atol=1e-5)      # on the 17 levels


def test_training_reduces_the_nll_on_moons():
    from tinygen.data import toy_2d
    x = toy_2d("moons", 2048, 0)
    m = RealNVP((2,), n_couplings=4, hidden=32, data_shift=x.mean(0), data_scale=x.std(0))
    opt = tg.optim.Adam(m.parameters(), lr=5e-3)
    rng = np.random.default_rng(0)
    with tg.no_grad():
        before = -m.log_prob(x).numpy().mean()
    for _ in range(60):
        loss = m.loss(x[rng.integers(0, len(x), 256)])
        opt.zero_grad()
        loss.backward()
        opt.step()
    with tg.no_grad():
        after = -m.log_prob(x).numpy().mean()
    assert after < before - 0.25, (before, after)
    assert np.all(np.isfinite(m.sample(100).numpy()))


def test_float32_and_float64_agree():
    m64 = _vector_flow(3, 2)
    m32 = RealNVP((3,), n_couplings=4, hidden=8)
    m32.load_state_dict({k: v.numpy().astype(np.float32) for k, v in m64.state_dict().items()})
    x = np.random.default_rng(0).normal(size=(5, 3))
    np.testing.assert_allclose(m32.log_prob(x.astype(np.float32)).numpy(), m64.log_prob(x).numpy(), rtol=1e-4, atol=1e-4)


def test_bad_inputs_raise():
    m = RealNVP((2,), n_couplings=2, hidden=8)
    with pytest.raises(ValueError, match="shape"):
        m.log_prob(np.zeros((3, 3)))
    with pytest.raises(ValueError, match="levels"):
        m.dequantize(np.zeros((3, 2)))
    with pytest.raises(ValueError):
        RealNVP((2,), data_scale=[1.0, -1.0])


# ------------------------------------------------------------------------------- the command-line recipe

def test_recipe_on_moons_writes_metrics_and_pictures(tmp_path):
    from tinygen.train.trainer import fit
    m = fit("realnvp", "moons", str(tmp_path), epochs=1, batch_size=512, n_couplings=2, hidden=16,
            quiet=True)
    assert np.isfinite(m["test_nll"]) and 0 <= m["on_manifold"] <= 1
    for f in ("checkpoint", "metrics.json", "samples.png", "density.png", "history.csv"):
        assert (tmp_path / f).exists(), f


def test_recipe_early_stopping_keeps_the_best_weights_and_resumes_exactly(tmp_path, device):
    from tinygen.train.recipes.flows import RealNVPRecipe
    from tinygen.train.trainer import Trainer, fit
    kw = dict(n_couplings=2, hidden=16, lr=3e-3, batch_size=256, quiet=True)
    m = fit("realnvp", "digits", str(tmp_path / "a"), epochs=3, **kw)
    assert np.isfinite(m["test_bpd"]) and 1.0 < m["test_bpd"] < math.log2(17) + 0.5
    assert 1 <= m["best_epoch"] <= 3 and m["class_coverage"] >= 0
    # test_nll (nats, dequantized pixels in [0, 1]) and test_bpd describe the same likelihood
    np.testing.assert_allclose(m["test_nll"], m["test_bpd"] * 64 * math.log(2) - 64 * math.log(17), rtol=1e-6)
    # the checkpoint holds the best weights: its validation score is the best one
    tr = Trainer.load(str(tmp_path / "a"), quiet=True)
    rec = tr.recipe
    assert isinstance(rec, RealNVPRecipe)
    with tg.no_grad():
        np.testing.assert_allclose(rec._val_score(tr.model), m["val_bpd"], rtol=1e-5)
    # the validation rows never reach a training batch
    x_tr, _, x_val, _ = tr.dataset.validation_split(0.1, 0)
    assert rec._val_keys and all(r.tobytes() in rec._val_keys for r in x_val)
    if device != "cpu":
        return                    # resuming is bit-exact on the CPU backend (the Trainer's contract)
    # interrupted after 2 of 3 epochs and resumed = 3 epochs straight (early-stopping state and
    # the learning-rate schedule included)
    from tinygen.train.trainer import Callback

    class Stop(Callback):
        def on_epoch_end(self, trainer, epoch, row):
            if epoch == 2:
                raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        fit("realnvp", "digits", str(tmp_path / "b"), epochs=3, callbacks=[Stop()], **kw)
    fit("realnvp", "digits", str(tmp_path / "b"), epochs=3, resume=True, **kw)
    a = Trainer.load(str(tmp_path / "a"), quiet=True).model.state_dict()
    b = Trainer.load(str(tmp_path / "b"), quiet=True).model.state_dict()
    for k in a:
        np.testing.assert_array_equal(a[k].numpy(), b[k].numpy(), err_msg=k)
