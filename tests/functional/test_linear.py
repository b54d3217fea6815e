"""linear, embedding, one_hot."""
from __future__ import annotations

import time

import numpy as np
import pytest
from hypothesis import given, settings, strategies as st

import tinygen as tg
import tinygen.functional as F
from futil import dev, leaves_unmodified, t64

lead_shapes = st.lists(st.integers(1, 3), min_size=0, max_size=2).map(tuple)


@settings(max_examples=25, deadline=None)
@given(lead=lead_shapes, n_in=st.integers(1, 4), n_out=st.integers(1, 4), bias=st.booleans(),
       seed=st.integers(0, 2**31 - 1))
def test_linear_value_and_grads(lead, n_in, n_out, bias, seed):
    r = np.random.default_rng(seed)
    x = r.standard_normal(lead + (n_in,))
    w = r.standard_normal((n_out, n_in))
    b = r.standard_normal(n_out)
    ref = np.einsum("...i,oi->...o", x, w) + (b if bias else 0)
    if bias:
        y = leaves_unmodified(F.linear, x, w, b)
        inputs = [t64(x), t64(w), t64(b)]
    else:
        y = leaves_unmodified(lambda x, w: F.linear(x, w), x, w)
        inputs = [t64(x), t64(w)]
    np.testing.assert_allclose(y.numpy(), ref, rtol=1e-12, atol=1e-12)
    assert y.shape == lead + (n_out,)
    assert tg.gradcheck(F.linear, inputs)
    assert tg.gradgradcheck(F.linear, inputs)


def test_linear_grads_explicit():
    r = np.random.default_rng(1)
    x, w, b = t64(r.standard_normal((5, 3))), t64(r.standard_normal((4, 3))), t64(r.standard_normal(4))
    g = r.standard_normal((5, 4))
    F.linear(x, w, b).backward(tg.Tensor(g))
    np.testing.assert_allclose(x.grad.numpy(), g @ w.numpy())
    np.testing.assert_allclose(w.grad.numpy(), g.T @ x.numpy())
    np.testing.assert_allclose(b.grad.numpy(), g.sum(0))


def test_linear_single_node_and_constant_weight():
    x = tg.randn(3, 2, requires_grad=True)
    w = tg.randn(4, 2, requires_grad=True)
    y = F.linear(x, w, tg.zeros(4))
    assert type(y.grad_fn).__name__ == "Linear"
    # weight as a plain array, under create_graph
    xa = t64(np.ones((2, 2)))
    wa = dev(np.arange(6.0).reshape(3, 2))
    assert tg.gradgradcheck(lambda x: F.linear(x, wa) ** 2, [xa])


def test_linear_errors():
    with pytest.raises(ValueError, match=r"linear: input has 3 features but weight expects 4 \(input \(2, 3\)"):
        F.linear(np.zeros((2, 3)), np.zeros((5, 4)))
    with pytest.raises(ValueError, match="linear: weight must be 2-D"):
        F.linear(np.zeros((2, 3)), np.zeros(3))
    with pytest.raises(ValueError, match="linear: bias"):
        F.linear(np.zeros((2, 3)), np.zeros((5, 3)), np.zeros(4))


# --------------------------------------------------------------------------- embedding
@settings(max_examples=25, deadline=None)
@given(num=st.integers(1, 6), dim=st.integers(1, 3), idx_shape=st.lists(st.integers(1, 4), min_size=1, max_size=2),
       seed=st.integers(0, 2**31 - 1))
def test_embedding_value_and_scatter_add(num, dim, idx_shape, seed):
    r = np.random.default_rng(seed)
    w = r.standard_normal((num, dim))
    idx = r.integers(0, num, size=tuple(idx_shape))
    wt = t64(w)
    y = F.embedding(idx, wt)
    np.testing.assert_array_equal(y.numpy(), w[idx])
    g = r.standard_normal(y.shape)
    y.backward(tg.Tensor(g))
    ref = np.zeros_like(w)
    np.add.at(ref, idx.reshape(-1), g.reshape(-1, dim))
    np.testing.assert_allclose(wt.grad.numpy(), ref, rtol=1e-12, atol=1e-12)
    assert tg.gradcheck(lambda w: F.embedding(tg.Tensor(idx, device="cpu"), w), [t64(w)])
    assert tg.gradgradcheck(lambda w: F.embedding(idx, w) ** 2, [t64(w)])


def test_embedding_padding_idx_gets_no_gradient():
    w = t64(np.arange(12.0).reshape(4, 3))
    idx = np.array([0, 2, 2, 3, 0])
    F.embedding(idx, w, padding_idx=2).sum().backward()
    np.testing.assert_array_equal(w.grad.numpy(), [[2, 2, 2], [0, 0, 0], [0, 0, 0], [1, 1, 1]])
    assert tg.gradgradcheck(lambda w: F.embedding(idx, w, padding_idx=-1) ** 2, [t64(np.ones((4, 2)))])


def test_embedding_backward_is_fast_for_many_repeats():
    r = np.random.default_rng(0)
    w = tg.Tensor(r.standard_normal((1000, 64)).astype(np.float32), requires_grad=True)
    idx = r.integers(0, 1000, size=200_000)
    y = F.embedding(idx, w)
    t0 = time.perf_counter()
    y.sum().backward()
    assert time.perf_counter() - t0 < 2.0
    np.testing.assert_allclose(w.grad.numpy()[:, 0], np.bincount(idx, minlength=1000), rtol=1e-6)


def test_embedding_errors():
    with pytest.raises(IndexError, match="embedding: index 5 is out of range for 4 rows"):
        F.embedding(np.array([1, 5]), np.zeros((4, 2)))
    with pytest.raises(TypeError, match="embedding: indices must be an integer"):
        F.embedding(np.array([1.0]), np.zeros((4, 2)))


# --------------------------------------------------------------------------- one_hot
def test_one_hot():
    lab = np.array([[0, 3], [2, 1]])
    out = F.one_hot(lab, 4)
    assert out.shape == (2, 2, 4) and out.dtype == np.int64 and not out.requires_grad
    np.testing.assert_array_equal(out.numpy(), np.eye(4, dtype=np.int64)[lab])
    np.testing.assert_array_equal(F.one_hot(tg.Tensor([1, 0])).numpy(), [[0, 1], [1, 0]])
    assert F.one_hot([2], 3, dtype=tg.float32).dtype == np.float32
    with pytest.raises(IndexError, match="one_hot"):
        F.one_hot(np.array([0, 4]), 4)
    with pytest.raises(TypeError, match="one_hot"):
        F.one_hot(np.array([0.0]), 2)


def test_embedding_scatter_kernel_matches_reference():
    from tinygen.autograd.linear import scatter_rows
    from tinygen.kernels._jit import use_fused
    r = np.random.default_rng(5)
    idx = r.integers(0, 7, size=50)
    for dtype in (np.float32, np.float64):
        g = r.standard_normal((50, 5)).astype(dtype)
        ref = np.zeros((7, 5), dtype)
        np.add.at(ref, idx, g)
        fused = scatter_rows(7, idx, g)
        with use_fused(False):
            plain = scatter_rows(7, idx, g)
        assert fused.dtype == plain.dtype == dtype
        np.testing.assert_allclose(fused, ref, rtol=1e-5 if dtype == np.float32 else 1e-12, atol=1e-6)
        np.testing.assert_allclose(plain, ref, rtol=1e-5 if dtype == np.float32 else 1e-12, atol=1e-6)
