"""im2col against Winograd F(2×2, 3×3) for 3×3 stride-1 conv2d layers, fwd+bwd, side by side.

tinygen runs a 3×3 stride-1 conv2d with 16+ channels (and outputs that 2×2 tiles cover with at
most 25 % waste) as Winograd (``tinygen/kernels/winograd.py``), other convolutions by im2col +
GEMM. This script times both algorithms on the same layers, in turns (so machine drift hits both
alike), and prints the median ms per fwd+bwd step, their ratio and which one tinygen picks:

    python benchmarks/conv_algorithms.py [--threads 2] [--rounds 10] [--batch 64]

Unset ``OPENBLAS_CORETYPE``/``OPENBLAS_L2_SIZE`` first where the environment sets them (see the
README's benchmark section).
"""
from __future__ import annotations

import argparse
import os
import statistics
import sys
import time

import numpy as np

sys.path.insert(0, os.path.join(os.path.dirname(__file__), ".."))

import tinygen as tg  # noqa: E402
import tinygen.functional as F  # noqa: E402
from tinygen.autograd import conv as _conv  # noqa: E402

# (in channels, out channels, height = width): the conv2d workload, DCGAN/UNet-like widths, and the
# shapes tinygen leaves to im2col (a 7×7 output, a 1-channel input)
LAYERS = [(64, 64, 14), (32, 32, 14), (16, 16, 28), (64, 64, 8), (128, 128, 14), (64, 64, 7), (1, 32, 28)]


def _step(c_in, c_out, size, batch, seed=0):
    r = np.random.default_rng(seed)
    x = tg.tensor(r.standard_normal((batch, c_in, size, size)).astype(np.float32), requires_grad=True)
    w = tg.tensor((r.standard_normal((c_out, c_in, 3, 3)) / np.sqrt(9 * c_in)).astype(np.float32),
                  requires_grad=True)
    b = tg.tensor(np.zeros(c_out, np.float32), requires_grad=True)

    def step():
        x.grad = w.grad = b.grad = None
        y = F.conv2d(x, w, b, padding=1)
        y.sum().backward()
        return y, x.grad, w.grad
    return step


class algorithm:
    """Force one algorithm inside the block: "im2col" or "winograd" (thresholds off)."""

    def __init__(self, name):
        self.name = name

    def __enter__(self):
        self.saved = _conv._WINOGRAD_MIN_CHANNELS, _conv._WINOGRAD_MAX_WASTE
        if self.name == "im2col":
            _conv._WINOGRAD_MIN_CHANNELS = 1 << 30
        else:
            _conv._WINOGRAD_MIN_CHANNELS, _conv._WINOGRAD_MAX_WASTE = 1, float("inf")

    def __exit__(self, *exc):
        _conv._WINOGRAD_MIN_CHANNELS, _conv._WINOGRAD_MAX_WASTE = self.saved


def compare(c_in, c_out, size, batch=64, rounds=10, steps=4):
    """Median ms per fwd+bwd step of each algorithm, timed in turns."""
    step = _step(c_in, c_out, size, batch)
    times = {"im2col": [], "winograd": []}
    for rnd in range(rounds + 1):
        for name in times:
            with algorithm(name):
                step()
                t0 = time.perf_counter()
                for _ in range(steps):
                    step()
                if rnd:
                    times[name].append((time.perf_counter() - t0) / steps * 1e3)
    return {k: statistics.median(v) for k, v in times.items()}


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--rounds", type=int, default=10)
    p.add_argument("--batch", type=int, default=64)
    a = p.parse_args(argv)
    tg.set_num_threads(a.threads)
    print(f"conv2d 3×3 stride 1, padding 1, fwd+bwd, batch {a.batch}, {a.threads} threads, float32 (ms)")
    print(f"{'layer':>22s} {'im2col':>9s} {'winograd':>9s} {'w/i':>6s}  tinygen uses")
    for c_in, c_out, size in LAYERS:
        t = compare(c_in, c_out, size, a.batch, a.rounds)
        x = np.empty((1, c_in, size, size), np.float32)
        used = "winograd" if _conv._use_winograd(x, np.empty((c_out, c_in, 3, 3), np.float32), (1, 1), (1, 1),
                                                 "numba") else "im2col"
        print(f"{f'{c_in}→{c_out}, {size}×{size}':>22s} {t['im2col']:9.2f} {t['winograd']:9.2f} "
              f"{t['winograd'] / t['im2col']:6.2f}  {used}", flush=True)


if __name__ == "__main__":
    main()
