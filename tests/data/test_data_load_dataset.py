"""load_dataset: the command line's entry point to every data set."""

import numpy as np
import pytest

from tinygen.data import DATASETS, ImageDataset, ToyDataset, load_dataset, toy_2d, toy_modes


def test_names():
    assert DATASETS == ["digits", "mnist", "fashion-mnist", "ring8", "grid25", "moons", "swissroll"]


def test_digits():
    ds = load_dataset("digits", seed=2)
    assert isinstance(ds, ImageDataset) and ds.name == "digits" and not ds.is_toy
    assert ds.x_test.shape[1:] == (8, 8)


@pytest.mark.parametrize("name", ["ring8", "moons"])
def test_toys(name):
    ds = load_dataset(name, seed=4)
    assert isinstance(ds, ToyDataset) and ds.is_toy and ds.name == name
    assert ds.x_train.shape == (20000, 2) and ds.x_test.shape == (5000, 2)
    np.testing.assert_array_equal(ds.x_test, toy_2d(name, 5000, seed=5))
    np.testing.assert_array_equal(ds.x_train[:100], toy_2d(name, 20000, seed=4)[:100])
    assert ds.y_train is None and ds.num_classes is None and ds.data_shape == (2,)
    modes = toy_modes(name)
    if modes is None:
        assert ds.centers is None and ds.sigma is None
    else:
        np.testing.assert_array_equal(ds.centers, modes[0])
        assert ds.sigma == modes[1]


def test_toy_validation_split_and_unpacking():
    ds = load_dataset("grid25", n_train=100, n_test=10)
    x_tr, y_tr, x_val, y_val = ds.validation_split(0.2, seed=1)
    assert x_tr.shape == (80, 2) and x_val.shape == (20, 2) and y_tr is None and y_val is None
    merged = np.concatenate([x_tr, x_val])
    assert sorted(map(tuple, merged.tolist())) == sorted(map(tuple, ds.x_train.tolist()))
    (x_train, y_train), (x_test, _) = ds
    assert x_test.shape == (10, 2) and y_train is None


def test_mnist_needs_a_folder(monkeypatch):
    monkeypatch.delenv("TINYGEN_DATA_DIR", raising=False)
    with pytest.raises(ValueError, match="data_dir=.*--data-dir.*TINYGEN_DATA_DIR"):
        load_dataset("mnist")


@pytest.mark.parametrize("name, expected", [("mnist", "mnist"), ("fashion_mnist", "fashion-mnist"),
                                            ("fashion-mnist", "fashion-mnist")])
def test_file_datasets_from_folder_or_env(tmp_path, make_mnist_folder, monkeypatch, name, expected):
    make_mnist_folder(tmp_path)
    assert load_dataset(name, data_dir=tmp_path).name == expected
    monkeypatch.setenv("TINYGEN_DATA_DIR", str(tmp_path))
    assert load_dataset(name).x_train.shape == (6, 28, 28)


def test_unknown_name_lists_valid_ones():
    with pytest.raises(ValueError, match="'cifar10'.*digits, mnist, fashion-mnist, ring8"):
        load_dataset("cifar10")
