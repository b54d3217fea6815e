"""load_digits: values, dtypes, the seeded stratified split, validation splits, lazy imports."""

import subprocess
import sys

import numpy as np
import pytest

from tinygen.data import ImageDataset, load_digits


@pytest.fixture(scope="module")
def digits():
    return load_digits()


def _rows(x):
    return sorted(r.tobytes() for r in x.reshape(len(x), -1))


def test_shapes_dtypes_and_metadata(digits):
    assert isinstance(digits, ImageDataset)
    assert digits.x_train.shape[1:] == digits.x_test.shape[1:] == (8, 8)
    assert len(digits.x_train) + len(digits.x_test) == 1797
    assert digits.x_train.dtype == digits.x_test.dtype == np.float32
    assert digits.y_train.dtype == digits.y_test.dtype == np.int64
    assert (digits.name, digits.image_shape, digits.levels, digits.num_classes) == ("digits", (8, 8), 17, 10)
    assert digits.is_toy is False and digits.data_shape == (8, 8)
    assert "digits" in repr(digits) and "(1438, 8, 8)" in repr(digits)


def test_pixels_are_17_levels_in_unit_interval(digits):
    x = np.concatenate([digits.x_train, digits.x_test])
    assert x.min() == 0.0 and x.max() == 1.0
    scaled = x * 16
    np.testing.assert_array_equal(scaled, np.round(scaled))
    assert len(np.unique(scaled)) == 17
    assert set(np.unique(np.concatenate([digits.y_train, digits.y_test]))) == set(range(10))


def test_split_is_a_partition_of_sklearn_data(digits):
    from sklearn.datasets import load_digits as sk

    original = (sk().images / 16).astype(np.float32)
    assert _rows(np.concatenate([digits.x_train, digits.x_test])) == _rows(original)


def test_split_is_stratified(digits):
    train_counts = np.bincount(digits.y_train, minlength=10)
    test_counts = np.bincount(digits.y_test, minlength=10)
    expected = 0.2 * (train_counts + test_counts)
    assert np.all(np.abs(test_counts - expected) <= 1)


def test_same_seed_same_split_other_seed_other_split(digits):
    again = load_digits(seed=0)
    np.testing.assert_array_equal(again.x_test, digits.x_test)
    np.testing.assert_array_equal(again.y_train, digits.y_train)
    other = load_digits(seed=1)
    assert not np.array_equal(other.y_test, digits.y_test)


def test_split_is_frozen_across_versions(digits):
    # Golden values: if these change, every published digits result changes split.
    assert digits.y_test[:20].tolist() == [2, 3, 6, 9, 5, 7, 2, 8, 5, 9, 5, 2, 8, 6, 1, 6, 3, 9, 4, 0]
    assert float(digits.x_test.sum()) == 7042.0


def test_test_size_controls_split():
    d = load_digits(test_size=0.5)
    assert abs(len(d.x_test) - 1797 / 2) <= 10


def test_unpacking(digits):
    (x_train, y_train), (x_test, y_test) = digits
    assert x_train is digits.x_train and y_test is digits.y_test


def test_validation_split_is_disjoint_stratified_and_reproducible(digits):
    x_tr, y_tr, x_val, y_val = digits.validation_split(0.1, seed=3)
    assert len(x_tr) + len(x_val) == len(digits.x_train) and len(y_tr) == len(x_tr)
    assert _rows(np.concatenate([x_tr, x_val])) == _rows(digits.x_train)
    counts = np.bincount(digits.y_train, minlength=10)
    assert np.all(np.abs(np.bincount(y_val, minlength=10) - 0.1 * counts) <= 1)
    again = digits.validation_split(0.1, seed=3)
    np.testing.assert_array_equal(again[2], x_val)
    assert not np.array_equal(digits.validation_split(0.1, seed=4)[3], y_val)


@pytest.mark.parametrize("bad", [0, 1, 1.5, -0.1])
def test_bad_fractions_raise(digits, bad):
    with pytest.raises(ValueError, match="between 0 and 1"):
        load_digits(test_size=bad)
    with pytest.raises(ValueError, match="between 0 and 1"):
        digits.validation_split(bad)


@pytest.mark.parametrize("bad, error", [(-1, ValueError), (1.5, TypeError), ("0", TypeError)])
def test_bad_seed_raises(bad, error):
    with pytest.raises(error, match="seed"):
        load_digits(seed=bad)


def test_importing_tinygen_data_is_cheap():
    code = (
        "import sys, tinygen.data\n"
        "heavy = [m for m in ('sklearn', 'urllib.request', 'scipy') if m in sys.modules]\n"
        "assert not heavy, heavy\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True)
