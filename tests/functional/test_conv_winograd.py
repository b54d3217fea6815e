"""The Winograd paths of conv2d (3×3 stride 1: F(2×2, 3×3), F(4×4, 3×3); 4×4 stride 2: F(4×4, 2×2))
and conv_transpose2d (4×4 stride 2), on the CPU with the Numba kernels: the same values and
gradients as the definition, taken only where they apply, and independent of the thread count."""
from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings, strategies as st

import tinygen as tg
import tinygen.functional as F
import tinygen.kernels as K
from tinygen.autograd import conv as _conv
from futil import leaves_unmodified, t64
from test_conv import conv2d_loops, conv_transpose2d_loops

pytestmark = pytest.mark.skipif(not K.numba_available() or tg.get_default_device() != "cpu",
                                reason="the Winograd path is the CPU's (Numba kernels)")


@pytest.fixture
def calls(monkeypatch):
    """Counts of the Winograd forward and backward passes run."""
    seen = {"forward": 0, "backward": 0}
    fwd, bwd = _conv._winograd_forward, _conv._winograd_backward

    def spy_fwd(*a, **k):
        seen["forward"] += 1
        return fwd(*a, **k)

    def spy_bwd(*a, **k):
        seen["backward"] += 1
        return bwd(*a, **k)

    monkeypatch.setattr(_conv, "_winograd_forward", spy_fwd)
    monkeypatch.setattr(_conv, "_winograd_backward", spy_bwd)
    return seen


def _forced_path_matches_loops(module, knobs, k, stride, n, ci, co, ph, pw, h, w, bias, seed):
    """With ``knobs`` set on tinygen.autograd.conv, a k×k conv2d takes the Winograd path of
    ``module``: the definition's values and gradients passing gradcheck (float64)."""
    h, w = max(h, k - 2 * ph), max(w, k - 2 * pw)
    r = np.random.default_rng(seed)
    x, wt = r.standard_normal((n, ci, h, w)), r.standard_normal((co, ci, k, k))
    b = r.standard_normal(co) if bias else None
    fn = lambda x, w, *b: F.conv2d(x, w, b[0] if b else None, stride=stride, padding=(ph, pw))
    inputs = [x, wt] + ([b] if bias else [])
    used = []
    original = _conv._winograd_forward
    with pytest.MonkeyPatch.context() as mp:      # (hypothesis: no function-scoped fixtures)
        for name, value in knobs.items():
            mp.setattr(_conv, name, value)
        mp.setattr(_conv, "_winograd_forward", lambda *a: used.append(a[4]) or original(*a))
        y = leaves_unmodified(fn, *inputs)
        assert used == [module]
        np.testing.assert_allclose(y.numpy(), conv2d_loops(x, wt, b, (stride, stride), (ph, pw)),
                                   rtol=1e-12, atol=1e-12)
        assert tg.gradcheck(fn, [t64(a) for a in inputs])


GEOMETRY = dict(n=st.integers(1, 3), ci=st.integers(1, 3), co=st.integers(1, 3), ph=st.integers(0, 2),
                pw=st.integers(0, 2), bias=st.booleans(), seed=st.integers(0, 2**31 - 1))


@settings(max_examples=20, deadline=None)
@given(h=st.integers(1, 7), w=st.integers(1, 7), **GEOMETRY)
def test_matches_loops_and_gradcheck(n, ci, co, ph, pw, h, w, bias, seed):
    """With no thresholds every 3×3 stride-1 conv2d takes the F(2×2, 3×3) path (float64)."""
    from tinygen.kernels import winograd
    knobs = {"_WINOGRAD_MIN_CHANNELS": 1, "_WINOGRAD_MAX_WASTE": float("inf"), "_WINOGRAD_MIN_TILES": 0,
             "_WINOGRAD4_MIN_TILES": 1 << 30}
    _forced_path_matches_loops(winograd, knobs, 3, 1, n, ci, co, ph, pw, h, w, bias, seed)


def _step(x, w, b, padding=1, stride=1):
    xs, ws, bs = (tg.tensor(a, requires_grad=True) for a in (x, w, b))
    y = F.conv2d(xs, ws, bs, stride=stride, padding=padding)
    (y * y).sum().backward()
    return [y.numpy(), xs.grad.numpy(), ws.grad.numpy(), bs.grad.numpy()]


@pytest.mark.parametrize("n, padding, hw", [(5, 1, (9, 11)), (40, 1, (9, 11)), (3, 0, (12, 11)), (2, 2, (9, 11))])
def test_float32_agrees_with_im2col(monkeypatch, calls, n, padding, hw):
    """At the default threshold (16 channels) a float32 conv takes the Winograd path; values and
    gradients agree with the im2col path to float32 rounding (relative to each array's scale)."""
    r = np.random.default_rng(1)
    x = r.standard_normal((n, 16) + hw).astype(np.float32)
    w = (r.standard_normal((24, 16, 3, 3)) * 0.1).astype(np.float32)
    b = r.standard_normal(24).astype(np.float32)
    wino = _step(x, w, b, padding)
    assert calls == {"forward": 1, "backward": 1}
    monkeypatch.setattr(_conv, "_WINOGRAD_MIN_CHANNELS", 1 << 30)
    monkeypatch.setattr(_conv, "_WINOGRAD4_MIN_CHANNELS", 1 << 30)
    im2col = _step(x, w, b, padding)
    assert calls == {"forward": 1, "backward": 1}
    for a, c in zip(wino, im2col):
        np.testing.assert_allclose(a, c, rtol=1e-4, atol=2e-5 * np.abs(c).max())


@pytest.mark.parametrize("case", ["stride 2", "4x4 kernel", "few input channels", "few output channels",
                                  "mixed dtypes", "reference kernels", "5x5 output"])
def test_taken_only_where_it_applies(calls, case):
    """Stride 1, a 3×3 kernel, one dtype, the Numba kernels, enough channels (F(2×2): 16 each way,
    so not 16→8 on a 6×6 output, which F(4×4) would cover with 78 % waste; F(4×4): 64 input
    channel-tiles, so not 8 channels on 8×8) and outputs that the tiles cover without much waste
    (a 5×5 output: 44 % under 2×2 tiles, 156 % under 4×4 ones)."""
    r = np.random.default_rng(2)
    ci, co, k, stride, size = 16, 16, 3, 1, 8
    if case == "stride 2":
        stride = 2
    elif case == "4x4 kernel":
        k = 4
    elif case == "few input channels":
        ci = 8
    elif case == "few output channels":
        co, size = 8, 6
    elif case == "5x5 output":
        size = 5
    x = r.standard_normal((4, ci, size, size)).astype(np.float32)
    w = r.standard_normal((co, ci, k, k)).astype(np.float64 if case == "mixed dtypes" else np.float32)
    b = np.zeros(co, np.float32)
    with K.use_fused(case != "reference kernels"):
        _step(x, w, b, stride=stride)
    assert calls == {"forward": 0, "backward": 0}
    x = r.standard_normal((4, 16, 8, 8)).astype(np.float32)
    _step(x, r.standard_normal((16, 16, 3, 3)).astype(np.float32), np.zeros(16, np.float32))
    assert calls == {"forward": 1, "backward": 1}


@pytest.mark.parametrize("module, k, stride, hw, c", [("winograd", 3, 1, 9, 16), ("winograd4", 3, 1, 14, 16),
                                                      ("winograd_s2", 4, 2, 14, 64)])
def test_results_do_not_depend_on_the_thread_count(calls, module, k, stride, hw, c):
    """Bitwise the same values and gradients on 1 and 3 threads, for each Winograd path (its
    chunks depend on the shapes only; weight-gradient parts are added in chunk order)."""
    from tinygen import parallel
    r = np.random.default_rng(3)
    x = r.standard_normal((72, c, hw, hw)).astype(np.float32)
    w = r.standard_normal((16, c, k, k)).astype(np.float32)
    b = r.standard_normal(16).astype(np.float32)
    wg = _conv._use_winograd(x, w, (stride, stride), (1, 1), "numba")
    assert wg is not None and wg.__name__.endswith("." + module)
    before = parallel.get_num_threads()
    try:
        parallel.set_num_threads(1)
        one = _step(x, w, b, stride=stride)
        parallel.set_num_threads(3)
        three = _step(x, w, b, stride=stride)
    finally:
        parallel.set_num_threads(before)
    assert calls == {"forward": 2, "backward": 2}
    assert len(_conv._winograd_chunks(72, c, *wg.tiles(hw, hw, 1, 1)[2:], x.dtype, wg)) > 1
    for a, c in zip(one, three):
        assert np.array_equal(a, c)


def test_empty_batch_and_one_pixel_outputs(monkeypatch):
    monkeypatch.setattr(_conv, "_WINOGRAD_MIN_CHANNELS", 1)
    monkeypatch.setattr(_conv, "_WINOGRAD_MAX_WASTE", float("inf"))
    r = np.random.default_rng(4)
    w = r.standard_normal((2, 3, 3, 3))
    y = F.conv2d(t64(np.zeros((0, 3, 5, 5))), t64(w), padding=1)
    assert y.shape == (0, 2, 5, 5)
    x = r.standard_normal((2, 3, 3, 3))
    fn = lambda x, w: F.conv2d(x, w)                     # a 1×1 output: one tile, three rows dropped
    np.testing.assert_allclose(fn(t64(x), t64(w)).numpy(), conv2d_loops(x, w, None, (1, 1), (0, 0)), rtol=1e-12)
    assert tg.gradcheck(fn, [t64(x), t64(w)])


@settings(max_examples=15, deadline=None)
@given(h=st.integers(1, 10), w=st.integers(1, 10), **GEOMETRY)
def test_f4x4_matches_loops_and_gradcheck(n, ci, co, ph, pw, h, w, bias, seed):
    """With no thresholds every 3×3 stride-1 conv2d takes the F(4×4, 3×3) path (float64)."""
    from tinygen.kernels import winograd4
    knobs = {"_WINOGRAD4_MIN_CHANNELS": 1, "_WINOGRAD4_MIN_WORK": 0, "_WINOGRAD4_MIN_TILES": 1,
             "_WINOGRAD4_MAX_WASTE": float("inf")}
    _forced_path_matches_loops(winograd4, knobs, 3, 1, n, ci, co, ph, pw, h, w, bias, seed)


@pytest.mark.parametrize("hw, expected", [((14, 14), "winograd4"), ((28, 28), "winograd4"), ((16, 30), "winograd4"),
                                          ((12, 12), "winograd4"), ((8, 8), "winograd4"), ((7, 7), "winograd4"),
                                          ((6, 6), "winograd"), ((14, 9), "winograd"), ((13, 13), "winograd"),
                                          ((4, 4), None), ((5, 5), None), ((2, 2), None)])
def test_tile_size_follows_the_output_size(hw, expected):
    """F(4×4, 3×3) where each image has 2×2 or more of its tiles wasting at most 50 % (13×13 under
    16×16 wastes 51 %, 6×6 under 8×8 78 %); else F(2×2, 3×3) where each image has 3×3 or more
    2×2 tiles wasting at most 25 %; else im2col (16 channels here)."""
    x = np.zeros((2, 16) + hw, np.float32)
    w = np.zeros((16, 16, 3, 3), np.float32)
    wg = _conv._use_winograd(x, w, (1, 1), (1, 1), "numba")
    assert (None if wg is None else wg.__name__.rsplit(".", 1)[1]) == expected


@pytest.mark.parametrize("n, hw", [(5, (14, 14)), (40, (28, 17))])
def test_f4x4_float32_agrees_with_im2col(monkeypatch, calls, n, hw):
    """At the default thresholds a float32 conv on a 14×14 output (or 28×17) takes F(4×4, 3×3):
    values and gradients agree with im2col's to float32 rounding (its points ±2 and G's 1/24
    round more than F(2×2, 3×3): within 2e-5 of each array's largest value)."""
    r = np.random.default_rng(4)
    x = r.standard_normal((n, 16) + hw).astype(np.float32)
    w = (r.standard_normal((24, 16, 3, 3)) * 0.1).astype(np.float32)
    b = r.standard_normal(24).astype(np.float32)
    wino = _step(x, w, b)
    assert calls == {"forward": 1, "backward": 1}
    monkeypatch.setattr(_conv, "_WINOGRAD_MIN_CHANNELS", 1 << 30)
    monkeypatch.setattr(_conv, "_WINOGRAD4_MIN_CHANNELS", 1 << 30)
    im2col = _step(x, w, b)
    for a, c in zip(wino, im2col):
        err = np.abs(a - c).max() / np.abs(c).max()
        assert err < 2e-5, err


@settings(max_examples=15, deadline=None)
@given(h=st.integers(1, 12), w=st.integers(1, 12), **GEOMETRY)
def test_stride2_matches_loops_and_gradcheck(n, ci, co, ph, pw, h, w, bias, seed):
    """A 4×4 stride-2 conv2d on the F(4×4, 2×2) path (float64): the definition's values, and
    gradients that pass gradcheck, the weight gradient from the V its forward kept."""
    from tinygen.kernels import winograd_s2
    knobs = {"_WINOGRAD_MIN_CHANNELS": 1, "_WINOGRAD_S2_MAX_WASTE": float("inf"), "_WINOGRAD_S2_MIN_WORK": 0,
             "_WINOGRAD_S2_MIN_TILES": 0}
    _forced_path_matches_loops(winograd_s2, knobs, 4, 2, n, ci, co, ph, pw, h, w, bias, seed)


@pytest.fixture
def s2_everywhere(monkeypatch):
    """Every 4×4 stride-2 conv2d takes the F(4×4, 2×2) path, whatever its channels and waste."""
    monkeypatch.setattr(_conv, "_WINOGRAD_MIN_CHANNELS", 1)
    monkeypatch.setattr(_conv, "_WINOGRAD_S2_MAX_WASTE", float("inf"))
    monkeypatch.setattr(_conv, "_WINOGRAD_S2_MIN_WORK", 0)
    monkeypatch.setattr(_conv, "_WINOGRAD_S2_MIN_TILES", 0)


def test_stride2_double_backward_and_retained_graph(s2_everywhere):
    """Second derivatives through the F(4×4, 2×2) conv and transposed conv (gradgradcheck), and a
    graph retained for two backward passes: the kept V serves both (gradients add up), then goes
    back to the pool."""
    r = np.random.default_rng(5)
    x, w = r.standard_normal((2, 2, 8, 6)), r.standard_normal((3, 2, 4, 4))
    fn = lambda x, w: F.conv2d(x, w, stride=2, padding=1)
    assert tg.gradgradcheck(fn, [t64(x), t64(w)])
    fn_t = lambda x, w: F.conv_transpose2d(x, w, stride=2, padding=1)      # (its adjoint)
    assert tg.gradgradcheck(fn_t, [t64(x[:, :, :4, :3]), t64(w.transpose(1, 0, 2, 3)[:2])])
    xs, ws = t64(x), t64(w)
    y = fn(xs, ws)
    (y * y).sum().backward(retain_graph=True)
    once = ws.grad.numpy().copy()
    (y * y).sum().backward()
    np.testing.assert_allclose(ws.grad.numpy(), 2 * once, rtol=1e-12)
    with pytest.raises(RuntimeError, match="a second time"):
        (y * y).sum().backward()


@pytest.mark.parametrize("case, expected", [("DCGAN 64→128", "winograd_s2"), ("16 channels on 28×28", "winograd_s2"),
                                            ("1 input channel", None), ("3×3 output", None), ("4×4 output", None),
                                            ("32 channels on 8×8 out", None), ("stride 1", None)])
def test_stride2_taken_only_where_it_applies(case, expected):
    """4×4 stride 2 with 16+ channels each way, at least 2×2 tiles and 256 input channel-tiles
    per image, and at most 35 % waste under 4×4 tiles (DCGAN's 7×7 output: 31 %)."""
    ci, hw, stride = 64, 14, (2, 2)
    if case == "16 channels on 28×28":
        ci, hw = 16, 28
    elif case == "1 input channel":
        ci = 1
    elif case == "3×3 output":
        hw = 6
    elif case == "4×4 output":
        hw = 8
    elif case == "32 channels on 8×8 out":
        ci, hw = 32, 16
    elif case == "stride 1":
        stride = (1, 1)
    x = np.zeros((2, ci, hw, hw), np.float32)
    w = np.zeros((128, ci, 4, 4), np.float32)
    wg = _conv._use_winograd(x, w, stride, (1, 1), "numba")
    assert (None if wg is None else wg.__name__.rsplit(".", 1)[1]) == expected


def test_stride2_float32_agrees_with_im2col(monkeypatch, calls):
    """At the default thresholds DCGAN's 64→128 4/2/1 layer takes F(4×4, 2×2) in float32; its
    values and gradients agree with im2col's to float32 rounding."""
    r = np.random.default_rng(6)
    x = r.standard_normal((6, 64, 14, 14)).astype(np.float32)
    w = (r.standard_normal((128, 64, 4, 4)) * 0.05).astype(np.float32)
    b = r.standard_normal(128).astype(np.float32)
    wino = _step(x, w, b, padding=1, stride=2)
    assert calls == {"forward": 1, "backward": 1}
    monkeypatch.setattr(_conv, "_WINOGRAD_MIN_CHANNELS", 1 << 30)
    monkeypatch.setattr(_conv, "_WINOGRAD4_MIN_CHANNELS", 1 << 30)
    im2col = _step(x, w, b, padding=1, stride=2)
    for a, c in zip(wino, im2col):
        err = np.abs(a - c).max() / np.abs(c).max()
        assert err < 2e-5, err


@settings(max_examples=12, deadline=None)
@given(h=st.integers(1, 7), w=st.integers(1, 7), op=st.tuples(st.integers(0, 1), st.integers(0, 1)), **GEOMETRY)
def test_transposed_stride2_matches_loops_and_gradcheck(n, ci, co, ph, pw, h, w, op, bias, seed):
    """A 4×4 stride-2 conv_transpose2d on the F(4×4, 2×2) path, the adjoint transforms (float64):
    the definition's values and gradients that pass gradcheck, the weight gradient from the dM its
    forward kept."""
    r = np.random.default_rng(seed)
    x, wt = r.standard_normal((n, ci, h, w)), r.standard_normal((ci, co, 4, 4))
    b = r.standard_normal(co) if bias else None
    fn = lambda x, w, *b: F.conv_transpose2d(x, w, b[0] if b else None, stride=2, padding=(ph, pw),
                                             output_padding=op)
    ho, wo = (h - 1) * 2 - 2 * ph + 4 + op[0], (w - 1) * 2 - 2 * pw + 4 + op[1]
    if ho < 1 or wo < 1 or _conv._stamp(x, wt, (ph, pw), (ho, wo)):
        return                  # (no output, or a 1×1 input's plain product)
    inputs = [x, wt] + ([b] if bias else [])
    used = []
    original = _conv._winograd_t_forward
    with pytest.MonkeyPatch.context() as mp:
        for name, value in {"_WINOGRAD_MIN_CHANNELS": 1, "_WINOGRAD_S2_MAX_WASTE": float("inf"),
                            "_WINOGRAD_S2_MIN_WORK": 0, "_WINOGRAD_S2_MIN_TILES": 0}.items():
            mp.setattr(_conv, name, value)
        mp.setattr(_conv, "_winograd_t_forward", lambda *a: used.append(1) or original(*a))
        y = leaves_unmodified(fn, *inputs)
        assert used == [1]
        np.testing.assert_allclose(y.numpy(), conv_transpose2d_loops(x, wt, b, (2, 2), (ph, pw), op),
                                   rtol=1e-12, atol=1e-12)
        assert tg.gradcheck(fn, [t64(a) for a in inputs])


def test_transposed_stride2_float32_agrees_with_col2im_and_is_thread_independent(monkeypatch):
    """DCGAN's generator layer 128→64 4/2/1 takes the F(4×4, 2×2) path in float32: values and
    gradients within 2e-5 of col2im's (of each array's largest value), bitwise the same on 1 and
    3 threads; a retained graph serves two backward passes from the kept dM."""
    from tinygen import parallel
    r = np.random.default_rng(7)
    x = r.standard_normal((72, 128, 7, 7)).astype(np.float32)
    w = (r.standard_normal((128, 64, 4, 4)) * 0.05).astype(np.float32)
    b = r.standard_normal(64).astype(np.float32)
    used = []
    original = _conv._winograd_t_forward
    monkeypatch.setattr(_conv, "_winograd_t_forward", lambda *a: used.append(1) or original(*a))

    def step():
        xs, ws, bs = (tg.tensor(a, requires_grad=True) for a in (x, w, b))
        y = F.conv_transpose2d(xs, ws, bs, stride=2, padding=1)
        (y * y).sum().backward(retain_graph=True)
        first = ws.grad.numpy().copy()
        (y * y).sum().backward()
        np.testing.assert_allclose(ws.grad.numpy(), 2 * first, rtol=1e-5)
        return [y.numpy(), xs.grad.numpy() / 2, first, bs.grad.numpy() / 2]

    before = parallel.get_num_threads()
    try:
        parallel.set_num_threads(1)
        one = step()
        parallel.set_num_threads(3)
        three = step()
    finally:
        parallel.set_num_threads(before)
    assert used == [1, 1]
    for a, c in zip(one, three):
        assert np.array_equal(a, c)
    monkeypatch.setattr(_conv, "_WINOGRAD_T", False)
    ref = step()
    assert used == [1, 1]
    for a, c in zip(one, ref):
        err = np.abs(a - c).max() / np.abs(c).max()
        assert err < 2e-5, err


@pytest.mark.parametrize("ci, co, hw, expected", [(32, 1, 28, "winograd4"), (2, 16, 28, "winograd4"),
                                                  (8, 8, 14, "winograd4"), (1, 32, 28, None), (4, 4, 8, None),
                                                  (8, 8, 8, None), (8, 8, 12, "winograd4")])
def test_f4x4_takes_few_channels_with_enough_tiles(ci, co, hw, expected):
    """F(4×4, 3×3) from 2 input channels and 64 input channel-tiles per image (a 32→1 decoder
    layer on 28×28: 3.4× faster than im2col); F(2×2, 3×3) still needs 16 channels each way."""
    x = np.zeros((2, ci, hw, hw), np.float32)
    w = np.zeros((co, ci, 3, 3), np.float32)
    wg = _conv._use_winograd(x, w, (1, 1), (1, 1), "numba")
    assert (None if wg is None else wg.__name__.rsplit(".", 1)[1]) == expected
