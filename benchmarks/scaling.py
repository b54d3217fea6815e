"""How step time grows with batch size and width (the MLP VAE step), against the machine's sgemm
roofline: the share of peak each configuration reaches, for tinygen (fused) and PyTorch.
Writes benchmarks/out/scaling.png and returns the figures."""
from __future__ import annotations

import os
import statistics
import time

import numpy as np

from benchmarks.workloads import MLPVAEStep, _mlp_flops, _torch

OUT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "out")


class _Sized(MLPVAEStep):
    def __init__(self, batch, hidden):
        self.batch, self.hidden = batch, hidden

    def _data(self):
        return (np.random.default_rng(0).random((self.batch, 784)) > 0.7).astype(np.float32), \
            np.random.default_rng(1).standard_normal((self.batch, 20)).astype(np.float32)


def _median_step(step, repeats=7):
    step()
    ts = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        step()
        ts.append(time.perf_counter() - t0)
    return statistics.median(ts)


def run(gflops):
    import tinygen.kernels as kernels
    kernels.warmup()
    results = []
    for batch, hidden in [(16, 400), (64, 400), (128, 400), (256, 400), (512, 400), (128, 100), (128, 800), (128, 1600)]:
        wl = _Sized(batch, hidden)
        flops = _mlp_flops(batch, [(784, hidden), (hidden, 40), (20, hidden), (hidden, 784)])
        t_tg = _median_step(_patched(wl, "tinygen"))
        t_pt = _median_step(_patched(wl, "torch")) if _torch() else None
        results.append({"batch": batch, "hidden": hidden, "tinygen_ms": t_tg * 1e3,
                        "torch_ms": t_pt * 1e3 if t_pt else None,
                        "tinygen_share": flops / t_tg / 1e9 / gflops,
                        "torch_share": flops / t_pt / 1e9 / gflops if t_pt else None})
        print(f"batch {batch:4d} hidden {hidden:5d}: tinygen {t_tg * 1e3:7.2f} ms "
              f"({100 * results[-1]['tinygen_share']:.0f}% of sgemm)"
              + (f", pytorch {t_pt * 1e3:7.2f} ms ({100 * results[-1]['torch_share']:.0f}%)" if t_pt else ""))
    _plot(results)
    return results


def _patched(wl, lib):
    """The workload's step with its layer widths replaced by wl.hidden (400 in the base workload)."""
    import benchmarks.workloads as W
    src_cls = W.MLPVAEStep
    hidden = wl.hidden
    if lib == "tinygen":
        import tinygen as tg
        Linear = tg.nn.Linear
        orig = tg.nn.Linear
    else:
        torch = _torch()
        Linear = torch.nn.Linear
        orig = torch.nn.Linear

    def sized(i, o, *a, **k):
        return orig(hidden if i == 400 else i, hidden if o == 400 else o, *a, **k)
    mod = tg.nn if lib == "tinygen" else _torch().nn
    mod.Linear = sized
    try:
        return getattr(src_cls, lib)(wl)
    finally:
        mod.Linear = Linear


def _plot(results):
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    os.makedirs(OUT, exist_ok=True)
    fig, axes = plt.subplots(1, 2, figsize=(10, 4))
    for ax, key, fixed in ((axes[0], "batch", ("hidden", 400)), (axes[1], "hidden", ("batch", 128))):
        rows = sorted((r for r in results if r[fixed[0]] == fixed[1]), key=lambda r: r[key])
        xs = [r[key] for r in rows]
        ax.plot(xs, [100 * r["tinygen_share"] for r in rows], "o-", label="tinygen (fused)")
        if rows and rows[0]["torch_share"] is not None:
            ax.plot(xs, [100 * r["torch_share"] for r in rows], "s--", label="PyTorch")
        ax.set_xscale("log", base=2)
        ax.set_xlabel(key)
        ax.set_ylabel("% of measured sgemm GFLOP/s")
        ax.set_title(f"MLP VAE step, {fixed[0]} {fixed[1]}")
        ax.axhline(100, color="grey", lw=0.8)
        ax.legend()
    fig.tight_layout()
    path = os.path.join(OUT, "scaling.png")
    fig.savefig(path, dpi=110)
    plt.close(fig)
    print(f"wrote {path}")
