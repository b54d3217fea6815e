"""load_mnist / load_fashion_mnist from local IDX folders (no network)."""

import os

import numpy as np
import pytest

from tinygen.data import ImageDataset, load_fashion_mnist, load_mnist
from tinygen.data.idx import write_idx


@pytest.mark.parametrize("gz", [True, False, ("train_images", "test_labels")])
def test_loads_gzipped_plain_and_mixed(tmp_path, make_mnist_folder, gz):
    arrays = make_mnist_folder(tmp_path, gz=gz)
    ds = load_mnist(tmp_path)
    assert isinstance(ds, ImageDataset)
    assert (ds.name, ds.image_shape, ds.levels, ds.num_classes) == ("mnist", (28, 28), 256, 10)
    assert ds.x_train.shape == (6, 28, 28) and ds.x_test.shape == (4, 28, 28)
    assert ds.x_train.dtype == np.float32 and ds.y_train.dtype == np.int64
    np.testing.assert_allclose(ds.x_train * 255, arrays["train_images"], atol=1e-4)
    np.testing.assert_array_equal(ds.y_test, arrays["test_labels"])
    assert ds.x_train[0, 0, 0] == 0.0 and ds.x_train[0, 0, 1] == 1.0
    (x_tr, y_tr), (x_te, y_te) = ds
    assert x_te is ds.x_test


def test_fashion_mnist_name_and_classes(tmp_path, make_mnist_folder):
    make_mnist_folder(tmp_path)
    ds = load_fashion_mnist(str(tmp_path))
    assert ds.name == "fashion-mnist" and ds.class_names[9] == "Ankle boot" and ds.levels == 256


def test_accepts_dotted_redistribution_names(tmp_path, make_mnist_folder):
    make_mnist_folder(tmp_path, gz=False)
    for stem in ("train-images-idx3-ubyte", "t10k-labels-idx1-ubyte"):
        os.rename(tmp_path / stem, tmp_path / stem.replace("-idx", ".idx"))
    assert load_mnist(tmp_path).x_train.shape == (6, 28, 28)


def test_missing_files_without_download(tmp_path, make_mnist_folder):
    make_mnist_folder(tmp_path, skip=("train_labels", "test_images"))
    with pytest.raises(FileNotFoundError) as info:
        load_mnist(tmp_path)
    message = str(info.value)
    assert "train-labels-idx1-ubyte" in message and "t10k-images-idx3-ubyte" in message
    assert "train-images" not in message  # only the missing ones are listed
    assert "download=True" in message and str(tmp_path) in message


def test_path_that_is_a_file(tmp_path):
    f = tmp_path / "mnist.npz"
    f.write_bytes(b"x")
    with pytest.raises(NotADirectoryError, match="folder"):
        load_mnist(f)


def test_images_with_wrong_shape(tmp_path, make_mnist_folder):
    make_mnist_folder(tmp_path, gz=False)
    bad = tmp_path / "train-images-idx3-ubyte"
    write_idx(bad, np.zeros((6, 27, 28), dtype=np.uint8))
    with pytest.raises(ValueError, match=r"\(N, 28, 28\)") as info:
        load_mnist(tmp_path)
    assert str(bad) in str(info.value)


def test_labels_and_images_swapped(tmp_path, make_mnist_folder):
    make_mnist_folder(tmp_path, gz=False)
    write_idx(tmp_path / "t10k-labels-idx1-ubyte", np.zeros((4, 28, 28), dtype=np.uint8))
    with pytest.raises(ValueError, match="images file under a labels name"):
        load_mnist(tmp_path)


def test_count_mismatch_names_both_files(tmp_path, make_mnist_folder):
    make_mnist_folder(tmp_path, gz=False)
    write_idx(tmp_path / "train-labels-idx1-ubyte", np.zeros(5, dtype=np.uint8))
    with pytest.raises(ValueError, match="6 images but .* 5 labels") as info:
        load_mnist(tmp_path)
    assert "train-images-idx3-ubyte" in str(info.value) and "train-labels-idx1-ubyte" in str(info.value)


def test_label_out_of_range(tmp_path, make_mnist_folder):
    make_mnist_folder(tmp_path, gz=False)
    write_idx(tmp_path / "t10k-labels-idx1-ubyte", np.array([0, 1, 2, 10], dtype=np.uint8))
    with pytest.raises(ValueError, match="label 10"):
        load_mnist(tmp_path)


def test_non_uint8_file(tmp_path, make_mnist_folder):
    make_mnist_folder(tmp_path, gz=False)
    write_idx(tmp_path / "t10k-images-idx3-ubyte", np.zeros((4, 28, 28), dtype=np.float32))
    with pytest.raises(ValueError, match="float32"):
        load_mnist(tmp_path)


def test_truncated_file_is_reported(tmp_path, make_mnist_folder):
    make_mnist_folder(tmp_path, gz=False)
    path = tmp_path / "train-images-idx3-ubyte"
    path.write_bytes(path.read_bytes()[:-100])
    with pytest.raises(ValueError, match="truncated") as info:
        load_mnist(tmp_path)
    assert str(path) in str(info.value)
