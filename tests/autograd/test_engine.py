"""Engine behaviour: accumulation, retain_graph, hooks, grad mode, deep chains, diamonds, tg.grad,
double backward, anomaly detection, seeding, dtype rules and error messages."""
import threading

import numpy as np
import pytest

import tinygen as tg


def leaf(values, dtype=np.float64):
    return tg.Tensor(np.asarray(values, dtype=dtype), requires_grad=True)


def test_gradients_accumulate_across_backward_calls():
    x = leaf([1.0, 2.0])
    (x * 3).sum().backward()
    (x * x).sum().backward()
    np.testing.assert_allclose(x.grad.numpy(), [3 + 2, 3 + 4])
    x.grad = None
    (x * 3).sum().backward()
    np.testing.assert_allclose(x.grad.numpy(), [3, 3])


def test_second_backward_through_freed_graph_is_a_clear_error():
    x = leaf([1.0, 2.0])
    y = (x.exp() * 2).sum()
    y.backward()
    with pytest.raises(RuntimeError, match="second time.*retain_graph=True"):
        y.backward()


def test_retain_graph_allows_two_backwards():
    x = leaf([1.0, 2.0])
    y = (x.exp() * 2).sum()
    y.backward(retain_graph=True)
    y.backward()
    np.testing.assert_allclose(x.grad.numpy(), 4 * np.exp([1.0, 2.0]))


def test_diamond_graph_sums_both_paths():
    x = leaf([0.5, -1.0])
    a = x * 2
    b = a.sin()
    c = a.cos()
    (b * c).sum().backward()        # d/dx sin(2x)cos(2x) = 2cos(4x)
    np.testing.assert_allclose(x.grad.numpy(), 2 * np.cos(4 * np.array([0.5, -1.0])), rtol=1e-12)


def test_shared_input_used_twice_in_one_op():
    x = leaf([3.0])
    (x * x).backward()
    np.testing.assert_allclose(x.grad.numpy(), [6.0])


def test_add_of_two_leaves_gives_independent_grad_arrays():
    a, b = leaf([1.0, 2.0]), leaf([3.0, 4.0])
    (a + b).sum().backward()
    a.grad.data[0] = 100.0
    assert b.grad.numpy()[0] == 1.0


def test_leaf_gradients_never_share_memory_with_each_other_or_the_given_grad():
    a, b = leaf([[1.0, 2.0], [3.0, 4.0]]), leaf([5.0, 6.0, 7.0, 8.0])
    g = np.arange(4.0)
    (a.reshape(4) + b).backward(g)          # one array reaches both leaves, one of them as a view
    a.grad.data[...] = 100.0                # (clip_grad_* change .grad in place like this)
    np.testing.assert_array_equal(b.grad.numpy(), np.arange(4.0))
    np.testing.assert_array_equal(g, np.arange(4.0))
    b.grad.data[...] = -1.0
    np.testing.assert_array_equal(a.grad.numpy(), np.full((2, 2), 100.0))


@pytest.mark.parametrize("size, uses", [(1, 40), (2, 40), (16, 40), (16, 600), (5000, 40)])
def test_a_leaf_used_many_times_gets_the_sum_in_order(size, uses):
    # sizes 2..4096 keep a list, 1 and 5000 sum as they come
    rng = np.random.default_rng(0)
    ws = [rng.standard_normal(size).astype(np.float32) for _ in range(uses)]
    x = tg.Tensor(rng.standard_normal(size).astype(np.float32), requires_grad=True)
    total = x * ws[0]
    for w in ws[1:]:
        total = total + x * w
    total.sum().backward()
    expected = ws[-1]                           # the engine meets the latest use first
    for w in reversed(ws[:-1]):
        expected = expected + w
    np.testing.assert_array_equal(x.grad.numpy(), expected)
    assert x.grad.dtype == np.float32


def test_node_inputs_are_rebuilt_from_what_the_node_keeps():
    x = leaf([1.0, 2.0])
    const = tg.Tensor(np.array([3.0, 4.0]))
    h = x * 2.0
    y = h * const
    a, b = y.grad_fn.inputs
    assert a.grad_fn is h.grad_fn and np.array_equal(a.data, h.data) and a.requires_grad
    assert not b.requires_grad and np.array_equal(b.data, const.data)
    assert h.grad_fn.inputs[0] is x and h.grad_fn.inputs[1] == 2.0
    assert list(y.grad_fn.needs) == [True, False] and list(h.grad_fn.needs) == [True, False]
    bare = np.array([5.0, 6.0])
    assert (x * bare).grad_fn.inputs[1] is bare     # a bare array is kept as given
    y.sum().backward()
    assert y.grad_fn.inputs is None              # released with the saved arrays


@pytest.mark.parametrize("op", ["tanh", "sigmoid", "exp", "sqrt"])
def test_ops_whose_gradient_needs_only_their_output_do_not_keep_their_input(op):
    import gc
    import weakref
    x = leaf([0.5, 1.5])
    h = x * 2
    try:
        freed = weakref.ref(h.data)
    except TypeError:
        pytest.skip("this array type takes no weak references")
    y = getattr(h, op)()
    del h
    gc.collect()
    assert freed() is None                      # only y is kept, as PyTorch keeps it
    y.sum().backward()
    expected = {"tanh": lambda v: 1 - np.tanh(v) ** 2, "sigmoid": lambda v: np.exp(-v) / (1 + np.exp(-v)) ** 2,
                "exp": np.exp, "sqrt": lambda v: 0.5 / np.sqrt(v)}[op](np.array([1.0, 3.0]))
    np.testing.assert_allclose(x.grad.numpy(), 2 * expected, rtol=1e-12)


def test_deep_chain_backprops_without_recursion():
    x = leaf([1.0])
    y = x
    for _ in range(100_000):
        y = y * 1.0 + 0.0
    y.backward()
    np.testing.assert_allclose(x.grad.numpy(), [1.0])


def test_no_grad_records_nothing_and_is_thread_local():
    x = leaf([1.0])
    with tg.no_grad():
        y = x * 2
        assert not tg.is_grad_enabled()
        seen = {}
        t = threading.Thread(target=lambda: seen.setdefault("enabled", tg.is_grad_enabled()))
        t.start()
        t.join()
    assert seen["enabled"] is True
    assert y.grad_fn is None and not y.requires_grad
    assert tg.is_grad_enabled()

    @tg.no_grad()
    def f(t):
        return t * 2
    assert f(x).grad_fn is None
    with tg.no_grad():
        with tg.enable_grad():
            assert (x * 2).requires_grad


def test_hooks_see_and_replace_gradients():
    x = leaf([1.0, 2.0])
    seen = []
    x.register_hook(lambda g: seen.append(g.numpy().copy()))
    y = x * 3
    y.register_hook(lambda g: g * 10)          # non-leaf hook replaces the gradient flowing on
    y.sum().backward()
    np.testing.assert_allclose(seen[0], [30, 30])
    np.testing.assert_allclose(x.grad.numpy(), [30, 30])


def test_a_hook_on_an_intermediate_tensor_runs_while_its_node_lives():
    import gc
    from tinygen.autograd import function
    x = leaf([1.0, 2.0])
    h = x * 3
    seen = []
    h.register_hook(lambda g: seen.append(g.numpy().copy()))
    (h * h).sum().backward()                        # the general walk runs the hook
    np.testing.assert_allclose(seen[0], [6.0, 12.0])
    assert h.grad_fn in function.hooked_nodes
    del h
    gc.collect()
    assert not function.hooked_nodes                # plain backward() walks lean again
    x.grad = None
    (x * x).sum().backward()
    np.testing.assert_allclose(x.grad.numpy(), [2.0, 4.0])


def test_hook_handle_remove_and_retain_grad():
    x = leaf([1.0])
    h = x.register_hook(lambda g: g * 0)
    h.remove()
    y = x * 2
    y.retain_grad()
    (y * 5).backward()
    np.testing.assert_allclose(x.grad.numpy(), [10])
    np.testing.assert_allclose(y.grad.numpy(), [5])


def test_tg_grad_returns_tuple_and_leaves_grad_untouched():
    x, w = leaf([1.0, 2.0]), leaf([0.5, 0.5])
    y = (x * w).sum()
    gx, gw = tg.grad(y, (x, w))
    np.testing.assert_allclose(gx.numpy(), [0.5, 0.5])
    np.testing.assert_allclose(gw.numpy(), [1.0, 2.0])
    assert x.grad is None and w.grad is None


def test_tg_grad_with_respect_to_an_intermediate():
    x = leaf([1.0, 2.0])
    h = x * 2
    y = (h * h).sum()
    (gh,) = tg.grad(y, [h])
    np.testing.assert_allclose(gh.numpy(), 2 * h.numpy())


def test_hessian_vector_product_by_double_backward():
    a = np.array([[2.0, 1.0], [1.0, 3.0]])
    x = leaf([1.0, -1.0])
    f = 0.5 * (x @ tg.Tensor(a) @ x) + x.sin().sum()
    (g,) = tg.grad(f, x, create_graph=True)
    v = tg.Tensor(np.array([1.0, 2.0]))
    (hv,) = tg.grad((g * v).sum(), x)
    h = a + np.diag(-np.sin([1.0, -1.0]))
    np.testing.assert_allclose(hv.numpy(), h @ np.array([1.0, 2.0]), rtol=1e-12)


def test_gradient_penalty_style_double_backward_reaches_parameters():
    w = leaf([[0.3, -0.2], [0.1, 0.4]])
    x = leaf([[1.0, 2.0]])
    out = (x @ w).tanh().sum()
    (gx,) = tg.grad(out, x, create_graph=True)
    penalty = ((gx * gx).sum() - 1) ** 2
    penalty.backward()
    assert w.grad is not None and np.all(np.isfinite(w.grad.numpy()))
    assert tg.gradgradcheck(lambda w, x: (x @ w).tanh().sum(), [w, x])


def test_op_without_differentiable_backward_says_so():
    from tinygen.autograd.function import Function

    class Opaque(Function):
        differentiable_backward = False

        def forward(self, x):
            return x * 2

        def backward(self, g, y, x):
            return g * 2

    x = leaf([1.0])
    y = Opaque.apply(x).sum()
    with pytest.raises(RuntimeError, match="Opaque does not support create_graph"):
        tg.grad(y, x, create_graph=True)


def test_backward_needs_a_scalar_or_a_grad():
    x = leaf([1.0, 2.0])
    y = x * 2
    with pytest.raises(RuntimeError, match="shape \\(2,\\).*ones_like"):
        y.backward()
    y.backward(tg.ones_like(y))
    np.testing.assert_allclose(x.grad.numpy(), [2, 2])


def test_backward_on_tensor_without_grad_is_an_error():
    with pytest.raises(RuntimeError, match="does not require grad"):
        tg.Tensor([1.0]).sum().backward()


def test_detect_anomaly_names_the_op_and_site():
    x = leaf([-1.0, 1.0])
    with tg.detect_anomaly():
        with pytest.raises(tg.AnomalyError, match="Log produced NaN"):
            x.log()
        y = (x * 0).sqrt().sum()          # forward fine (0), backward divides by zero
        with pytest.raises(tg.AnomalyError, match="(?s)Sqrt.s backward produced NaN/Inf.*test_engine.py"):
            y.backward()


def test_manual_seed_reproduces_random_tensors():
    tg.manual_seed(123)
    a = tg.randn(5).numpy()
    tg.manual_seed(123)
    b = tg.randn(5).numpy()
    np.testing.assert_array_equal(a, b)
    assert not np.array_equal(a, tg.randn(5).numpy())


def test_dtype_rules():
    assert tg.tensor([1.0, 2.0]).dtype == np.float32
    assert tg.tensor([1, 2]).dtype == np.int64
    assert tg.tensor(np.zeros(2, np.float64)).dtype == np.float64
    assert tg.zeros(2).dtype == np.float32
    assert tg.zeros(2, dtype="float64").dtype == np.float64
    assert tg.ones(2, dtype=tg.float64).dtype == np.float64
    x32, x64 = tg.ones(2), tg.ones(2, dtype=tg.float64)
    assert (x32 * 2.5).dtype == np.float32
    assert (x32 + x64).dtype == np.float64
    assert tg.arange(3).dtype == np.int64
    # NumPy scalars act like Python numbers (PyTorch's rule; NumPy 2 alone would give float64)
    for y in (x32 * np.float64(0.5), np.float64(0.5) * x32, x32 - np.int64(1), np.float64(3) / x32,
              x32 + np.float32(1)):
        assert isinstance(y, tg.Tensor) and y.dtype == np.float32
    np.testing.assert_array_equal((np.float64(3) - x32).numpy(), [2.0, 2.0])
    w = tg.ones(2, requires_grad=True)
    (w * np.float64(4.0)).sum().backward()
    assert w.grad.dtype == np.float32 and np.array_equal(w.grad.numpy(), [4.0, 4.0])


def test_integer_tensors_cannot_require_grad():
    with pytest.raises(TypeError, match="floating-point"):
        tg.tensor([1, 2], requires_grad=True)


def test_shape_errors_name_op_and_shapes():
    a, b = tg.ones(2, 3), tg.ones(4, 5)
    with pytest.raises(ValueError, match=r"matmul.*\(2, 3\).*\(4, 5\)"):
        a @ b
    with pytest.raises(ValueError, match=r"reshape.*\(2, 3\).*\(4,\)"):
        a.reshape(4)
    with pytest.raises(ValueError, match=r"cat.*\(4, 5\)"):
        tg.cat([a, b], axis=0)


def test_grad_assignment_is_checked():
    x = leaf([1.0, 2.0])
    with pytest.raises(ValueError, match="shape"):
        x.grad = tg.zeros(3, dtype=tg.float64)
    x.grad = tg.ones(2, dtype=tg.float64)
    assert x.grad.shape == (2,)


def test_inplace_on_leaf_requiring_grad_needs_no_grad():
    x = leaf([1.0, 2.0])
    with pytest.raises(RuntimeError, match="no_grad"):
        x.zero_()
    with tg.no_grad():
        x.add_(1.0).mul_(2.0)
    np.testing.assert_allclose(x.numpy(), [4.0, 6.0])


def test_arrays_and_numbers_are_accepted_as_constants():
    x = leaf([1.0, 2.0])
    y = (np.array([2.0, 3.0]) * x + 1).sum()
    y.backward()
    np.testing.assert_allclose(x.grad.numpy(), [2.0, 3.0])
    assert tg.exp(np.array([0.0])).numpy()[0] == 1.0


def test_item_repr_numpy_len():
    x = tg.tensor([[1.0, 2.0]], requires_grad=True)
    assert "requires_grad=True" in repr(x)
    assert "grad_fn=<Mul>" in repr(x * 2)
    assert len(x) == 1 and x.sum().item() == 3.0
    assert isinstance(x.numpy(), np.ndarray)


def test_to_dot_describes_ops_and_shapes():
    w = leaf(np.ones((2, 3)))
    x = tg.Tensor(np.ones((4, 2)))
    dot = tg.viz.to_dot((x @ w).tanh().sum(), names={w: "W"})
    assert dot.startswith("digraph") and "MatMul" in dot and "Tanh" in dot and "Sum" in dot
    assert "W" in dot and "(2, 3)" in dot and "requires_grad" in dot


def test_detach_and_no_grad_numpy_views():
    x = leaf([1.0])
    d = (x * 2).detach()
    assert d.grad_fn is None and not d.requires_grad
