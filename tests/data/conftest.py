"""Fixtures for the data tests: fake MNIST folders and a local HTTP mirror on 127.0.0.1."""

import functools
import http.server
import os
import socket
import threading

import numpy as np
import pytest

from tinygen.data.idx import write_idx

STEMS = {
    "train_images": "train-images-idx3-ubyte",
    "train_labels": "train-labels-idx1-ubyte",
    "test_images": "t10k-images-idx3-ubyte",
    "test_labels": "t10k-labels-idx1-ubyte",
}


def fake_mnist_arrays(n_train=6, n_test=4, seed=0):
    """Small uint8 arrays shaped like MNIST's four files (pixel 0 and 255 always present)."""
    rng = np.random.default_rng(seed)
    arrays = {
        "train_images": rng.integers(0, 256, size=(n_train, 28, 28), dtype=np.uint8),
        "train_labels": rng.integers(0, 10, size=n_train, dtype=np.uint8),
        "test_images": rng.integers(0, 256, size=(n_test, 28, 28), dtype=np.uint8),
        "test_labels": rng.integers(0, 10, size=n_test, dtype=np.uint8),
    }
    for key in ("train_images", "test_images"):
        arrays[key][0, 0, 0], arrays[key][0, 0, 1] = 0, 255
    return arrays


@pytest.fixture
def make_mnist_folder():
    """Factory: write fake MNIST IDX files into a folder; returns the arrays written."""

    def make(folder, gz=True, n_train=6, n_test=4, seed=0, skip=()):
        os.makedirs(folder, exist_ok=True)
        arrays = fake_mnist_arrays(n_train, n_test, seed)
        for key, stem in STEMS.items():
            if key in skip:
                continue
            use_gz = gz if isinstance(gz, bool) else key in gz
            write_idx(os.path.join(folder, stem + (".gz" if use_gz else "")), arrays[key])
        return arrays

    return make


class _QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, *args):  # keep test output clean
        pass


@pytest.fixture
def http_mirror(tmp_path):
    """Serve ``tmp_path / "served"`` over HTTP on 127.0.0.1 (ephemeral port); yields (folder, base_url)."""
    served = tmp_path / "served"
    served.mkdir()
    handler = functools.partial(_QuietHandler, directory=str(served))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    try:
        yield served, f"http://127.0.0.1:{server.server_address[1]}/"
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)


@pytest.fixture
def closed_port_url():
    """A URL on 127.0.0.1 whose port nothing listens on (connections are refused)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    return f"http://127.0.0.1:{port}/"


@pytest.fixture
def silent_server_url():
    """A URL on 127.0.0.1 that accepts connections (kernel backlog) but never answers."""
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    s.listen(4)
    try:
        yield f"http://127.0.0.1:{s.getsockname()[1]}/"
    finally:
        s.close()
