"""The engine's two walks agree: a plain ``backward()`` takes the lean walk (a chain's gradient
carried in hand, small leaves' contributions summed once at the end), anything with a hook on an
intermediate tensor takes the general one. On random graphs (fan-out, leaves used many times,
broadcasting, float32 and float64) both must give the same gradients bit for bit, and the same as
central differences in float64."""
import gc

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

import tinygen as tg

_UNARY = ("tanh", "sigmoid", "exp_small", "neg", "square")
_BINARY = ("add", "sub", "mul")


def _apply(op, a, b=None):
    if op == "tanh":
        return a.tanh()
    if op == "sigmoid":
        return a.sigmoid()
    if op == "exp_small":
        return (a * 0.1).exp()
    if op == "neg":
        return -a
    if op == "square":
        return a * a
    if op == "add":
        return a + b
    if op == "sub":
        return a - b
    return a * b


@st.composite
def programs(draw):
    """A random straight-line program over three leaves: (op, operand indices) steps, each operand
    any earlier value, so values fan out and leaves are used again and again."""
    n_steps = draw(st.integers(1, 25))
    steps = []
    for i in range(n_steps):
        n_values = 3 + i
        if draw(st.booleans()):
            steps.append((draw(st.sampled_from(_UNARY)), draw(st.integers(0, n_values - 1)), None))
        else:
            steps.append((draw(st.sampled_from(_BINARY)), draw(st.integers(0, n_values - 1)),
                          draw(st.integers(0, n_values - 1))))
    return steps


def _run(steps, leaves, hook=False):
    values = list(leaves)
    for op, i, j in steps:
        values.append(_apply(op, values[i], None if j is None else values[j]))
        if hook and len(values) == 4 and values[-1].requires_grad:
            values[-1].register_hook(lambda g: None)     # sends backward() down the general walk
    out = values[-1]
    for v in values[3:-1]:                                # every value reaches the output
        out = out + v.sum() * 0.01
    return out.sum()


def _leaves(dtype, seed):
    rng = np.random.default_rng(seed)
    # a vector, a row that broadcasts against it, and a small matrix-shaped leaf of 16 values
    return [tg.Tensor(rng.uniform(-1, 1, (4, 4)).astype(dtype), requires_grad=True),
            tg.Tensor(rng.uniform(-1, 1, (1, 4)).astype(dtype), requires_grad=True),
            tg.Tensor(rng.uniform(-1, 1, (4, 4)).astype(dtype), requires_grad=True)]


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@given(steps=programs(), seed=st.integers(0, 2**16))
def test_plain_and_general_walks_give_the_same_gradients(dtype, steps, seed):
    from tinygen.autograd import function
    if function.hooked_nodes:                       # (left by another test, in a cycle)
        gc.collect()
    assert not function.hooked_nodes                # so backward() below takes the plain walk
    plain = _leaves(dtype, seed)
    _run(steps, plain).backward()
    general = _leaves(dtype, seed)
    _run(steps, general, hook=True).backward()
    for p, q in zip(plain, general):
        if p.grad is None:
            assert q.grad is None
            continue
        assert p.grad.dtype == dtype
        np.testing.assert_array_equal(p.grad.numpy(), q.grad.numpy())


@given(steps=programs(), seed=st.integers(0, 2**16))
def test_the_plain_walk_matches_central_differences(steps, seed):
    leaves = _leaves(np.float64, seed)

    def f(*xs):
        return _run(steps, xs)
    assert tg.gradcheck(f, leaves)
