"""BCE-with-logits (and MSE) forward + backward: tinygen's fused node vs its NumPy-only paths vs PyTorch.

    python benchmarks/losses_bench.py [--n 1000000] [--repeats 31] [--threads 2] [--sweep]

Columns (each the median of ``--repeats`` timed steps after warm-up, all columns interleaved
so that background load hits them alike; the minimum is printed too, the steadier figure on a
shared machine):

* ``fused``      tinygen.losses as shipped: one graph node, Numba kernels (parallel, ``--threads``);
* ``numpy-node`` the same single node with the kernels' NumPy references (``kernels.use_fused(False)``);
* ``composite``  the plain Tensor-op form (``losses.use_fused(False)``: softplus, mul, add, mean);
* ``torch``      ``F.binary_cross_entropy_with_logits`` / ``F.mse_loss`` with ``torch.set_num_threads``.

One step is ``x.grad = None; loss(x, z).backward()`` on float32 data (targets in {0, 1}).
``--sweep`` times fused vs numpy-node over sizes, to place ``tinygen.losses.FUSED_MIN_SIZE``.
"""
from __future__ import annotations

import argparse
import os
import statistics
import sys
import time

import numpy as np

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))


def _torch(threads):
    try:
        import torch
    except ImportError:
        return None
    torch.set_num_threads(threads)
    return torch


def _steps(loss_name, n, torch, force_fused=True):
    import tinygen as tg
    import tinygen.kernels as K
    import tinygen.losses as L

    rng = np.random.default_rng(0)
    xd = (rng.standard_normal(n) * 3).astype(np.float32)
    zd = (rng.random(n) > 0.5).astype(np.float32)
    fn = {"bce_with_logits": L.bce_with_logits, "mse": L.mse}[loss_name]
    x = tg.tensor(xd, requires_grad=True)

    def tinygen_step(fused_node, numba):
        def step():
            x.grad = None
            with L.use_fused(fused_node), K.use_fused(numba):
                if force_fused:
                    saved, L.FUSED_MIN_SIZE = L.FUSED_MIN_SIZE, 0
                try:
                    fn(x, zd).backward()
                finally:
                    if force_fused:
                        L.FUSED_MIN_SIZE = saved
        return step

    steps = {"fused": tinygen_step(True, True), "numpy-node": tinygen_step(True, False),
             "composite": tinygen_step(False, False)}
    if torch is not None:
        tx = torch.tensor(xd, requires_grad=True)
        tz = torch.tensor(zd)
        tfn = {"bce_with_logits": torch.nn.functional.binary_cross_entropy_with_logits,
               "mse": torch.nn.functional.mse_loss}[loss_name]

        def torch_step():
            tx.grad = None
            tfn(tx, tz).backward()
        steps["torch"] = torch_step
    return steps


def measure(steps, repeats, warmup=3):
    times = {k: [] for k in steps}
    for i in range(warmup + repeats):
        for k, step in steps.items():
            t0 = time.perf_counter()
            step()
            t = time.perf_counter() - t0
            if i >= warmup:
                times[k].append(t)
    return ({k: statistics.median(v) for k, v in times.items()},
            {k: min(v) for k, v in times.items()})


def _table(title, med, best):
    ref = med.get("torch")
    print(f"\n{title}")
    print(f"{'path':<12}{'median ms':>12}{'× torch':>10}{'× fused':>10}{'min ms':>10}{'min × torch':>13}")
    for k, t in med.items():
        vs_t = f"{t / ref:.2f}" if ref else "-"
        bvs = f"{best[k] / best['torch']:.2f}" if ref else "-"
        print(f"{k:<12}{t * 1e3:>12.3f}{vs_t:>10}{t / med['fused']:>10.2f}{best[k] * 1e3:>10.3f}{bvs:>13}")


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--n", type=int, default=1_000_000)
    ap.add_argument("--repeats", type=int, default=31)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--sweep", action="store_true")
    args = ap.parse_args(argv)

    os.environ.setdefault("NUMBA_NUM_THREADS", str(args.threads))
    import numba

    import tinygen.kernels as K
    import tinygen.losses as L
    numba.set_num_threads(min(args.threads, numba.config.NUMBA_NUM_THREADS))
    torch = _torch(args.threads)
    K.warmup(("float32",))
    print(f"numba {numba.__version__} ({numba.get_num_threads()} threads, layer "
          f"{K.kernel_status()['numba']['threading_layer']}); "
          f"torch {torch.__version__ + f' ({torch.get_num_threads()} threads)' if torch else 'not installed'}; "
          f"load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores")

    for loss in ("bce_with_logits", "mse"):
        med, best = measure(_steps(loss, args.n, torch), args.repeats)
        _table(f"{loss} forward+backward, {args.n:,} float32 elements", med, best)
        if loss == "bce_with_logits" and "torch" in med:
            r_med, r_min = med["fused"] / med["torch"], best["fused"] / best["torch"]
            ok = r_med <= 0.5 and r_min <= 0.5
            print(f"target fused ≤ 0.5 × torch: {'met' if ok else 'NOT met'} "
                  f"(median {r_med:.2f} ×, min {r_min:.2f} ×)")
    load = os.getloadavg()[0]
    if load > (os.cpu_count() or 1):
        print(f"\nwarning: load average {load:.1f} exceeds the {os.cpu_count()} cores. OpenMP's default "
              "spin-wait then turns every parallel region (Numba's omp layer and PyTorch alike) into "
              "scheduler-quantum waits, so medians measure the contention, not the code; trust the min "
              "columns, rerun with OMP_WAIT_POLICY=PASSIVE (or NUMBA_THREADING_LAYER=workqueue), or "
              "on an idle machine.")

    if args.sweep:
        print(f"\nsize sweep, bce_with_logits fwd+bwd (FUSED_MIN_SIZE = {L.FUSED_MIN_SIZE}):")
        print(f"{'n':>10}{'fused µs':>12}{'numpy µs':>12}{'numpy/fused':>13}")
        for n in (256, 1024, 4096, 16384, 32768, 65536, 262144):
            steps = _steps("bce_with_logits", n, None)
            med, _ = measure({k: steps[k] for k in ("fused", "numpy-node")}, max(args.repeats, 51))
            print(f"{n:>10}{med['fused'] * 1e6:>12.1f}{med['numpy-node'] * 1e6:>12.1f}"
                  f"{med['numpy-node'] / med['fused']:>13.2f}")


if __name__ == "__main__":
    main()
