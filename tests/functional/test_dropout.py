"""dropout: inverted scaling, seeded masks, identity in evaluation, gradient = mask."""
from __future__ import annotations

import numpy as np
import pytest

import tinygen as tg
import tinygen.functional as F


def test_dropout_scaling_and_statistics():
    tg.manual_seed(0)
    x = tg.ones(200_000)
    y = F.dropout(x, 0.3).numpy()
    kept = y != 0
    np.testing.assert_allclose(y[kept], 1 / 0.7, rtol=1e-6)
    assert abs(kept.mean() - 0.7) < 0.005
    assert abs(y.mean() - 1.0) < 0.01


def test_dropout_seeded_and_gradient_is_the_mask():
    x = tg.Tensor(np.arange(1.0, 11.0), requires_grad=True)
    tg.manual_seed(7)
    y1 = F.dropout(x, 0.5)
    tg.manual_seed(7)
    y2 = F.dropout(x, 0.5)
    np.testing.assert_array_equal(y1.numpy(), y2.numpy())
    y1.sum().backward()
    np.testing.assert_array_equal(x.grad.numpy(), (y1.numpy() != 0) * 2.0)
    np.testing.assert_array_equal(x.numpy(), np.arange(1.0, 11.0))

    def fn(x):
        tg.manual_seed(3)
        return F.dropout(x, 0.4)
    assert tg.gradcheck(fn, [tg.Tensor(np.random.default_rng(0).standard_normal((3, 4)), requires_grad=True)])
    assert tg.gradgradcheck(lambda x: fn(x) ** 2, [tg.Tensor(np.ones((2, 3)), requires_grad=True)])


def test_dropout_eval_p0_p1_and_errors():
    x = tg.randn(4, 5, requires_grad=True)
    assert F.dropout(x, 0.5, training=False) is x
    assert F.dropout(x, 0.0) is x
    y = F.dropout(x, 1.0)
    assert np.all(y.numpy() == 0) and y.dtype == np.float32
    (g,) = tg.grad(y.sum(), [x])
    assert np.all(g.numpy() == 0)
    with pytest.raises(ValueError, match="dropout: p must be in"):
        F.dropout(x, 1.5)
