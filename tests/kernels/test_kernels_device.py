"""On the stand-in CUDA device the dispatcher runs the references with its namespace."""
import numpy as np
import pytest

import tinygen.kernels as K
from tinygen import backend

fake_cuda = pytest.importorskip("tinygen.testing.fake_cuda")


@pytest.fixture
def xp(monkeypatch):
    """Make the fake CUDA module back device arrays for this test only."""
    monkeypatch.setattr(backend, "_cuda_module", fake_cuda)
    return fake_cuda


def _dev(xp, a):
    return xp.asarray(a)


def _host(a):
    return a.get() if hasattr(a, "get") else np.asarray(a)


def test_select_impl_on_fake_device(xp):
    d = _dev(xp, np.zeros(3, np.float32))
    with K.use_fused(True):
        assert K.select_impl(d) == ("reference", xp)


def test_conv_on_device(xp):
    x = np.random.default_rng(0).standard_normal((2, 3, 6, 5)).astype(np.float32)
    cols = K.im2col(_dev(xp, x), 3, 2, (2, 1), (1, 0))
    assert isinstance(cols, xp.ndarray)
    np.testing.assert_array_equal(_host(cols), K.im2col(x, 3, 2, (2, 1), (1, 0)))
    dx = K.col2im(cols, x.shape, 3, 2, (2, 1), (1, 0))
    assert isinstance(dx, xp.ndarray)
    np.testing.assert_array_equal(_host(dx), K.col2im(_host(cols), x.shape, 3, 2, (2, 1), (1, 0)))


@pytest.mark.parametrize("name", ["relu", "leaky_relu", "elu", "gelu", "gelu_tanh", "sigmoid", "tanh",
                                  "softplus", "silu"])
def test_activations_on_device(xp, name):
    rng = np.random.default_rng(1)
    x = (rng.standard_normal(257) * 4).astype(np.float32)
    g = rng.standard_normal(257).astype(np.float32)
    y = K.act_forward(name, _dev(xp, x))
    dx = K.act_backward(name, _dev(xp, x), y, _dev(xp, g))
    assert isinstance(y, xp.ndarray) and isinstance(dx, xp.ndarray)
    with K.use_fused(False):
        np.testing.assert_array_equal(_host(y), K.act_forward(name, x))
        np.testing.assert_array_equal(_host(dx), K.act_backward(name, x, _host(y), g))


@pytest.mark.parametrize("kind", ["sgd", "adam", "rmsprop"])
def test_optimizers_on_device(xp, kind):
    rng = np.random.default_rng(2)
    p = rng.standard_normal(33)
    g = rng.standard_normal(33)
    host = [p.copy(), np.zeros(33), np.zeros(33), np.zeros(33)]
    dev = [_dev(xp, a) for a in host]
    for states, gg in ((host, g), (dev, _dev(xp, g))):
        with K.use_fused(False if states is host else True):
            for t in (1, 2):
                if kind == "sgd":
                    K.sgd_update(states[0], gg, states[1], 0.1, 0.9, first_step=t == 1)
                elif kind == "adam":
                    K.adam_update(states[0], gg, states[1], states[2], 0.01, step=t, weight_decay=0.1)
                else:
                    K.rmsprop_update(states[0], gg, states[1], 0.01, momentum=0.9, centered=True,
                                     buf=states[2], g_avg=states[3])
    for a, b in zip(dev, host):
        np.testing.assert_array_equal(_host(a), b)


@pytest.mark.parametrize("loss", ["bce", "mse"])
def test_losses_on_device(xp, loss):
    fwd, bwd = {"bce": (K.bce_logits_forward, K.bce_logits_backward),
                "mse": (K.mse_forward, K.mse_backward)}[loss]
    rng = np.random.default_rng(3)
    x = rng.standard_normal(100).astype(np.float32)
    z = rng.uniform(size=100).astype(np.float32)
    with K.use_fused(False):
        for reduction in ("mean", "sum", "none"):
            r = fwd(_dev(xp, x), _dev(xp, z), reduction)
            assert isinstance(r, xp.ndarray)
            np.testing.assert_array_equal(_host(r), fwd(x, z, reduction))
        total = fwd(_dev(xp, x), _dev(xp, z), "mean")
        np.testing.assert_array_equal(_host(bwd(_dev(xp, x), _dev(xp, z), total, 0.01)),
                                      bwd(x, z, _host(total), 0.01))
        np.testing.assert_array_equal(_host(bwd(_dev(xp, x), _dev(xp, z), 1.0, 0.5)),
                                      bwd(x, z, 1.0, 0.5))
