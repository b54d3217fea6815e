"""im2col against Winograd F(2×2, 3×3) and F(4×4, 3×3) for 3×3 stride-1 conv2d layers, fwd+bwd.

tinygen runs a 3×3 stride-1 conv2d as Winograd F(4×4, 3×3) (``tinygen/kernels/winograd4.py``)
where each image has 2×2 or more of its 4×4 tiles wasting at most 50 % (and 2+ input channels,
64+ input channel-tiles), else as F(2×2, 3×3) (``tinygen/kernels/winograd.py``) with 16+
channels where each image has 3×3 or more 2×2 tiles wasting at most 25 %;
other convolutions by im2col + GEMM. This script times the three algorithms on the same layers,
in turns (so machine drift hits them alike), and prints the median ms per fwd+bwd step, the
ratios to im2col and which one tinygen picks:

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
LAYERS = [(64, 64, 14), (32, 32, 14), (16, 16, 28), (32, 32, 28), (64, 64, 16), (64, 64, 10), (64, 64, 8),
          (128, 128, 14), (64, 64, 7), (64, 64, 6), (64, 64, 5), (64, 64, 4), (32, 1, 28), (8, 8, 28), (1, 32, 28)]
ALGORITHMS = ("im2col", "winograd", "winograd4")


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


_KNOBS = ("_WINOGRAD_MIN_CHANNELS", "_WINOGRAD_MAX_WASTE", "_WINOGRAD_MIN_TILES", "_WINOGRAD4_MIN_TILES",
          "_WINOGRAD4_MAX_WASTE", "_WINOGRAD4_MIN_CHANNELS", "_WINOGRAD4_MIN_WORK")


class algorithm:
    """Force one algorithm inside the block: "im2col", "winograd" (F(2×2, 3×3)) or "winograd4"
    (F(4×4, 3×3)), with the thresholds off."""

    def __init__(self, name):
        if name not in ALGORITHMS:
            raise ValueError(f"algorithm: {name!r} is not one of {ALGORITHMS}")
        self.name = name

    def __enter__(self):
        self.saved = [getattr(_conv, k) for k in _KNOBS]
        never, always = 1 << 30, float("inf")
        values = {"im2col": (never, 0, never, never, 0, never, never),
                  "winograd": (1, always, 0, never, 0, never, never),
                  "winograd4": (1, 0, never, 1, always, 1, 0)}[self.name]
        for k, v in zip(_KNOBS, values):
            setattr(_conv, k, v)

    def __exit__(self, *exc):
        for k, v in zip(_KNOBS, self.saved):
            setattr(_conv, k, v)


def compare(c_in, c_out, size, batch=64, rounds=10, steps=4):
    """Median ms per fwd+bwd step of each algorithm, timed in turns."""
    step = _step(c_in, c_out, size, batch)
    times = {name: [] for name in ALGORITHMS}
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
    print(f"{'layer':>22s} {'im2col':>9s} {'F(2×2)':>9s} {'F(4×4)':>9s} {'F2/i':>6s} {'F4/i':>6s}  tinygen uses")
    for c_in, c_out, size in LAYERS:
        t = compare(c_in, c_out, size, a.batch, a.rounds)
        x = np.empty((1, c_in, size, size), np.float32)
        wg = _conv._use_winograd(x, np.empty((c_out, c_in, 3, 3), np.float32), (1, 1), (1, 1), "numba")
        used = {None: "im2col"}.get(wg) or ("F(4×4)" if wg.PLANES == 36 else "F(2×2)")
        print(f"{f'{c_in}→{c_out}, {size}×{size}':>22s} {t['im2col']:9.2f} {t['winograd']:9.2f} "
              f"{t['winograd4']:9.2f} {t['winograd'] / t['im2col']:6.2f} {t['winograd4'] / t['im2col']:6.2f}  {used}",
              flush=True)


if __name__ == "__main__":
    main()
