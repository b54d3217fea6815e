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


def test_conv_algorithms_script_times_both_algorithms_on_the_same_layer(monkeypatch):
    """benchmarks/conv_algorithms.py forces each algorithm in turn: both give the same conv2d and
    gradients (float32 rounding apart), and the forcing is undone afterwards."""
    import numpy as np
    import tinygen.kernels as K
    if not K.numba_available():
        import pytest
        pytest.skip("the Winograd path needs the Numba kernels")
    from benchmarks import conv_algorithms as ca
    from tinygen.autograd import conv as _conv
    before = _conv._WINOGRAD_MIN_CHANNELS, _conv._WINOGRAD_MAX_WASTE
    ran = []
    original = _conv._winograd_forward
    monkeypatch.setattr(_conv, "_winograd_forward", lambda *a: ran.append(1) or original(*a))
    step = ca._step(4, 5, 6, batch=3)
    out = {}
    for name in ("im2col", "winograd"):
        with ca.algorithm(name):
            out[name] = [a.numpy().copy() for a in step()]
        assert len(ran) == (name == "winograd")
    assert (_conv._WINOGRAD_MIN_CHANNELS, _conv._WINOGRAD_MAX_WASTE) == before
    for a, b in zip(out["im2col"], out["winograd"]):
        np.testing.assert_allclose(a, b, rtol=1e-4, atol=1e-5 * np.abs(a).max())
    t = ca.compare(4, 5, 6, batch=2, rounds=1, steps=1)
    assert set(t) == {"im2col", "winograd"} and all(v > 0 for v in t.values())


def test_run_block_times_the_asked_steps_after_uncounted_ones():
    """Each block of the suite starts with uncounted steps (at least one, for at least ``warm``
    seconds), then times exactly the asked number."""
    import time
    from benchmarks.torch_worker import run_block
    calls = []
    assert len(run_block(lambda: calls.append(1), 3, 0.0)) == 3 and len(calls) == 4
    calls.clear()
    times = run_block(lambda: calls.append(time.sleep(0.01)), 2, 0.05)
    assert len(times) == 2 and all(t >= 0.009 for t in times)
    assert len(calls) >= 2 + 4                   # ≥ 0.05 s of 0.01 s steps before the timed two


def test_torch_worker_reports_errors_and_never_imports_tinygen():
    """The PyTorch column's process answers a bad request with an error the suite raises, and a
    workload that pulled tinygen in would be refused (the point of the separate process)."""
    import pytest
    from benchmarks import suite
    with pytest.raises(RuntimeError, match="PyTorch worker failed"):
        suite.TorchProcess("no such workload", 1)
    out = subprocess.run([sys.executable, os.path.join(ROOT, "benchmarks", "torch_worker.py")],
                         input='{"cmd": "block", "steps": 1}\n{"cmd": "nope"}\n{"cmd": "quit"}\n',
                         capture_output=True, text=True, timeout=120)
    lines = out.stdout.splitlines()
    assert out.returncode == 0 and len(lines) == 2
    assert all('"error"' in line for line in lines) and "unknown command 'nope'" in lines[1]
