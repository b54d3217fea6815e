"""Every Tensor op's gradient against central finite differences in float64, over drawn shapes
(broadcasting, size-1 and zero-size dimensions, non-contiguous inputs), plus second derivatives
through create_graph=True, and a check that no op modifies its inputs."""
import numpy as np
import pytest
from hypothesis import assume, given, strategies as st
from hypothesis.extra import numpy as hnp

import tinygen as tg
from tinygen.autograd.gradcheck import GradcheckError

from .strategies import arrays, nonempty_shapes, small_shapes, tensors, ties_free

broadcast_pairs = hnp.mutually_broadcastable_shapes(num_shapes=2, min_dims=0, max_dims=3, min_side=0, max_side=3)


def check(fn, *inputs, second=True):
    """gradcheck (and gradgradcheck) fn at inputs, and assert the inputs were left unmodified."""
    before = [x.numpy().copy() for x in inputs]
    assert tg.gradcheck(fn, list(inputs))
    if second and all(x.size > 0 for x in inputs):
        assert tg.gradgradcheck(fn, list(inputs))
    for x, b in zip(inputs, before):
        np.testing.assert_array_equal(x.numpy(), b)


# ---------------------------------------------------------------- binary, broadcasting
@given(shapes=broadcast_pairs, data=st.data())
@pytest.mark.parametrize("op", ["add", "sub", "mul", "div", "pow", "maximum", "minimum"])
def test_binary_ops_broadcast(op, shapes, data):
    sa, sb = shapes.input_shapes
    if op == "div":
        a = data.draw(tensors(sa))
        b = data.draw(tensors(sb, low=0.5, high=2.0))
    elif op == "pow":
        a = data.draw(tensors(sa, low=0.5, high=2.0))
        b = data.draw(tensors(sb, low=-1.5, high=1.5))
    elif op in ("maximum", "minimum"):
        a = data.draw(tensors(sa))
        b = data.draw(tensors(sb))
        diff = np.abs(np.broadcast_arrays(a.numpy(), b.numpy())[0] - np.broadcast_arrays(a.numpy(), b.numpy())[1])
        assume(diff.size == 0 or diff.min() > 1e-3)
    else:
        a = data.draw(tensors(sa))
        b = data.draw(tensors(sb))
    fn = {"add": lambda a, b: a + b, "sub": lambda a, b: a - b, "mul": lambda a, b: a * b,
          "div": lambda a, b: a / b, "pow": lambda a, b: a ** b, "maximum": tg.maximum,
          "minimum": tg.minimum}[op]
    check(fn, a, b)


@given(x=tensors(), c=st.floats(-3, 3))
def test_scalar_operands(x, c):
    check(lambda x: (x + c) * c - c / (x * x + 1) + (c - x), x)


@given(x=tensors(low=0.3, high=2.0), p=st.sampled_from([-2.0, -0.5, 0.5, 1, 2, 3, 2.5]))
def test_pow_scalar(x, p):
    check(lambda x: x ** p, x)


def test_rpow_and_reflected_ops():
    x = tg.Tensor(np.array([0.3, 1.2, -0.7]), requires_grad=True)
    check(lambda x: 2.0 ** x + 3.0 - x + 2.0 * x + 1.0 / (x * x + 1.0), x)


# ---------------------------------------------------------------- unary
UNARY = {
    "neg": (lambda x: -x, {}),
    "exp": (lambda x: x.exp(), {}),
    "log": (lambda x: x.log(), {"low": 0.2, "high": 3.0}),
    "sqrt": (lambda x: x.sqrt(), {"low": 0.2, "high": 3.0}),
    "sin": (lambda x: x.sin(), {}),
    "cos": (lambda x: x.cos(), {}),
    "tanh": (lambda x: x.tanh(), {}),
    "sigmoid": (lambda x: x.sigmoid(), {}),
    "relu": (lambda x: x.relu(), {"away_from": [0.0]}),
    "abs": (lambda x: x.abs(), {"away_from": [0.0]}),
    "clip": (lambda x: x.clip(-0.5, 0.7), {"away_from": [-0.5, 0.7]}),
    "clip_min": (lambda x: x.clip(min=0.1), {"away_from": [0.1]}),
    "square": (lambda x: x.square(), {}),
}


@pytest.mark.parametrize("name", sorted(UNARY))
@given(data=st.data())
def test_unary_ops(name, data):
    fn, kw = UNARY[name]
    x = data.draw(tensors(**kw))
    check(fn, x)


@pytest.mark.parametrize("name", ["exp", "log", "sqrt", "sin", "cos", "tanh", "sigmoid", "relu", "abs"])
def test_function_forms_match_methods(name):
    x = tg.Tensor(np.array([0.5, 1.5, 2.0]))
    np.testing.assert_allclose(getattr(tg, name)(x).numpy(), getattr(x, name)().numpy())


# ---------------------------------------------------------------- reductions
axes = st.one_of(st.none(), st.integers(-3, 2), st.tuples(st.integers(0, 2), st.integers(0, 2)))


def _valid_axis(axis, ndim):
    if axis is None:
        return True
    items = (axis,) if isinstance(axis, int) else axis
    return all(-ndim <= a < ndim for a in items) and ndim > 0 and \
        len({a % ndim for a in items}) == len(items)


@pytest.mark.parametrize("red", ["sum", "mean", "var", "var1", "std", "max", "min"])
@given(data=st.data(), axis=axes, keepdims=st.booleans())
def test_reductions(red, data, axis, keepdims):
    shape = data.draw(nonempty_shapes if red in ("max", "min", "var", "var1", "std", "mean") else small_shapes)
    assume(_valid_axis(axis, len(shape)))
    x = data.draw(tensors(shape))
    if red in ("max", "min"):
        assume(ties_free(x.numpy()))
    if red in ("var1",):
        n = x.size if axis is None else int(np.prod([shape[a] for a in ((axis,) if isinstance(axis, int) else axis)]))
        assume(n > 1)
    if red == "std":
        assume(x.size > 1 and np.ptp(x.numpy()) > 0.1)
        n = x.size if axis is None else int(np.prod([shape[a] for a in ((axis,) if isinstance(axis, int) else axis)]))
        assume(n > 1)
        xs = x.numpy()
        assume(np.all(xs.std(axis=axis) > 0.05))
    fn = {"sum": lambda x: x.sum(axis, keepdims), "mean": lambda x: x.mean(axis=axis, keepdims=keepdims),
          "var": lambda x: x.var(axis, keepdims), "var1": lambda x: x.var(axis, keepdims, ddof=1),
          "std": lambda x: x.std(axis, keepdims), "max": lambda x: x.max(axis, keepdims),
          "min": lambda x: x.min(axis, keepdims)}[red]
    ref = {"sum": np.sum, "mean": np.mean, "var": np.var, "var1": lambda a, axis, keepdims: np.var(a, axis=axis, keepdims=keepdims, ddof=1),
           "std": np.std, "max": np.max, "min": np.min}[red]
    np.testing.assert_allclose(fn(x).numpy(), ref(x.numpy(), axis=axis, keepdims=keepdims), rtol=1e-12, atol=1e-12)
    check(fn, x)


def test_max_ties_split_gradient_evenly():
    x = tg.Tensor(np.array([1.0, 3.0, 3.0, 2.0]), requires_grad=True)
    x.max().backward()
    np.testing.assert_allclose(x.grad.numpy(), [0, 0.5, 0.5, 0])
    y = tg.Tensor(np.array([[1.0, 1.0], [0.0, 2.0]]), requires_grad=True)
    y.min(axis=1).sum().backward()
    np.testing.assert_allclose(y.grad.numpy(), [[0.5, 0.5], [1, 0]])


def test_dim_keepdim_aliases():
    x = tg.Tensor(np.arange(6.0).reshape(2, 3))
    np.testing.assert_array_equal(x.sum(dim=1, keepdim=True).numpy(), x.sum(axis=1, keepdims=True).numpy())
    np.testing.assert_array_equal(x.mean(dim=0).numpy(), x.numpy().mean(0))
    assert x.max(dim=-1).shape == (2,)


# ---------------------------------------------------------------- shapes
@given(x=tensors(nonempty_shapes))
def test_reshape_flatten_squeeze_unsqueeze(x):
    n = x.size
    check(lambda x: x.reshape(n) * 2, x)
    check(lambda x: x.flatten() ** 2, x)
    check(lambda x: x.unsqueeze(0).unsqueeze(-1).squeeze() * 3, x)
    assert x.view(-1).shape == (n,)


@given(data=st.data())
def test_permute_transpose(data):
    shape = data.draw(hnp.array_shapes(min_dims=2, max_dims=4, min_side=1, max_side=3))
    x = data.draw(tensors(shape))
    perm = data.draw(st.permutations(range(len(shape))))
    check(lambda x: x.permute(*perm) * 1.5, x)
    check(lambda x: x.transpose(0, -1).sin(), x)
    check(lambda x: x.T.cos(), x)
    np.testing.assert_array_equal(x.transpose(0, 1).numpy(), np.swapaxes(x.numpy(), 0, 1))
    np.testing.assert_array_equal(x.T.numpy(), x.numpy().T)


@given(data=st.data())
def test_getitem_basic_and_advanced(data):
    x = data.draw(tensors(hnp.array_shapes(min_dims=2, max_dims=3, min_side=2, max_side=4)))
    n0 = x.shape[0]
    idx = data.draw(st.lists(st.integers(0, n0 - 1), min_size=1, max_size=6))   # repeated indices accumulate
    check(lambda x: x[1:], x)
    check(lambda x: x[..., ::2], x)
    check(lambda x: x[0], x)
    check(lambda x: x[idx], x)
    check(lambda x: x[np.array(idx), 0], x)
    check(lambda x: x[:, None, 1], x)
    mask = x.numpy() > 0
    check(lambda x: x[mask], x)


def test_getitem_repeated_indices_accumulate():
    x = tg.Tensor(np.arange(4.0), requires_grad=True)
    x[[0, 0, 3, 0]].sum().backward()
    np.testing.assert_array_equal(x.grad.numpy(), [3, 0, 0, 1])


@given(data=st.data(), axis=st.integers(0, 2))
def test_cat_stack(data, axis):
    base = list(data.draw(hnp.array_shapes(min_dims=3, max_dims=3, min_side=1, max_side=3)))
    s2 = list(base)
    s2[axis] = data.draw(st.integers(0, 3))
    a = data.draw(tensors(tuple(base)))
    b = data.draw(tensors(tuple(s2)))
    check(lambda a, b: tg.cat([a, b], axis=axis) * 2, a, b)
    c = data.draw(tensors(tuple(base)))
    check(lambda a, c: tg.stack([a, c], axis=axis).tanh(), a, c)
    assert tg.concatenate([a, b], dim=axis).shape[axis] == base[axis] + s2[axis]


@given(shapes=broadcast_pairs, data=st.data())
def test_where_and_expand(shapes, data):
    sa, sb = shapes.input_shapes
    a = data.draw(tensors(sa))
    b = data.draw(tensors(sb))
    cond = data.draw(hnp.arrays(np.bool_, shapes.result_shape))
    check(lambda a, b: tg.where(cond, a, b), a, b)
    x = data.draw(tensors(sa))
    check(lambda x: x.expand(shapes.result_shape) * 1.0, x)


# ---------------------------------------------------------------- linear algebra
@given(data=st.data())
def test_matmul_shapes(data):
    kind = data.draw(st.sampled_from(["mm", "mv", "vm", "vv", "batched", "broadcast"]))
    m, k, n = (data.draw(st.integers(1, 3)) for _ in range(3))
    shapes = {"mm": ((m, k), (k, n)), "mv": ((m, k), (k,)), "vm": ((k,), (k, n)), "vv": ((k,), (k,)),
              "batched": ((2, m, k), (2, k, n)), "broadcast": ((2, 1, m, k), (3, k, n))}[kind]
    a = data.draw(tensors(shapes[0]))
    b = data.draw(tensors(shapes[1]))
    np.testing.assert_allclose((a @ b).numpy(), a.numpy() @ b.numpy(), rtol=1e-12, atol=1e-12)
    check(lambda a, b: tg.matmul(a, b), a, b)


@pytest.mark.parametrize("spec,shapes", [("ij,jk->ik", [(2, 3), (3, 4)]), ("ij->i", [(3, 2)]),
                                         ("bij,bjk->bik", [(2, 2, 3), (2, 3, 2)]), ("i,i->", [(3,), (3,)]),
                                         ("ij,k->ijk", [(2, 2), (3,)])])
def test_einsum(spec, shapes):
    rng = np.random.default_rng(0)
    ins = [tg.Tensor(rng.standard_normal(s), requires_grad=True) for s in shapes]
    np.testing.assert_allclose(tg.einsum(spec, *ins).numpy(), np.einsum(spec, *[t.numpy() for t in ins]))
    check(lambda *xs: tg.einsum(spec, *xs), *ins)


# ---------------------------------------------------------------- conversion
def test_cast_and_clone_gradients():
    x = tg.Tensor(np.array([1.0, 2.0]), requires_grad=True)
    y = x.float() * 2
    assert y.dtype == np.float32
    y.sum().backward()
    assert x.grad.dtype == np.float64
    np.testing.assert_array_equal(x.grad.numpy(), [2, 2])
    check(lambda x: x.clone() * x, tg.Tensor(np.array([0.5, -1.0]), requires_grad=True))


def test_gradcheck_detects_a_wrong_gradient():
    from tinygen.autograd.function import Function

    class WrongSquare(Function):
        def forward(self, x):
            return x * x

        def backward(self, g, y, x):
            return g * x                       # should be 2x

    x = tg.Tensor(np.array([1.0, 2.0]), requires_grad=True)
    with pytest.raises(GradcheckError, match="analytic .* vs numerical"):
        tg.gradcheck(lambda x: WrongSquare.apply(x), [x])


def test_gradcheck_refuses_float32():
    x = tg.Tensor(np.array([1.0, 2.0], np.float32), requires_grad=True)
    with pytest.raises(TypeError, match="float64"):
        tg.gradcheck(lambda x: x * 2, [x])


def test_gradcheck_large_inputs_use_random_directions():
    x = tg.Tensor(np.random.default_rng(0).standard_normal((20, 20)), requires_grad=True)
    assert tg.gradcheck(lambda x: (x @ x).tanh(), [x], max_full=16)
