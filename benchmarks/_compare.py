"""The command line shared by the model-family comparison scripts (train_ddpm, train_realnvp):
run tinygen's recipe and the PyTorch recipe per data set and print their metrics side by side,
or (``--step-timing``) only time their training steps in alternation, on one thread."""
from __future__ import annotations

import argparse
import json


def _fmt(v):
    return f"{v:.4g}" if isinstance(v, float) else str(v)


def _one_thread():
    from threadpoolctl import threadpool_limits
    threadpool_limits(1)
    try:
        import numba
        numba.set_num_threads(1)
    except ImportError:
        pass


def time_alternating(steps, rounds, chunk):
    """Median ms per step of each ``steps[name](i)``, timed in alternating chunks of ``chunk``
    steps over ``rounds`` rounds in one process (so every library sees the same machine load),
    after one warm-up round (JIT, caches)."""
    import statistics
    import time
    times = {name: [] for name in steps}
    for rnd in range(rounds + 1):
        for name, fn in steps.items():
            t0 = time.perf_counter()
            for i in range(chunk):
                fn(rnd * chunk + i)
            if rnd:
                times[name].append((time.perf_counter() - t0) / chunk * 1000)
    return {name: float(statistics.median(v)) for name, v in times.items()}


def compare_main(argv, description, data_choices, default_data, run_tinygen, run_torch, step_timing,
                 hidden=("out",)):
    """Parse ``argv`` and run the comparison; returns {data: {"tinygen": ..., "torch": ...}}
    (None with --step-timing). ``hidden``: keys of tinygen's result not printed."""
    p = argparse.ArgumentParser(description=description)
    p.add_argument("--data", nargs="+", default=list(default_data), choices=list(data_choices))
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--skip-torch", action="store_true")
    p.add_argument("--skip-tinygen", action="store_true")
    p.add_argument("--json", default=None, help="also write the results here")
    p.add_argument("--step-timing", action="store_true",
                   help="only time training steps of both, interleaved (ms per step)")
    args = p.parse_args(argv)
    if args.step_timing:
        _one_thread()
        for data in args.data:
            t = step_timing(data)
            b = t["batch"]
            batch = " vs ".join(map(str, b)) if isinstance(b, tuple) else b     # tinygen vs pytorch
            print(f"{data:7s} ms/step (interleaved, batch {batch}): tinygen {t['tinygen']:.2f}  "
                  f"pytorch {t['pytorch']:.2f}", flush=True)
        return None
    try:
        import torch  # noqa: F401
        have_torch = not args.skip_torch
    except ImportError:
        have_torch = False
    results = {}
    for data in args.data:
        row = {}
        if not args.skip_tinygen:
            row["tinygen"] = run_tinygen(data, args.seed)
            print(f"{data:7s} tinygen  " + "  ".join(f"{k} {_fmt(v)}" for k, v in row["tinygen"].items()
                                                     if k not in hidden), flush=True)
        if have_torch:
            row["torch"] = run_torch(data, args.seed)
            print(f"{data:7s} pytorch  " + "  ".join(f"{k} {_fmt(v)}" for k, v in row["torch"].items()), flush=True)
        results[data] = row
    if args.json:
        with open(args.json, "w") as f:
            json.dump(results, f, indent=2)
    return results
