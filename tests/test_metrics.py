"""Tests for tinygen.metrics: toy-data mode coverage and Fréchet distances."""

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tinygen.metrics import (PCAFeatures, default_min_count, expected_high_quality,
                             fraction_on_manifold, frechet_distance, frechet_distance_from_stats,
                             frechet_pca, kl_histogram, mode_coverage)

GRID25 = np.array([(a, b) for a in (-4, -2, 0, 2, 4) for b in (-4, -2, 0, 2, 4)], dtype=float)
RING8 = 2.0 * np.stack([np.cos(np.arange(8) * np.pi / 4), np.sin(np.arange(8) * np.pi / 4)], 1)


def mixture(centers, sigma, n, seed=0, modes=None):
    rng = np.random.default_rng(seed)
    modes = np.arange(len(centers)) if modes is None else np.asarray(modes)
    pick = modes[rng.integers(len(modes), size=n)]
    return centers[pick] + sigma * rng.standard_normal((n, centers.shape[1]))


# --------------------------------------------------------------------------------- toy metrics

def test_exact_mixture_covers_every_mode_grid25():
    out = mode_coverage(mixture(GRID25, 0.05, 2500), GRID25, 0.05)
    assert out["modes"] == 25
    assert out["min_count"] == 20            # PacGAN: 20 of 2,500 samples on grid25
    assert sum(out["per_mode"]) == pytest.approx(out["high_quality"] * 2500)
    # 2-D: P(|x - mu| <= 3 sigma) = 1 - exp(-9/2) = 98.89 %; binomial sd at n=2500 is 0.2 %.
    assert out["high_quality"] == pytest.approx(1 - math.exp(-4.5), abs=0.008)


def test_exact_mixture_ring8():
    out = mode_coverage(mixture(RING8, 0.02, 5000, seed=1), RING8, 0.02)
    assert out["modes"] == 8
    assert out["high_quality"] == pytest.approx(expected_high_quality(3.0, 2), abs=0.006)


def test_one_dimensional_three_sigma_rule():
    centers = np.array([[-3.0], [0.0], [3.0]])
    out = mode_coverage(mixture(centers, 0.1, 40000, seed=2), centers, 0.1)
    assert out["modes"] == 3
    assert out["high_quality"] == pytest.approx(0.9973, abs=0.0015)


def test_samples_from_three_modes_count_three():
    samples = mixture(GRID25, 0.05, 2500, seed=3, modes=[0, 7, 24])
    out = mode_coverage(samples, GRID25, 0.05)
    assert out["modes"] == 3
    assert [i for i, c in enumerate(out["per_mode"]) if c > 0] == [0, 7, 24]
    ring = mode_coverage(mixture(RING8, 0.02, 1000, seed=4, modes=[1, 2, 5]), RING8, 0.02)
    assert ring["modes"] == 3


def test_min_count_threshold_and_veegan_rule():
    samples = mixture(GRID25, 0.05, 2500, seed=5, modes=[3])
    samples[:5] = GRID25[10]                 # 5 stray samples on another mode
    assert mode_coverage(samples, GRID25, 0.05)["modes"] == 1
    assert mode_coverage(samples, GRID25, 0.05, min_count=1)["modes"] == 2
    assert default_min_count(2500, 25) == 20
    assert default_min_count(2500, 8) == 63
    assert default_min_count(10, 25) == 1


def test_off_mode_and_non_finite_samples_are_low_quality():
    samples = np.full((100, 2), 1.0)         # halfway between grid points: > 3 sigma from all
    samples[:10] = np.nan
    out = mode_coverage(samples, GRID25, 0.05)
    assert out["modes"] == 0 and out["high_quality"] == 0.0


def test_wider_k_admits_more():
    samples = mixture(GRID25, 0.08, 2000, seed=6)      # samples blurrier than the data
    narrow = mode_coverage(samples, GRID25, 0.05, k=3)["high_quality"]
    wide = mode_coverage(samples, GRID25, 0.05, k=5)["high_quality"]
    assert narrow < wide


def test_mode_coverage_shapes_are_checked():
    with pytest.raises(ValueError, match=r"\(10, 3\)"):
        mode_coverage(np.zeros((10, 3)), GRID25, 0.05)
    with pytest.raises(ValueError, match=r"\(10,\)"):
        mode_coverage(np.zeros(10), GRID25, 0.05)
    with pytest.raises(ValueError, match="sigma"):
        mode_coverage(np.zeros((10, 2)), GRID25, 0.0)


def test_expected_high_quality_closed_forms():
    for k in (1.0, 2.0, 3.0):
        assert expected_high_quality(k, 1) == pytest.approx(math.erf(k / math.sqrt(2)), rel=1e-12)
        assert expected_high_quality(k, 2) == pytest.approx(1 - math.exp(-k * k / 2), rel=1e-12)


def moons(n, seed):
    sklearn = pytest.importorskip("sklearn.datasets")
    return sklearn.make_moons(n, noise=0.05, random_state=seed)[0]


def test_fraction_on_manifold():
    ref = moons(10000, 0)
    assert fraction_on_manifold(moons(2000, 1), ref, 0.1) > 0.97
    assert fraction_on_manifold(moons(2000, 1) + 5.0, ref, 0.1) == 0.0
    uniform = np.random.default_rng(0).uniform(-1.5, 2.5, size=(2000, 2))
    assert 0.05 < fraction_on_manifold(uniform, ref, 0.1) < 0.6
    with pytest.raises(ValueError, match=r"\(5, 3\)"):
        fraction_on_manifold(np.zeros((5, 3)), ref, 0.1)


def test_kl_histogram_orders_samplers():
    ref = moons(20000, 0)
    good = kl_histogram(moons(20000, 1), ref, bins=30)
    half = moons(40000, 2)
    half = half[half[:, 1] > 0.25]           # drop the lower moon: mode dropping
    assert 0.0 <= good < 0.1
    assert kl_histogram(half, ref, bins=30) > 5 * good


# ------------------------------------------------------------------------------------ Fréchet

def gaussian(n, d, seed, shift=0.0):
    rng = np.random.default_rng(seed)
    a = rng.standard_normal((d, d)) / math.sqrt(d)
    return rng.standard_normal((n, d)) @ a.T + shift


def test_identical_sets_score_zero():
    x = gaussian(500, 10, 0)
    assert frechet_distance(x, x) == pytest.approx(0.0, abs=1e-9)


def test_shift_gives_squared_mean_difference():
    x = gaussian(400, 6, 1)
    delta = np.array([0.5, -1.0, 2.0, 0.0, 0.25, 3.0])
    assert frechet_distance(x, x + delta) == pytest.approx(float(delta @ delta), rel=1e-9)


def test_diagonal_closed_form():
    rng = np.random.default_rng(2)
    va, vb = rng.uniform(0.1, 3, 7), rng.uniform(0.1, 3, 7)
    ma, mb = rng.standard_normal(7), rng.standard_normal(7)
    expected = np.sum((ma - mb) ** 2) + np.sum((np.sqrt(va) - np.sqrt(vb)) ** 2)
    got = frechet_distance_from_stats(ma, np.diag(va), mb, np.diag(vb))
    assert got == pytest.approx(expected, rel=1e-10)


def test_general_covariances_match_eigenvalue_oracle():
    # tr((Sa Sb)^1/2) = sum sqrt(eig(Sa Sb)): Sa Sb is similar to an SPD matrix.
    rng = np.random.default_rng(3)
    for _ in range(5):
        a = rng.standard_normal((5, 5)); b = rng.standard_normal((5, 5))
        sa, sb = a @ a.T + 0.1 * np.eye(5), b @ b.T + 0.1 * np.eye(5)
        ma, mb = rng.standard_normal(5), rng.standard_normal(5)
        cross = np.sum(np.sqrt(np.linalg.eigvals(sa @ sb).real))
        expected = np.sum((ma - mb) ** 2) + np.trace(sa) + np.trace(sb) - 2 * cross
        assert frechet_distance_from_stats(ma, sa, mb, sb) == pytest.approx(expected, rel=1e-8)


def test_feature_sets_use_unbiased_covariance():
    a, b = gaussian(50, 3, 4), gaussian(80, 3, 5, shift=1.0)
    expected = frechet_distance_from_stats(a.mean(0), np.cov(a.T, ddof=1),
                                           b.mean(0), np.cov(b.T, ddof=1))
    assert frechet_distance(a, b) == pytest.approx(expected, rel=1e-12)


@settings(max_examples=30, deadline=None)
@given(seed=st.integers(0, 10_000), d=st.integers(1, 8), n=st.integers(2, 40),
       scale=st.floats(1e-3, 1e3))
def test_symmetric_non_negative_and_scales_quadratically(seed, d, n, scale):
    a = gaussian(n, d, seed)
    b = gaussian(n + 3, d, seed + 1, shift=0.3)
    ab, ba = frechet_distance(a, b), frechet_distance(b, a)
    assert ab >= 0.0 and ba >= 0.0
    assert ab == pytest.approx(ba, rel=1e-6, abs=1e-9)
    assert frechet_distance(scale * a, scale * b) == pytest.approx(scale ** 2 * ab, rel=1e-6,
                                                                   abs=1e-9 * scale ** 2)


def test_rank_deficient_covariances_stay_finite():
    a = gaussian(5, 30, 6)                   # 5 samples in 30-D: singular covariances
    b = gaussian(5, 30, 7)
    d = frechet_distance(a, b)
    assert np.isfinite(d) and d > 0


def test_frechet_input_checks():
    with pytest.raises(ValueError, match=r"\(10, 3\).*\(10, 4\)"):
        frechet_distance(np.zeros((10, 3)), np.zeros((10, 4)))
    with pytest.raises(ValueError, match=r"\(1, 3\)"):
        frechet_distance(np.zeros((1, 3)), np.zeros((10, 3)))
    x = gaussian(20, 3, 8)
    y = x.copy(); y[0, 0] = np.nan
    assert math.isnan(frechet_distance(x, y))


def test_accepts_tensor_like_objects():
    class Fake:
        def __init__(self, a):
            self.a = a

        def numpy(self):
            return self.a

    x = gaussian(30, 4, 9)
    assert frechet_distance(Fake(x), Fake(x + 1.0)) == pytest.approx(4.0, rel=1e-9)


def test_pca_features():
    x = gaussian(300, 12, 10) + 3.0
    pca = PCAFeatures(k=5).fit(x)
    comps = pca.components_
    assert comps.shape == (5, 12)
    np.testing.assert_allclose(comps @ comps.T, np.eye(5), atol=1e-12)
    f = pca.transform(x)
    np.testing.assert_allclose(f.mean(0), 0.0, atol=1e-10)
    np.testing.assert_allclose(np.cov(f.T), np.diag(pca.explained_variance_), atol=1e-10)
    assert np.all(np.diff(pca.explained_variance_) <= 0)
    # images and flat vectors are the same thing to the PCA
    np.testing.assert_allclose(pca.transform(x.reshape(300, 3, 4)), f)
    assert PCAFeatures(k=50).fit(x).components_.shape == (12, 12)
    with pytest.raises(RuntimeError):
        PCAFeatures(3).transform(x)
    with pytest.raises(ValueError, match=r"\(4, 7\)"):
        pca.transform(np.zeros((4, 7)))


def test_digits_frechet_floor_and_sensitivity():
    datasets = pytest.importorskip("sklearn.datasets")
    x = datasets.load_digits().data / 16.0
    order = np.random.default_rng(0).permutation(len(x))
    cut = int(0.8 * len(x))
    train, test = x[order[:cut]], x[order[cut:]]
    floor = frechet_pca(train, test, k=20)
    assert 0.03 < floor < 0.1                # ≈ 0.056 for this split
    pca = PCAFeatures(20).fit(train)
    rng = np.random.default_rng(1)
    blurred = 0.5 * test + 0.5 * train.mean(0)             # washed-out samples
    noise = rng.uniform(0, 1, size=test.shape)             # no digits at all
    collapsed = np.repeat(test[:3], len(test) // 3, axis=0)  # three distinct samples
    for bad in (blurred, noise, collapsed):
        assert frechet_pca(train, bad, pca=pca) > 10 * floor
    assert frechet_pca(train, test, pca=pca) == pytest.approx(floor, rel=1e-9)
