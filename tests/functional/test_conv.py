"""conv2d and conv_transpose2d: values against direct loops, gradients and second derivatives by
finite differences, the adjoint identity, gradient penalties through a conv critic, errors."""
from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings, strategies as st

import tinygen as tg
import tinygen.functional as F
from futil import leaves_unmodified, t64


def conv2d_loops(x, w, b, s, p):
    """Direct definition: y[n, o, a, c] = Σ_{ci, i, j} xpad[n, ci, a·sh + i, c·sw + j] w[o, ci, i, j] + b[o]."""
    (sh, sw), (ph, pw) = s, p
    n, ci, h, wd = x.shape
    co, _, kh, kw = w.shape
    xp = np.zeros((n, ci, h + 2 * ph, wd + 2 * pw))
    xp[:, :, ph:ph + h, pw:pw + wd] = x
    ho, wo = (h + 2 * ph - kh) // sh + 1, (wd + 2 * pw - kw) // sw + 1
    y = np.zeros((n, co, ho, wo))
    for a in range(n):
        for o in range(co):
            for r in range(ho):
                for c in range(wo):
                    y[a, o, r, c] = np.sum(xp[a, :, r * sh:r * sh + kh, c * sw:c * sw + kw] * w[o])
    if b is not None:
        y += b[None, :, None, None]
    return y


def conv_transpose2d_loops(x, w, b, s, p, op):
    """Direct definition: every input pixel scatters x[n, ci, h, w]·W[ci, :, i, j] to output
    (h·sh + i − ph, w·sw + j − pw), kept when inside the output."""
    (sh, sw), (ph, pw), (oph, opw) = s, p, op
    n, ci, h, wd = x.shape
    _, co, kh, kw = w.shape
    ho, wo = (h - 1) * sh - 2 * ph + kh + oph, (wd - 1) * sw - 2 * pw + kw + opw
    y = np.zeros((n, co, ho, wo))
    for a in range(n):
        for c in range(ci):
            for r in range(h):
                for q in range(wd):
                    for i in range(kh):
                        for j in range(kw):
                            oy, ox = r * sh + i - ph, q * sw + j - pw
                            if 0 <= oy < ho and 0 <= ox < wo:
                                y[a, :, oy, ox] += x[a, c, r, q] * w[c, :, i, j]
    if b is not None:
        y += b[None, :, None, None]
    return y


@st.composite
def conv_cases(draw, max_size=6):
    n = draw(st.integers(1, 2))
    ci = draw(st.integers(1, 3))
    co = draw(st.integers(1, 3))
    kh, kw = draw(st.integers(1, 3)), draw(st.integers(1, 3))
    sh, sw = draw(st.integers(1, 2)), draw(st.integers(1, 2))
    ph, pw = draw(st.integers(0, 1)), draw(st.integers(0, 1))
    h = draw(st.integers(max(1, kh - 2 * ph), max_size))
    w = draw(st.integers(max(1, kw - 2 * pw), max_size))
    bias = draw(st.booleans())
    seed = draw(st.integers(0, 2**31 - 1))
    return n, ci, co, (kh, kw), (sh, sw), (ph, pw), (h, w), bias, seed


def _arrays(case, transposed=False):
    n, ci, co, (kh, kw), s, p, (h, w), bias, seed = case
    r = np.random.default_rng(seed)
    x = r.standard_normal((n, ci, h, w))
    wt = r.standard_normal((ci, co, kh, kw) if transposed else (co, ci, kh, kw))
    b = r.standard_normal(co) if bias else None
    return x, wt, b


def _stride_arg(s):
    return s[0] if s[0] == s[1] else s


@settings(max_examples=25, deadline=None)
@given(case=conv_cases())
def test_conv2d_matches_loops_and_gradcheck(case):
    x, w, b = _arrays(case)
    s, p = case[4], case[5]
    fn = (lambda x, w, b: F.conv2d(x, w, b, stride=_stride_arg(s), padding=p)) if b is not None else \
        (lambda x, w: F.conv2d(x, w, stride=s, padding=_stride_arg(p)))
    inputs = [x, w] + ([b] if b is not None else [])
    y = leaves_unmodified(fn, *inputs)
    np.testing.assert_allclose(y.numpy(), conv2d_loops(x, w, b, s, p), rtol=1e-12, atol=1e-12)
    assert tg.gradcheck(fn, [t64(a) for a in inputs])


@settings(max_examples=25, deadline=None)
@given(case=conv_cases(max_size=4), data=st.data())
def test_conv_transpose2d_matches_loops_and_gradcheck(case, data):
    x, w, b = _arrays(case, transposed=True)
    s, p = case[4], case[5]
    kh, kw = case[3]
    op = (data.draw(st.integers(0, s[0] - 1)), data.draw(st.integers(0, s[1] - 1)))
    # the output must be non-empty
    h, wd = x.shape[2:]
    if (h - 1) * s[0] - 2 * p[0] + kh + op[0] < 1 or (wd - 1) * s[1] - 2 * p[1] + kw + op[1] < 1:
        p = (0, 0)
    fn = lambda x, w, *b: F.conv_transpose2d(x, w, b[0] if b else None, stride=s, padding=p, output_padding=op)
    inputs = [x, w] + ([b] if b is not None else [])
    y = leaves_unmodified(fn, *inputs)
    np.testing.assert_allclose(y.numpy(), conv_transpose2d_loops(x, w, b, s, p, op), rtol=1e-12, atol=1e-12)
    assert tg.gradcheck(fn, [t64(a) for a in inputs])


@settings(max_examples=8, deadline=None)
@given(case=conv_cases(max_size=4))
def test_conv2d_gradgradcheck(case):
    x, w, b = _arrays(case)
    s, p = case[4], case[5]
    fn = lambda x, w, *b: F.conv2d(x, w, b[0] if b else None, stride=s, padding=p)
    inputs = [x, w] + ([b] if b is not None else [])
    assert tg.gradgradcheck(fn, [t64(a) for a in inputs])


@settings(max_examples=8, deadline=None)
@given(case=conv_cases(max_size=3), data=st.data())
def test_conv_transpose2d_gradgradcheck(case, data):
    x, w, b = _arrays(case, transposed=True)
    s, kh, kw = case[4], case[3][0], case[3][1]
    op = (data.draw(st.integers(0, s[0] - 1)), data.draw(st.integers(0, s[1] - 1)))
    fn = lambda x, w, *b: F.conv_transpose2d(x, w, b[0] if b else None, stride=s, output_padding=op)
    inputs = [x, w] + ([b] if b is not None else [])
    assert tg.gradgradcheck(fn, [t64(a) for a in inputs])


def test_conv_transpose_is_adjoint_of_conv():
    r = np.random.default_rng(3)
    x = r.standard_normal((2, 3, 7, 6))
    w = r.standard_normal((4, 3, 3, 2))
    y = F.conv2d(x, w, stride=2, padding=1)
    z = r.standard_normal(y.shape)
    op = (7 + 2 - 3) % 2, (6 + 2 - 2) % 2
    xt = F.conv_transpose2d(z, w, stride=2, padding=1, output_padding=op)
    assert xt.shape == x.shape
    np.testing.assert_allclose(np.sum(y.numpy() * z), np.sum(x * xt.numpy()), rtol=1e-12)


def test_gradient_penalty_through_conv_critic():
    """WGAN-GP: ‖∇ₓ D(x)‖ needs the second derivative of conv2d with respect to the weights."""
    r = np.random.default_rng(0)
    x = t64(r.standard_normal((2, 1, 5, 5)))
    w1 = t64(r.standard_normal((2, 1, 3, 3)) * 0.5)
    b1 = t64(r.standard_normal(2) * 0.1)
    w2 = t64(r.standard_normal((1, 2, 3, 3)) * 0.5)

    def penalty(x, w1, b1, w2):
        with tg.enable_grad():          # gradcheck evaluates under no_grad
            h = F.elu(F.conv2d(x, w1, b1, stride=2, padding=1))
            d = F.conv2d(h, w2).sum()
            (gx,) = tg.grad(d, [x], create_graph=True)
        return ((gx * gx).sum(axis=(1, 2, 3)).sqrt() - 1) ** 2

    gp = penalty(x, w1, b1, w2).sum()
    gp.backward()
    assert w1.grad is not None and w2.grad is not None and b1.grad is not None
    assert tg.gradcheck(lambda w1, b1, w2: penalty(x, w1, b1, w2), [w1, b1, w2])


def test_float32_dtype_and_shapes():
    x = tg.randn(2, 3, 8, 8, requires_grad=True)
    w = tg.randn(4, 3, 3, 3, requires_grad=True)
    y = F.conv2d(x, w, padding=1)
    assert y.dtype == np.float32 and y.shape == (2, 4, 8, 8)
    y.sum().backward()
    assert x.grad.dtype == np.float32 and w.grad.dtype == np.float32
    wt = tg.randn(3, 5, 4, 4)
    z = F.conv_transpose2d(x, wt, stride=2, padding=1)
    assert z.shape == (2, 5, 16, 16) and z.dtype == np.float32


def test_conv_errors_name_op_and_shapes():
    x = np.zeros((2, 3, 8, 8))
    with pytest.raises(ValueError, match=r"conv2d: input has 3 channels but weight expects 4.*\(2, 3, 8, 8\)"):
        F.conv2d(x, np.zeros((5, 4, 3, 3)))
    with pytest.raises(ValueError, match="conv2d: input must be 4-D"):
        F.conv2d(np.zeros((3, 8, 8)), np.zeros((5, 3, 3, 3)))
    with pytest.raises(ValueError, match="conv2d: bias"):
        F.conv2d(x, np.zeros((5, 3, 3, 3)), np.zeros(4))
    with pytest.raises(ValueError, match="larger than the padded input"):
        F.conv2d(np.zeros((1, 3, 2, 2)), np.zeros((5, 3, 3, 3)))
    with pytest.raises(ValueError, match="conv_transpose2d: input has 3 channels but weight expects 5"):
        F.conv_transpose2d(x, np.zeros((5, 3, 3, 3)))
    with pytest.raises(ValueError, match="output_padding"):
        F.conv_transpose2d(x, np.zeros((3, 2, 3, 3)), stride=2, output_padding=2)
    with pytest.raises(ValueError, match="stride"):
        F.conv2d(x, np.zeros((5, 3, 3, 3)), stride=0)


@pytest.mark.parametrize("transposed", [False, True])
@pytest.mark.parametrize("stride, padding, k", [(1, 1, 3), (2, 1, 4), (1, 0, 1)])
def test_batch_chunks_and_column_orders_match(monkeypatch, transposed, stride, padding, k):
    """The CPU path may split the batch into chunks and order the columns batch-minor; values, all
    three gradients and a second derivative equal the one-chunk (n, h, w)-ordered computation
    (up to float64 rounding)."""
    from tinygen.autograd import conv as _conv
    r = np.random.default_rng(7)
    x = r.standard_normal((7, 3, 6, 5))
    w = r.standard_normal((3, 4, k, k) if transposed else (4, 3, k, k))
    b = r.standard_normal(4)
    op = F.conv_transpose2d if transposed else F.conv2d

    def run(chunked, batch_minor):
        monkeypatch.setattr(_conv, "_CHUNK_BYTES", 1 if chunked else 1 << 40)
        monkeypatch.setattr(_conv, "_MIN_CHUNK_COLS", 40)     # chunks of 2 images and a last one of 1
        monkeypatch.setattr(_conv, "_BATCH_MINOR_MIN", 1 if batch_minor else 1 << 40)
        monkeypatch.setattr(_conv, "_BATCH_MINOR_MIN_ROWS", 1)      # (K here is 3·k², below the default)
        xs, ws, bs = t64(x), t64(w), t64(b)
        y = op(xs, ws, bs, stride=stride, padding=padding)
        (gx,) = tg.grad((y * y).sum(), [xs], create_graph=True)
        (gx * gx).sum().backward()
        y2 = op(t64(x), ws, bs, stride=stride, padding=padding)
        y2.sum().backward()
        return [y.numpy(), gx.numpy(), ws.grad.numpy(), bs.grad.numpy()]

    assert _conv._chunks(7, 100, 30, 8, "numba") == [(0, 7)]
    one = run(False, False)
    for chunked, batch_minor in ((True, False), (False, True), (True, True)):
        for a, c in zip(one, run(chunked, batch_minor)):
            np.testing.assert_allclose(c, a, rtol=1e-12, atol=1e-12)
    monkeypatch.setattr(_conv, "_CHUNK_BYTES", 1)
    assert _conv._chunks(7, 100, 30, 8, "numba") == [(0, 2), (2, 4), (4, 6), (6, 7)]   # an even count


def test_batch_minor_order_only_for_chunks_of_8_and_64_column_rows():
    from tinygen.autograd import conv as _conv
    assert _conv._batch_minor(16, "numba", 1024) and _conv._batch_minor(8, "numba", 64)
    assert not _conv._batch_minor(16, "numba", 16)       # conv2d 1→64 4×4: K = 16
    assert not _conv._batch_minor(4, "numba", 1024)
    assert not _conv._batch_minor(16, "reference", 1024)


def test_thin_convolutions_agree_in_both_column_orders(monkeypatch):
    """A 1-channel 4×4 stride-2 conv (K = 16 rows: (n, h, w) order) and the same with the
    batch-minor order forced give the same values and gradients."""
    from tinygen.autograd import conv as _conv
    r = np.random.default_rng(3)
    x, w, b = r.standard_normal((16, 1, 12, 12)), r.standard_normal((8, 1, 4, 4)), r.standard_normal(8)

    def run(min_rows):
        monkeypatch.setattr(_conv, "_BATCH_MINOR_MIN_ROWS", min_rows)
        xs, ws, bs = t64(x), t64(w), t64(b)
        y = F.conv2d(xs, ws, bs, stride=2, padding=1)
        yt = F.conv_transpose2d(y, t64(w), stride=2, padding=1)          # back to 1 channel (K = 16)
        (y.sum() + (yt * yt).sum()).backward()
        return [y.numpy(), yt.numpy(), xs.grad.numpy(), ws.grad.numpy(), bs.grad.numpy()]

    for a, c in zip(run(64), run(1)):
        np.testing.assert_allclose(c, a, rtol=1e-12, atol=1e-12)


def test_chunk_plan_depends_on_shapes_only():
    from tinygen.autograd import conv as _conv
    # 64 images of 3×3×64 columns over 14×14 (451 KB each): 16 would take 7.2 MB, so chunks of 8
    assert _conv._chunks(64, 576 * 196, 196, 4, "numba") == [(i, i + 8) for i in range(0, 64, 8)]
    # 4×4×64 columns over 7×7 (200 KB each): chunks of 16
    assert _conv._chunks(64, 1024 * 49, 49, 4, "numba") == [(0, 16), (16, 32), (32, 48), (48, 64)]
    for n in (50, 100, 129):
        plan = _conv._chunks(n, 576 * 196, 196, 4, "numba")
        sizes = [b - a for a, b in plan]
        assert plan[0][0] == 0 and plan[-1][1] == n and all(p[1] == q[0] for p, q in zip(plan, plan[1:]))
        assert len(plan) % 2 == 0 and max(sizes) - min(sizes) <= 1      # an even count, sizes within one
        assert min(sizes) * 576 * 196 * 4 <= _conv._CHUNK_BYTES
    assert _conv._chunks(64, 100, 1, 4, "numba") == [(0, 64)]          # tiny columns: one chunk
    assert _conv._chunks(64, 576 * 196, 196, 4, "cupy") == [(0, 64)]   # devices: one chunk


@pytest.mark.parametrize("transposed", [False, True])
def test_results_do_not_depend_on_the_thread_count(transposed):
    """Chunks run on tinygen's worker threads; values and gradients are bitwise the same for 1
    and 3 threads (the chunk plan and the order of the partial sums do not change)."""
    from tinygen import parallel
    r = np.random.default_rng(3)
    x = r.standard_normal((40, 8, 9, 9)).astype(np.float32)
    w = r.standard_normal((6, 8, 3, 3) if not transposed else (8, 6, 4, 4)).astype(np.float32)
    op = (lambda a, b: F.conv_transpose2d(a, b, stride=2, padding=1)) if transposed else \
        (lambda a, b: F.conv2d(a, b, padding=1))
    before = parallel.get_num_threads()
    out = []
    try:
        for n in (1, 3):
            parallel.set_num_threads(n)
            xs, ws = tg.tensor(x, requires_grad=True), tg.tensor(w, requires_grad=True)
            y = op(xs, ws)
            (y * y).sum().backward()
            out.append([y.numpy(), xs.grad.numpy(), ws.grad.numpy()])
    finally:
        parallel.set_num_threads(before)
    for a, b in zip(*out):
        assert np.array_equal(a, b)


@pytest.mark.parametrize("stride", [1, 2])
def test_transposed_conv_of_a_1x1_input_is_a_product(monkeypatch, stride):
    """DCGAN's first generator layer (z as 1×1 maps) skips col2im; values and gradients equal
    the general path, and gradcheck/gradgradcheck hold."""
    from tinygen.autograd import conv as _conv
    r = np.random.default_rng(5)
    x, w, b = r.standard_normal((3, 4, 1, 1)), r.standard_normal((4, 5, 3, 2)), r.standard_normal(5)

    def run():
        xs, ws, bs = t64(x), t64(w), t64(b)
        y = F.conv_transpose2d(xs, ws, bs, stride=stride)
        (y * y).sum().backward()
        return [y.numpy(), xs.grad.numpy(), ws.grad.numpy(), bs.grad.numpy()]

    fast = run()
    assert fast[0].shape == (3, 5, 3, 2)
    monkeypatch.setattr(_conv, "_stamp", lambda *a: False)
    for a, c in zip(fast, run()):
        np.testing.assert_allclose(a, c, rtol=1e-12, atol=1e-12)
    monkeypatch.undo()
    f = lambda xs, ws: F.conv_transpose2d(xs, ws, stride=stride)   # noqa: E731
    assert tg.gradcheck(f, [t64(x), t64(w)])
    assert tg.gradgradcheck(f, [t64(x), t64(w)])
