"""Bad input raises clear errors: the loss's name, the shapes or values involved."""
from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from lossutil import FAST, T, dtypes

import tinygen as tg
import tinygen.losses as L

PAIRWISE = {
    "mse": L.mse,
    "bce": L.bce,
    "bce_with_logits": L.bce_with_logits,
    "gan_d_loss": lambda a, b, reduction="mean": L.gan_d_loss(a, b, reduction=reduction),
    "wgan_d_loss": L.wgan_d_loss,
    "hinge_d_loss": L.hinge_d_loss,
}


@FAST
@given(st.sampled_from(["mse", "bce", "bce_with_logits"]), st.integers(2, 6), dtypes)
def test_column_vs_row_vector_is_refused_not_broadcast(name, n, dt):
    """(N,) against (N, 1) would broadcast to (N, N) in NumPy: refuse, naming both shapes."""
    a, b = np.full(n, 0.5, dt), np.full((n, 1), 0.5, dt)
    for x, y in ((a, b), (b, a)):
        with pytest.raises(ValueError) as e:
            PAIRWISE[name](T(x), T(y))
        msg = str(e.value)
        assert name in msg and str(tuple(x.shape)) in msg and str(tuple(y.shape)) in msg


@pytest.mark.parametrize("name", ["gan_d_loss", "wgan_d_loss", "hinge_d_loss"])
def test_none_reduction_of_two_term_losses_needs_one_shape(name):
    with pytest.raises(ValueError, match=rf"{name}.*\(3,\).*\(4,\)"):
        PAIRWISE[name](T(np.zeros(3)), T(np.zeros(4)), reduction="none")
    # mean/sum of batches of different sizes are fine
    assert np.isfinite(PAIRWISE[name](T(np.zeros(3)), T(np.zeros(4))).item())


@FAST
@given(st.sampled_from(["bce", "bce_with_logits"]),
       st.sampled_from([-0.5, 1.5, -1e-3, 1.001, 7.0, float("nan")]), dtypes)
def test_bce_targets_outside_unit_interval(name, bad, dt):
    z = np.array([0.0, bad, 1.0], dt)
    with pytest.raises(ValueError) as e:
        PAIRWISE[name](T(np.full(3, 0.5, dt)), T(z))
    msg = str(e.value)
    assert name in msg and "target" in msg and "[0, 1]" in msg


@pytest.mark.parametrize("bad", [-0.1, 1.1])
def test_bce_probabilities_outside_unit_interval(bad):
    with pytest.raises(ValueError, match=r"bce: prob values must lie in \[0, 1\]"):
        L.bce(T(np.array([0.5, bad])), T(np.array([0.0, 1.0])))


@FAST
@given(st.integers(1, 5), st.integers(2, 5), st.sampled_from([-1, 0]), dtypes)
def test_cross_entropy_labels_out_of_range(n, c, where, dt):
    labels = np.zeros(n, np.int64)
    bad = -1 if where == -1 else c            # one below 0, or one equal to C
    labels[-1] = bad
    with pytest.raises(ValueError) as e:
        L.cross_entropy(T(np.zeros((n, c), dt)), labels)
    msg = str(e.value)
    assert "cross_entropy" in msg and f"label {bad}" in msg and f"{c} classes" in msg


@pytest.mark.parametrize("labels", [np.array([0.0, 1.0]), np.array([True, False]),
                                    T(np.array([0.0, 1.0], np.float32))])
def test_cross_entropy_non_integer_labels_raise_type_error(labels):
    with pytest.raises(TypeError, match=r"cross_entropy: labels must be integer class indices"):
        L.cross_entropy(T(np.zeros((2, 3))), labels)


def test_cross_entropy_label_shape_mismatch():
    with pytest.raises(ValueError, match=r"cross_entropy: logits of shape \(4, 3\) need labels of shape "
                                         r"\(4,\), got labels of shape \(4, 1\)"):
        L.cross_entropy(T(np.zeros((4, 3))), np.zeros((4, 1), np.int64))
    with pytest.raises(ValueError, match=r"label_smoothing"):
        L.cross_entropy(T(np.zeros((4, 3))), np.zeros(4, np.int64), label_smoothing=1.5)


@pytest.mark.parametrize("fn", [
    lambda r: L.mse(T(np.zeros(2)), T(np.zeros(2)), r),
    lambda r: L.kl_normal(T(np.zeros((2, 2))), T(np.zeros((2, 2))), r),
    lambda r: L.gan_g_loss(T(np.zeros(2)), reduction=r),
    lambda r: L.gradient_penalty(lambda x: x.sum(axis=1), T(np.zeros((2, 2))), T(np.zeros((2, 2))), reduction=r),
])
def test_unknown_reduction(fn):
    with pytest.raises(ValueError, match=r"reduction must be one of 'mean', 'sum', 'none'; got 'avg'"):
        fn("avg")


def test_gaussian_shapes():
    with pytest.raises(ValueError, match=r"gaussian_nll: x has shape \(3,\) but mean has shape \(3, 1\)"):
        L.gaussian_nll(T(np.zeros(3)), T(np.zeros((3, 1))), T(np.zeros(3)))
    with pytest.raises(ValueError, match=r"gaussian_nll: logvar has shape \(4,\), which does not broadcast"):
        L.gaussian_nll(T(np.zeros((2, 3))), T(np.zeros((2, 3))), T(np.zeros(4)))
    with pytest.raises(ValueError, match=r"kl_normal: mu has shape \(2, 3\) but logvar has shape \(3,\)"):
        L.kl_normal(T(np.zeros((2, 3))), T(np.zeros(3)))
    with pytest.raises(ValueError, match=r"kl_normal_normal: mu2 has shape \(2, 1, 3\)"):
        L.kl_normal_normal(T(np.zeros((2, 3))), T(np.zeros((2, 3))), T(np.zeros((2, 1, 3))), T(np.zeros(3)))


def test_integer_prediction_and_bad_critic():
    with pytest.raises(TypeError, match=r"mse: pred must be floating-point, got dtype int64"):
        L.mse(np.arange(3), np.arange(3.0))
    with pytest.raises(TypeError, match=r"gradient_penalty: critic must be callable"):
        L.gradient_penalty(None, T(np.zeros((2, 2))), T(np.zeros((2, 2))))
    with pytest.raises(ValueError, match=r"gradient_penalty: real has shape \(2, 2\) but fake has shape \(2, 3\)"):
        L.gradient_penalty(lambda x: x.sum(axis=1), T(np.zeros((2, 2))), T(np.zeros((2, 3))))
    with pytest.raises(ValueError, match=r"gan_d_loss: label_smoothing must be a number in \[0, 1\)"):
        L.gan_d_loss(T(np.zeros(2)), T(np.zeros(2)), label_smoothing=1.0)


def test_array_targets_take_the_prediction_dtype():
    x = tg.Tensor(np.zeros(3, np.float32), requires_grad=True)
    assert L.mse(x, np.ones(3)).dtype == np.float32                  # float64 array target, float32 loss
    assert L.bce_with_logits(x, np.ones(3)).dtype == np.float32
