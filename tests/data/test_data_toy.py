"""toy_2d / toy_modes: the four 2-D distributions, their parameters and reproducibility."""

import numpy as np
import pytest

from tinygen.data import TOY_DATASETS, toy_2d, toy_modes


def test_names():
    assert TOY_DATASETS == ["ring8", "grid25", "moons", "swissroll"]


@pytest.mark.parametrize("name", TOY_DATASETS)
def test_shape_dtype_reproducible(name):
    x = toy_2d(name, 500, seed=7)
    assert x.shape == (500, 2) and x.dtype == np.float32 and np.isfinite(x).all()
    np.testing.assert_array_equal(x, toy_2d(name, 500, seed=7))
    assert not np.array_equal(x, toy_2d(name, 500, seed=8))
    assert toy_2d(name, 1).shape == (1, 2)


def _nearest(x, centers):
    d = np.linalg.norm(x[:, None, :] - centers[None], axis=-1)
    return d.argmin(1), d.min(1)


@pytest.mark.parametrize("name, k, sigma", [("ring8", 8, 0.02), ("grid25", 25, 0.05)])
def test_mixtures_match_their_modes(name, k, sigma):
    centers, s = toy_modes(name)
    assert centers.shape == (k, 2) and s == sigma
    x = toy_2d(name, 20000, seed=0).astype(np.float64)
    which, dist = _nearest(x, centers)
    assert dist.max() < 6 * sigma  # every point sits in some mode
    counts = np.bincount(which, minlength=k)
    assert counts.min() > 0.7 * len(x) / k and counts.max() < 1.3 * len(x) / k  # equal weights
    offsets = x - centers[which]
    np.testing.assert_allclose(offsets.std(0), sigma, rtol=0.05)


def test_ring8_centres_on_radius_2():
    centers, _ = toy_modes("ring8")
    np.testing.assert_allclose(np.linalg.norm(centers, axis=1), 2.0)
    angles = np.sort(np.mod(np.arctan2(centers[:, 1], centers[:, 0]), 2 * np.pi))
    np.testing.assert_allclose(np.diff(angles), np.pi / 4)


def test_grid25_centres():
    centers, _ = toy_modes("grid25")
    assert {tuple(c) for c in centers} == {(a, b) for a in (-4, -2, 0, 2, 4) for b in (-4, -2, 0, 2, 4)}


def test_moons_is_sklearn_in_its_own_coordinates():
    from sklearn.datasets import make_moons

    expected, _ = make_moons(n_samples=300, noise=0.05, random_state=3)
    np.testing.assert_allclose(toy_2d("moons", 300, seed=3), expected, rtol=1e-6, atol=1e-6)


def test_swissroll_is_sklearn_x_and_z_over_5():
    from sklearn.datasets import make_swiss_roll

    xyz, _ = make_swiss_roll(n_samples=300, noise=0.5, random_state=3)
    np.testing.assert_allclose(toy_2d("swissroll", 300, seed=3), xyz[:, [0, 2]] / 5, rtol=1e-6, atol=1e-6)


@pytest.mark.parametrize("name", ["moons", "swissroll"])
def test_no_modes_for_continuous_toys(name):
    assert toy_modes(name) is None


def test_unknown_name_lists_valid_ones():
    for fn in (lambda: toy_2d("spiral", 10), lambda: toy_modes("spiral")):
        with pytest.raises(ValueError, match="'spiral'.*ring8, grid25, moons, swissroll"):
            fn()


@pytest.mark.parametrize("n", [0, -3, 2.5, True])
def test_bad_n(n):
    with pytest.raises(ValueError, match="positive int"):
        toy_2d("ring8", n)
