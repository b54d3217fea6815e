"""Downloading MNIST-style files, against a local HTTP server on 127.0.0.1 only."""

import hashlib
import os

import numpy as np
import pytest

from tinygen.data import DownloadError, load_fashion_mnist, load_mnist
from tinygen.data.download import fetch_file, parse_checksum

NAMES = ["train-images-idx3-ubyte.gz", "train-labels-idx1-ubyte.gz",
         "t10k-images-idx3-ubyte.gz", "t10k-labels-idx1-ubyte.gz"]


def _digests(folder, algo="md5"):
    return {n: hashlib.new(algo, (folder / n).read_bytes()).hexdigest() for n in NAMES}


def _leftovers(folder):
    return [n for n in os.listdir(folder) if n.endswith(".part")]


@pytest.fixture
def mirror(http_mirror, make_mnist_folder):
    served, url = http_mirror
    arrays = make_mnist_folder(served, gz=True)
    return served, url, arrays


def test_download_falls_through_to_working_mirror(tmp_path, mirror, closed_port_url):
    served, url, arrays = mirror
    dest = tmp_path / "dest"
    checksums = _digests(served)
    checksums[NAMES[0]] = "sha256:" + _digests(served, "sha256")[NAMES[0]]
    ds = load_mnist(dest, download=True, mirrors=[closed_port_url, url], checksums=checksums, timeout=5)
    np.testing.assert_array_equal(ds.y_train, arrays["train_labels"])
    assert sorted(os.listdir(dest)) == sorted(NAMES)
    for n in NAMES:
        assert (dest / n).read_bytes() == (served / n).read_bytes()


def test_only_missing_files_are_downloaded(tmp_path, mirror, make_mnist_folder):
    served, url, _ = mirror
    dest = tmp_path / "dest"
    make_mnist_folder(dest, gz=False, skip=("test_labels",))
    load_mnist(dest, download=True, mirrors=[url], checksums=_digests(served))
    assert sorted(os.listdir(dest)) == sorted(
        ["train-images-idx3-ubyte", "train-labels-idx1-ubyte", "t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte.gz"]
    )


def test_present_files_need_no_network(tmp_path, make_mnist_folder, closed_port_url):
    make_mnist_folder(tmp_path)
    assert load_mnist(tmp_path, download=True, mirrors=[closed_port_url]).x_test.shape == (4, 28, 28)


def test_checksum_mismatch_leaves_no_file(tmp_path, mirror):
    served, url, _ = mirror
    dest = tmp_path / "dest"
    checksums = _digests(served)
    checksums["t10k-images-idx3-ubyte.gz"] = "0" * 32
    with pytest.raises(DownloadError) as info:
        load_mnist(dest, download=True, mirrors=[url], checksums=checksums)
    message = str(info.value)
    assert "checksum mismatch" in message and url + "t10k-images-idx3-ubyte.gz" in message
    assert not (dest / "t10k-images-idx3-ubyte.gz").exists()
    assert _leftovers(dest) == []


def test_published_checksums_are_checked_by_default(tmp_path, mirror):
    served, url, _ = mirror  # fake files cannot match the real MNIST's MD5
    with pytest.raises(DownloadError, match="expected md5 f68b3c2dcbeaaa9fbdd348bbdeb94873"):
        load_mnist(tmp_path / "dest", download=True, mirrors=[url])
    with pytest.raises(DownloadError, match="expected md5 8d4fb7e6c68d591d4c3dfef9ec88bf0d"):
        load_fashion_mnist(tmp_path / "dest2", download=True, mirrors=[url])
    assert os.listdir(tmp_path / "dest") == [] and os.listdir(tmp_path / "dest2") == []


def test_structure_is_checked_when_no_checksum(tmp_path, mirror):
    served, url, _ = mirror
    (served / "train-labels-idx1-ubyte.gz").write_bytes(b"<html>rate limited</html>")
    checksums = dict.fromkeys(NAMES)  # None: skip hashes, rely on the IDX check
    with pytest.raises(DownloadError, match="bad IDX magic number"):
        load_mnist(tmp_path / "dest", download=True, mirrors=[url], checksums=checksums)
    assert not (tmp_path / "dest" / "train-labels-idx1-ubyte.gz").exists()
    assert _leftovers(tmp_path / "dest") == []


def test_http_404_is_reported(tmp_path, mirror):
    served, url, _ = mirror
    os.remove(served / "t10k-labels-idx1-ubyte.gz")
    with pytest.raises(DownloadError, match="404"):
        load_mnist(tmp_path / "dest", download=True, mirrors=[url], checksums=dict.fromkeys(NAMES))


def test_offline_error_says_what_and_how(tmp_path, closed_port_url):
    dest = tmp_path / "dest"
    other = closed_port_url + "alt/"
    with pytest.raises(DownloadError) as info:
        load_mnist(dest, download=True, mirrors=[closed_port_url, other], timeout=2)
    message = str(info.value)
    assert "train-images-idx3-ubyte.gz" in message
    assert closed_port_url + "train-images-idx3-ubyte.gz" in message
    assert other + "train-images-idx3-ubyte.gz" in message
    assert "by hand" in message and str(dest) in message and "TINYGEN_MNIST_MIRROR" in message
    assert isinstance(info.value, OSError)
    assert _leftovers(dest) == []


def test_timeout_is_applied(tmp_path, silent_server_url):
    with pytest.raises(DownloadError, match="timed out"):
        fetch_file("x.gz", tmp_path, [silent_server_url], timeout=0.5)
    assert os.listdir(tmp_path) == []


def test_env_var_replaces_default_mirrors(tmp_path, mirror, monkeypatch):
    served, url, arrays = mirror
    monkeypatch.setenv("TINYGEN_MNIST_MIRROR", f"{url}nothing-here/, {url}")
    ds = load_mnist(tmp_path / "dest", download=True, checksums=_digests(served))
    np.testing.assert_array_equal(ds.y_test, arrays["test_labels"])


def test_fetch_file_returns_path_and_verifies(tmp_path, http_mirror):
    served, url = http_mirror
    (served / "blob.bin").write_bytes(b"hello")
    path = fetch_file("blob.bin", tmp_path / "new" / "dir", [url], checksum=hashlib.md5(b"hello").hexdigest())
    assert open(path, "rb").read() == b"hello" and path.endswith(os.path.join("dir", "blob.bin"))


@pytest.mark.parametrize(
    "text, expected",
    [("md5:" + "a" * 32, ("md5", "a" * 32)), ("B" * 64, ("sha256", "b" * 64)), ("c" * 32, ("md5", "c" * 32))],
)
def test_parse_checksum(text, expected):
    assert parse_checksum(text) == expected


@pytest.mark.parametrize("bad", ["md5:abc", "sha1:" + "a" * 40, "z" * 32, ""])
def test_parse_checksum_rejects(bad):
    with pytest.raises(ValueError, match="not understood"):
        parse_checksum(bad)
