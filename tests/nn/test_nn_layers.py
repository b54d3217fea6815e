"""Layers: shapes, PyTorch's parameter names and default initialisations, gradients (float64)."""
from __future__ import annotations

import math

import numpy as np
import pytest

import tinygen as tg
from tinygen import nn


def _uniform_ok(arr, bound):
    """Values in [−bound, bound], and spread over it like a uniform (mean ≈ 0, var ≈ bound²/3)."""
    a = np.asarray(arr, dtype=np.float64).ravel()
    assert np.all(np.abs(a) <= bound * (1 + 1e-6))
    assert a.max() > 0.8 * bound and a.min() < -0.8 * bound
    n = a.size
    assert abs(a.mean()) < 5 * bound / math.sqrt(3 * n)
    assert abs(a.var() - bound ** 2 / 3) < 6 * bound ** 2 * math.sqrt(4 / 45 / n)


# ----------------------------------------------------------------------------- shapes
SHAPE_CASES = [
    (lambda: nn.Linear(6, 5), (4, 6), (4, 5)),
    (lambda: nn.Linear(6, 5, bias=False), (2, 3, 6), (2, 3, 5)),
    (lambda: nn.Conv2d(3, 4, 3, padding=1), (2, 3, 8, 8), (2, 4, 8, 8)),
    (lambda: nn.Conv2d(3, 4, (3, 2), stride=2), (2, 3, 9, 9), (2, 4, 4, 4)),
    (lambda: nn.Conv2d(3, 4, 3, padding="same"), (1, 3, 5, 5), (1, 4, 5, 5)),
    (lambda: nn.ConvTranspose2d(3, 4, 4, stride=2, padding=1), (2, 3, 5, 5), (2, 4, 10, 10)),
    (lambda: nn.ConvTranspose2d(3, 2, 3, stride=2, padding=1, output_padding=1), (1, 3, 4, 4), (1, 2, 8, 8)),
    (lambda: nn.BatchNorm1d(3), (5, 3), (5, 3)),
    (lambda: nn.BatchNorm1d(3), (5, 3, 4), (5, 3, 4)),
    (lambda: nn.BatchNorm2d(3), (2, 3, 4, 4), (2, 3, 4, 4)),
    (lambda: nn.LayerNorm(4), (2, 3, 4), (2, 3, 4)),
    (lambda: nn.LayerNorm((3, 4)), (2, 3, 4), (2, 3, 4)),
    (lambda: nn.Dropout(0.5), (4, 7), (4, 7)),
    (lambda: nn.Flatten(), (2, 3, 4, 5), (2, 60)),
    (lambda: nn.Flatten(0, 1), (2, 3, 4), (6, 4)),
    (lambda: nn.Unflatten(1, (1, 2, 3)), (4, 6), (4, 1, 2, 3)),
    (lambda: nn.Unflatten(-1, (2, -1)), (4, 6), (4, 2, 3)),
    (lambda: nn.MaxPool2d(2), (2, 3, 8, 6), (2, 3, 4, 3)),
    (lambda: nn.MaxPool2d(3, stride=1, padding=1), (1, 1, 5, 5), (1, 1, 5, 5)),
    (lambda: nn.AvgPool2d(2), (2, 3, 8, 6), (2, 3, 4, 3)),
    (lambda: nn.Upsample(scale_factor=2), (2, 3, 4, 5), (2, 3, 8, 10)),
    (lambda: nn.Upsample(size=(8, 15)), (2, 3, 4, 5), (2, 3, 8, 15)),
    (lambda: nn.Identity(54, unused="x"), (3, 2), (3, 2)),
] + [(lambda cls=cls: cls(), (3, 4), (3, 4)) for cls in
     (nn.ReLU, nn.LeakyReLU, nn.ELU, nn.GELU, nn.Sigmoid, nn.Tanh, nn.Softplus, nn.SiLU, nn.Softmax, nn.LogSoftmax)]


@pytest.mark.parametrize("make, in_shape, out_shape", SHAPE_CASES)
def test_output_shape(make, in_shape, out_shape):
    layer = make()
    y = layer(tg.randn(*in_shape))
    assert isinstance(y, tg.Tensor) and y.shape == out_shape and y.dtype == np.float32


def test_embedding_shape_and_padding_idx():
    emb = nn.Embedding(10, 4, padding_idx=0)
    assert emb.weight.shape == (10, 4) and not emb.weight.numpy()[0].any()
    idx = np.array([[0, 3], [9, 3]])
    y = emb(idx)
    assert y.shape == (2, 2, 4)
    y.sum().backward()
    g = emb.weight.grad.numpy()
    assert not g[0].any() and np.all(g[3] == 2) and np.all(g[9] == 1)


def test_activation_arguments_reach_the_function():
    x = tg.tensor([-2.0, 3.0])
    np.testing.assert_allclose(nn.LeakyReLU(0.2, inplace=True)(x).numpy(), [-0.4, 3.0], rtol=1e-6)
    np.testing.assert_allclose(nn.ELU(alpha=2.0)(x).numpy(), [2 * (math.exp(-2) - 1), 3.0], rtol=1e-6)
    np.testing.assert_allclose(nn.Softplus(beta=2.0)(x).numpy(), np.log1p(np.exp(2 * x.numpy())) / 2, rtol=1e-5)
    exact, approx = nn.GELU()(x).numpy(), nn.GELU("tanh")(x).numpy()
    assert not np.array_equal(exact, approx) and np.allclose(exact, approx, atol=1e-2)
    np.testing.assert_allclose(nn.SiLU()(x).numpy(), x.numpy() / (1 + np.exp(-x.numpy())), rtol=1e-6)


# ----------------------------------------------------------------------------- default init
def test_linear_default_init_is_pytorch_kaiming_uniform():
    lin = nn.Linear(50, 400)
    assert lin.weight.shape == (400, 50) and lin.bias.shape == (400,)
    _uniform_ok(lin.weight.numpy(), 1 / math.sqrt(50))
    _uniform_ok(lin.bias.numpy(), 1 / math.sqrt(50))


def test_conv_default_init_bounds():
    conv = nn.Conv2d(8, 64, 3)
    assert conv.weight.shape == (64, 8, 3, 3) and conv.bias.shape == (64,)
    _uniform_ok(conv.weight.numpy(), 1 / math.sqrt(8 * 9))
    assert np.all(np.abs(conv.bias.numpy()) <= 1 / math.sqrt(8 * 9))


def test_conv_transpose_fan_in_comes_from_weight_shape_1():
    # weight (C_in, C_out, kH, kW) = (64, 4, 3, 3): PyTorch's fan_in is 4·3·3, not 64·3·3
    ct = nn.ConvTranspose2d(64, 4, 3)
    assert ct.weight.shape == (64, 4, 3, 3) and ct.bias.shape == (4,)
    _uniform_ok(ct.weight.numpy(), 1 / math.sqrt(4 * 9))
    assert np.all(np.abs(ct.bias.numpy()) <= 1 / math.sqrt(4 * 9))


def test_batchnorm_parameters_buffers_and_defaults():
    bn = nn.BatchNorm2d(5)
    assert [n for n, _ in bn.named_parameters()] == ["weight", "bias"]
    assert [n for n, _ in bn.named_buffers()] == ["running_mean", "running_var", "num_batches_tracked"]
    np.testing.assert_array_equal(bn.weight.numpy(), np.ones(5))
    np.testing.assert_array_equal(bn.bias.numpy(), np.zeros(5))
    np.testing.assert_array_equal(bn.running_mean.numpy(), np.zeros(5))
    np.testing.assert_array_equal(bn.running_var.numpy(), np.ones(5))
    assert bn.num_batches_tracked.dtype == np.int64 and bn.num_batches_tracked.shape == ()
    nb = nn.BatchNorm1d(3, affine=False, track_running_stats=False)
    assert list(nb.state_dict()) == [] and nb.weight is None


def test_embedding_default_init_is_standard_normal():
    w = nn.Embedding(2000, 16).weight.numpy().astype(np.float64)
    assert abs(w.mean()) < 0.01 and abs(w.std() - 1) < 0.01


def test_layernorm_defaults():
    ln = nn.LayerNorm((2, 3))
    assert ln.weight.shape == (2, 3) and np.all(ln.weight.numpy() == 1) and not ln.bias.numpy().any()


def test_factory_keywords_dtype_and_device():
    for layer in (nn.Linear(2, 3, dtype=tg.float64), nn.Conv2d(1, 2, 3, dtype="float64"),
                  nn.ConvTranspose2d(1, 2, 3, dtype=tg.float64), nn.BatchNorm1d(2, dtype=tg.float64),
                  nn.LayerNorm(3, dtype=tg.float64), nn.Embedding(3, 2, dtype=tg.float64)):
        for t in list(layer.parameters()) + [b for b in layer.buffers() if b.dtype.kind == "f"]:
            assert t.dtype == np.float64 and t.device == tg.get_default_device()
    assert nn.Linear(2, 3, device="cpu").weight.device == "cpu"
    with pytest.raises(TypeError, match="floating-point"):
        nn.Linear(2, 3, dtype=tg.int64)


def test_unsupported_arguments_are_clear_errors():
    with pytest.raises(NotImplementedError, match="groups"):
        nn.Conv2d(4, 4, 3, groups=2)
    with pytest.raises(ValueError, match="probability"):
        nn.Dropout(1.5)
    with pytest.raises(ValueError, match="expected 2D or 3D input"):
        nn.BatchNorm1d(3)(tg.randn(2, 3, 4, 4))
    with pytest.raises(ValueError, match="num_features=4"):
        nn.BatchNorm2d(4)(tg.randn(2, 3, 4, 4))


# ----------------------------------------------------------------------------- behaviour
def test_batchnorm_running_stats_train_and_eval():
    bn = nn.BatchNorm1d(2, momentum=0.5)
    x = np.array([[1.0, 2.0], [3.0, 6.0]], dtype=np.float32)
    y = bn(tg.tensor(x))
    assert int(bn.num_batches_tracked.item()) == 1
    np.testing.assert_allclose(bn.running_mean.numpy(), 0.5 * x.mean(0), rtol=1e-6)
    np.testing.assert_allclose(bn.running_var.numpy(), 0.5 + 0.5 * x.var(0, ddof=1), rtol=1e-6)
    np.testing.assert_allclose(y.numpy(), (x - x.mean(0)) / np.sqrt(x.var(0) + 1e-5), rtol=1e-4)
    bn.eval()
    y = bn(tg.tensor(x))
    assert int(bn.num_batches_tracked.item()) == 1
    rm, rv = bn.running_mean.numpy(), bn.running_var.numpy()
    np.testing.assert_allclose(y.numpy(), (x - rm) / np.sqrt(rv + 1e-5), rtol=1e-5)


def test_batchnorm_momentum_none_is_a_cumulative_average():
    bn = nn.BatchNorm1d(1, momentum=None)
    means = []
    for v in (1.0, 3.0, 8.0):
        x = np.array([[v - 1], [v + 1]], dtype=np.float32)
        bn(tg.tensor(x))
        means.append(v)
    np.testing.assert_allclose(bn.running_mean.numpy(), [np.mean(means)], rtol=1e-6)


def test_dropout_respects_training_flag():
    d = nn.Dropout(0.5)
    x = tg.ones(1000)
    y = d(x).numpy()
    assert set(np.unique(y)) <= {0.0, 2.0} and 300 < (y == 0).sum() < 700
    d.eval()
    np.testing.assert_array_equal(d(x).numpy(), x.numpy())


GRAD_CASES = [
    (lambda: nn.Linear(3, 2, dtype=tg.float64), (4, 3)),
    (lambda: nn.Conv2d(2, 3, 3, stride=2, padding=1, dtype=tg.float64), (2, 2, 5, 5)),
    (lambda: nn.ConvTranspose2d(2, 3, 3, stride=2, padding=1, output_padding=1, dtype=tg.float64), (1, 2, 3, 3)),
    (lambda: nn.BatchNorm1d(3, dtype=tg.float64), (5, 3)),
    (lambda: nn.BatchNorm2d(2, dtype=tg.float64), (3, 2, 2, 2)),
    (lambda: nn.LayerNorm(4, dtype=tg.float64), (3, 4)),
    (lambda: nn.Sequential(nn.Linear(3, 4, dtype=tg.float64), nn.Tanh(), nn.Linear(4, 2, dtype=tg.float64),
                           nn.GELU()), (2, 3)),
]


@pytest.mark.parametrize("make, in_shape", GRAD_CASES)
def test_gradcheck_through_layer_float64(make, in_shape):
    layer = make()
    params = list(layer.parameters())
    if isinstance(layer, (nn.BatchNorm1d, nn.BatchNorm2d, nn.LayerNorm)):
        with tg.no_grad():                    # non-trivial affine parameters
            for p in params:
                p.copy_(tg.randn(*p.shape, dtype=tg.float64))
    x = tg.randn(*in_shape, dtype=tg.float64, requires_grad=True)
    assert tg.gradcheck(lambda x, *ps: layer(x), [x, *params])
