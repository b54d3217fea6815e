"""The benchmark suite's plumbing (not its timings): every workload builds and steps, and the GPU
columns run on a device, here the CuPy stand-in (TINYGEN_FAKE_CUDA=1, in a fresh interpreter)."""
import os
import subprocess
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

CODE = """
import sys
sys.path.insert(0, {root!r})
from benchmarks import suite
from benchmarks.workloads import WORKLOADS
for name, cls in WORKLOADS.items():
    wl = cls()
    cols = suite.measure(wl, 1, warmup=0, with_torch=False, block=2, settle=0.0, gpu={{"tinygen": True}})
    assert set(cols) == {{"numpy", "fused", "fused_cuda"}}, (name, cols)
    assert all(v > 0 for v in cols.values()), (name, cols)
    print("ok", name)
rows = [(cls(), {{"numpy": 1.0, "fused": 1.0, "fused_cuda": 2.0}}, {{}}) for cls in list(WORKLOADS.values())[:1]]
suite.print_table({{"cpu": "x", "cores": 1, "blas": "b", "python": "p", "numpy": "n", "numba": "m",
                   "torch": "t", "tinygen": "g"}}, 1.0, rows)
"""


def test_every_workload_steps_on_the_cpu_and_on_a_device():
    env = dict(os.environ, TINYGEN_FAKE_CUDA="1")
    out = subprocess.run([sys.executable, "-c", CODE.format(root=ROOT)], capture_output=True, text=True,
                         env=env, timeout=900)
    assert out.returncode == 0, out.stderr[-3000:]
    from benchmarks.workloads import WORKLOADS   # noqa: E402
    assert out.stdout.count("ok ") == len(WORKLOADS)
    assert "tinygen cuda" in out.stdout


def test_full_mode_training_runs_exist():
    """--full runs these two scripts through their run() entry points (it once skipped them)."""
    import importlib
    for mod in ("train_vae_digits", "train_gan_toys"):
        m = importlib.import_module(f"benchmarks.{mod}")
        assert callable(m.run)


def test_overhead_floor_sketch_computes_the_same_gradients_as_tinygen():
    """benchmarks/overhead_floor.py times the per-op chain on a featureless engine; the comparison
    means something only if that engine gets the chain's gradients right (float64, 50 ops)."""
    import numpy as np
    import tinygen as tg
    from benchmarks.overhead import _chain
    from benchmarks.overhead_floor import Bare, backward
    rng = np.random.default_rng(1)
    xa, ca = rng.standard_normal(16), rng.uniform(0.3, 0.9, 16)
    for with_node in (False, True):
        Bare.with_node = with_node
        xb, cb = Bare(xa.copy()), Bare(ca.copy())
        backward(_chain(xb, cb, 50))
        xt, ct = tg.tensor(xa, requires_grad=True), tg.tensor(ca, requires_grad=True)
        _chain(xt, ct, 50).backward()
        np.testing.assert_allclose(xb.grad, xt.grad.numpy(), rtol=1e-12, atol=1e-15)
        np.testing.assert_allclose(cb.grad, ct.grad.numpy(), rtol=1e-12, atol=1e-15)
        assert np.abs(cb.grad).max() > 0


def test_conv_algorithms_script_times_each_algorithm_on_the_same_layer(monkeypatch):
    """benchmarks/conv_algorithms.py forces each algorithm in turn: all give the same conv2d and
    gradients (float32 rounding apart), each runs the path it names, and the forcing is undone."""
    import numpy as np
    import tinygen.kernels as K
    if not K.numba_available():
        import pytest
        pytest.skip("the Winograd paths need the Numba kernels")
    from benchmarks import conv_algorithms as ca
    from tinygen.autograd import conv as _conv
    from tinygen.kernels import winograd, winograd4
    before = [getattr(_conv, k) for k in ca._KNOBS]
    ran = []
    original = _conv._winograd_forward
    monkeypatch.setattr(_conv, "_winograd_forward", lambda *a: ran.append(a[4]) or original(*a))
    step = ca._step(4, 5, 6, batch=3)
    out = {}
    for name, module in (("im2col", None), ("winograd", winograd), ("winograd4", winograd4)):
        with ca.algorithm(name):
            out[name] = [a.numpy().copy() for a in step()]
        assert ran == ([module] if module else [])
        ran.clear()
    assert [getattr(_conv, k) for k in ca._KNOBS] == before
    for name in ("winograd", "winograd4"):
        for a, b in zip(out["im2col"], out[name]):
            np.testing.assert_allclose(a, b, rtol=1e-4, atol=1e-5 * np.abs(a).max())
    t = ca.compare(4, 5, 6, batch=2, rounds=1, steps=1)
    assert set(t) == set(ca.ALGORITHMS) and all(v > 0 for v in t.values())


def test_overhead_script_times_tinygen_in_blocks(monkeypatch):
    """benchmarks/overhead.py: one uncounted repeat, then `block` timed ones per turn, and the
    first round counts for nothing; PyTorch is left out here (it is never a test dependency)."""
    from benchmarks import overhead
    calls = []
    monkeypatch.setattr(overhead, "_setup_torch", lambda threads: None)
    monkeypatch.setattr(overhead, "_once", lambda x, c, n: calls.append(n) or 0.001 * (1 + len(calls) % 2))
    r = overhead.run(n_ops=10, repeats=4, block=2)
    assert len(calls) == 3 * (1 + 2)                 # 1 warm-up round + 2 timed rounds, 3 runs each
    assert r["torch_us_per_op"] is None and r["ratio"] is None
    assert r["tinygen_us_per_op"] in (100.0, 150.0, 200.0)
