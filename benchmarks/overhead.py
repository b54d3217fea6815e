"""Per-op autograd overhead: a chain of tiny ops (16 elements) forward + backward, in µs per op.

The chain cycles through add, mul, tanh, sub, sigmoid, mul-by-scalar, exp-free ops so that
values stay bounded. PyTorch's figure is printed beside tinygen's when torch is installed
(same thread count).

    python benchmarks/overhead.py [--ops 1000] [--repeats 30] [--threads 2] [--json]
"""
from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import time

import numpy as np

sys.path.insert(0, os.path.join(os.path.dirname(__file__), ".."))


def _chain(x, c, n_ops):
    y = x
    for i in range(n_ops // 5):
        y = y + c
        y = y * c
        y = y.tanh()
        y = y - c
        y = y.sigmoid()
    return y.sum()


def _setup_tinygen():
    import tinygen as tg
    x = tg.tensor(np.random.default_rng(0).standard_normal(16).astype(np.float32), requires_grad=True)
    c = tg.tensor(np.full(16, 0.5, np.float32), requires_grad=True)
    return x, c


def _setup_torch(threads):
    try:
        import torch
    except ImportError:
        return None
    torch.set_num_threads(threads)
    x = torch.tensor(np.random.default_rng(0).standard_normal(16).astype(np.float32), requires_grad=True)
    c = torch.full((16,), 0.5, requires_grad=True)
    return x, c


def _once(x, c, n_ops):
    x.grad = None
    c.grad = None
    t0 = time.perf_counter()
    _chain(x, c, n_ops).backward()
    return time.perf_counter() - t0


def run(n_ops=1000, repeats=30, threads=2, block=5):
    """Median µs per op for tinygen and PyTorch.

    The two take turns in blocks of ``block`` timed repeats, each block after one uncounted
    repeat: the turns make background load affect both alike, and the uncounted repeat lets
    each library's code and data come back into the caches after the other's turn (timed in
    strict alternation, each library ran 10-15 % slower than in a loop of its own, which is
    how a training loop runs it).
    """
    tg_in = _setup_tinygen()
    pt_in = _setup_torch(threads)
    tg_t, pt_t = [], []
    rounds = 1 + -(-repeats // block)
    for r in range(rounds):
        for inputs, times in ((tg_in, tg_t), (pt_in, pt_t)):
            if inputs is None:
                continue
            _once(*inputs, n_ops)
            ts = [_once(*inputs, n_ops) for _ in range(block)]
            if r:                                    # the first round warms up
                times.extend(ts)
    tg_us = statistics.median(tg_t) / n_ops * 1e6
    pt_us = statistics.median(pt_t) / n_ops * 1e6 if pt_t else None
    return {"workload": f"autograd overhead ({n_ops} ops of 16 elements, fwd+bwd)", "tinygen_us_per_op": tg_us,
            "torch_us_per_op": pt_us, "ratio": (tg_us / pt_us) if pt_us else None}


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--ops", type=int, default=1000)
    p.add_argument("--repeats", type=int, default=30)
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--json", action="store_true")
    a = p.parse_args(argv)
    r = run(a.ops, a.repeats, a.threads)
    if a.json:
        print(json.dumps(r))
        return
    print(f"{r['workload']}")
    print(f"  tinygen : {r['tinygen_us_per_op']:.2f} µs/op")
    if r["torch_us_per_op"] is not None:
        print(f"  pytorch : {r['torch_us_per_op']:.2f} µs/op   (ratio tinygen/pytorch = {r['ratio']:.2f})")
    else:
        print("  pytorch : not installed")


if __name__ == "__main__":
    main()
