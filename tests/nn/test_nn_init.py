"""nn.init: PyTorch's formulas, reproducible through tg.manual_seed, in place and without a graph."""
from __future__ import annotations

import math

import numpy as np
import pytest

import tinygen as tg
from tinygen.nn import init


def test_calculate_gain_table():
    assert init.calculate_gain("linear") == 1 and init.calculate_gain("conv2d") == 1
    assert init.calculate_gain("sigmoid") == 1
    assert init.calculate_gain("tanh") == pytest.approx(5 / 3)
    assert init.calculate_gain("relu") == pytest.approx(math.sqrt(2))
    assert init.calculate_gain("leaky_relu") == pytest.approx(math.sqrt(2 / (1 + 0.01 ** 2)))
    assert init.calculate_gain("leaky_relu", math.sqrt(5)) == pytest.approx(math.sqrt(1 / 3))
    assert init.calculate_gain("selu") == pytest.approx(0.75)
    with pytest.raises(ValueError, match="Unsupported nonlinearity"):
        init.calculate_gain("swish")


@pytest.mark.parametrize("fn, kwargs, kind, scale", [
    (init.xavier_uniform_, {}, "uniform", math.sqrt(6 / (200 + 300))),
    (init.xavier_uniform_, {"gain": 2.0}, "uniform", 2 * math.sqrt(6 / (200 + 300))),
    (init.xavier_normal_, {}, "normal", math.sqrt(2 / (200 + 300))),
    (init.kaiming_uniform_, {"nonlinearity": "relu"}, "uniform", math.sqrt(2) * math.sqrt(3 / 200)),
    (init.kaiming_uniform_, {"a": math.sqrt(5)}, "uniform", 1 / math.sqrt(200)),
    (init.kaiming_uniform_, {"mode": "fan_out", "nonlinearity": "relu"}, "uniform", math.sqrt(6 / 300)),
    (init.kaiming_normal_, {"nonlinearity": "relu"}, "normal", math.sqrt(2 / 200)),
])
def test_fan_based_initialisers(fn, kwargs, kind, scale):
    w = tg.empty(300, 200)                     # fan_in 200, fan_out 300
    assert fn(w, **kwargs) is w
    a = w.numpy().astype(np.float64)
    if kind == "uniform":
        assert np.abs(a).max() <= scale * (1 + 1e-6) and np.abs(a).max() > 0.99 * scale
        assert abs(a.std() - scale / math.sqrt(3)) < 0.02 * scale
    else:
        assert abs(a.std() - scale) < 0.02 * scale
    assert abs(a.mean()) < 0.02 * scale


def test_conv_shaped_fans():
    w = tg.empty(16, 8, 3, 3)
    init.kaiming_uniform_(w, a=math.sqrt(5))
    assert np.abs(w.numpy()).max() <= 1 / math.sqrt(8 * 9) * (1 + 1e-6)
    with pytest.raises(ValueError, match="fewer than 2 dimensions"):
        init.xavier_uniform_(tg.empty(5))


def test_simple_fills_and_reproducibility():
    w = tg.empty(3, 4, dtype=tg.float64)
    assert np.all(init.ones_(w).numpy() == 1) and not init.zeros_(w).numpy().any()
    assert np.all(init.constant_(w, 0.25).numpy() == 0.25)
    np.testing.assert_array_equal(init.eye_(tg.empty(2, 3)).numpy(), np.eye(2, 3))
    tg.manual_seed(7)
    a = init.normal_(tg.empty(5), mean=1.0, std=0.1).numpy()
    tg.manual_seed(7)
    b = init.normal_(tg.empty(5), mean=1.0, std=0.1).numpy()
    np.testing.assert_array_equal(a, b)
    u = init.uniform_(tg.empty(1000), -2, 3).numpy()
    assert u.min() >= -2 and u.max() < 3 and u.dtype == np.float32


def test_initialising_a_parameter_records_no_graph():
    p = tg.nn.Parameter(tg.empty(4, 4))
    init.xavier_uniform_(p)
    assert p.is_leaf and p.requires_grad and p.grad is None


def test_orthogonal_and_trunc_normal():
    w = init.orthogonal_(tg.empty(4, 6, dtype=tg.float64)).numpy()
    np.testing.assert_allclose(w @ w.T, np.eye(4), atol=1e-10)
    t = init.trunc_normal_(tg.empty(2000), std=1.0, a=-1.0, b=1.0).numpy()
    assert t.min() >= -1 and t.max() <= 1
