"""Benchmark tinygen's fused kernels against their NumPy references (and PyTorch when installed).

    python benchmarks/kernels_bench.py                 # everything
    python benchmarks/kernels_bench.py --only bce conv # cases whose name contains a word
    python benchmarks/kernels_bench.py --repeat 30 --size 1000000

Every case is timed for each implementation in turn, round-robin, ``--repeat`` times after a
warm-up (which also compiles the Numba kernels), and the median is reported. Interleaving makes
the ratios robust when the machine is shared; absolute times are still noisy (the load average
is printed: on an oversubscribed machine parallel kernels wait for descheduled threads, so
compare ``--threads 1`` runs there). PyTorch runs with ``torch.set_num_threads(N)`` where N is
Numba's thread count (``--threads``, default the core count: 2 on the reference machine).
"""
from __future__ import annotations

import argparse
import os
import statistics
import sys
import time

import numpy as np

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))

import tinygen.kernels as K  # noqa: E402
from tinygen.kernels import activations as A, conv as C, losses as L, optim as O  # noqa: E402

try:
    import torch
    import torch.nn.functional as F
except Exception:  # torch is optional
    torch = None


def _timeit(fns, repeat, warmup=2, stat=statistics.median):
    """``stat`` (median) seconds of each fn in ``fns`` (dict name -> callable), run round-robin."""
    for fn in fns.values():
        for _ in range(warmup):
            fn()
    times = {k: [] for k in fns}
    for _ in range(repeat):
        for k, fn in fns.items():
            t0 = time.perf_counter()
            fn()
            times[k].append(time.perf_counter() - t0)
    return {k: stat(v) for k, v in times.items()}


def _fused(fn):
    def run():
        with K.use_fused(True):
            fn()
    return run


def _numpy(fn):
    def run():
        with K.use_fused(False):
            fn()
    return run


# ----------------------------------------------------------------------------- cases

def case_conv(size, rng):
    """Conv2d 64→64, 3×3, padding 1 on (64, 64, 14, 14) float32, forward + backward via im2col."""
    x = rng.standard_normal((64, 64, 14, 14)).astype(np.float32)
    w = (rng.standard_normal((64, 64, 3, 3)) * 0.05).astype(np.float32)
    gy = rng.standard_normal((64, 64, 14, 14)).astype(np.float32)
    O_, kh, kw = 64, 3, 3
    wm = w.reshape(O_, -1)

    def conv():
        cols = K.im2col(x, kh, kw, 1, 1)
        y = (wm @ cols).reshape(O_, 64, 14, 14).transpose(1, 0, 2, 3)
        y = np.ascontiguousarray(y)
        gm = np.ascontiguousarray(gy.transpose(1, 0, 2, 3)).reshape(O_, -1)
        dw = gm @ cols.T
        dx = K.col2im(wm.T @ gm, x.shape, kh, kw, 1, 1)
        return y, dw, dx

    fns = {"numpy": _numpy(conv), "fused": _fused(conv)}
    if torch is not None:
        tx = torch.from_numpy(x).requires_grad_(True)
        tw = torch.from_numpy(w).requires_grad_(True)
        tg = torch.from_numpy(gy)

        def tconv():
            tx.grad = tw.grad = None
            y = F.conv2d(tx, tw, padding=1)
            y.backward(tg)
        fns["torch"] = tconv
    rows = [("conv2d 64→64 3×3 fwd+bwd", "(64,64,14,14) f32", fns)]

    cols = K.im2col(x, kh, kw, 1, 1)
    rows.append(("im2col 3×3 pad 1", "(64,64,14,14) f32",
                 {"numpy": lambda: C.im2col_ref(x, kh, kw, 1, 1),
                  "fused": lambda: K.im2col(x, kh, kw, 1, 1)}))
    rows.append(("col2im 3×3 pad 1", "(576,12544) f32",
                 {"numpy": lambda: C.col2im_ref(cols, x.shape, kh, kw, 1, 1),
                  "fused": lambda: K.col2im(cols, x.shape, kh, kw, 1, 1)}))
    return rows


_TORCH_ACT = {
    "relu": lambda t: F.relu(t),
    "leaky_relu": lambda t: F.leaky_relu(t, 0.01),
    "elu": lambda t: F.elu(t),
    "gelu": lambda t: F.gelu(t),
    "gelu_tanh": lambda t: F.gelu(t, approximate="tanh"),
    "sigmoid": lambda t: torch.sigmoid(t),
    "tanh": lambda t: torch.tanh(t),
    "softplus": lambda t: F.softplus(t),
    "silu": lambda t: F.silu(t),
}


def case_act(size, rng):
    x = (rng.standard_normal(size) * 3).astype(np.float32)
    g = rng.standard_normal(size).astype(np.float32)
    rows = []
    for name in ("relu", "leaky_relu", "elu", "gelu", "gelu_tanh", "sigmoid", "tanh", "softplus", "silu"):
        def both(name=name):
            y = K.act_forward(name, x)
            K.act_backward(name, x, y, g)
        fns = {"numpy": lambda name=name: A.act_backward_ref(name, x, A.act_forward_ref(name, x), g),
               "fused": _fused(both)}
        if torch is not None:
            tx = torch.from_numpy(x).requires_grad_(True)
            tg = torch.from_numpy(g)

            def tboth(name=name, tx=tx, tg=tg):
                tx.grad = None
                _TORCH_ACT[name](tx).backward(tg)
            fns["torch"] = tboth
        rows.append((f"{name} fwd+bwd", f"{size} f32", fns))
    return rows


def case_optim(size, rng):
    p0 = rng.standard_normal(size).astype(np.float32)
    g = rng.standard_normal(size).astype(np.float32)
    rows = []
    configs = [
        ("sgd momentum", dict(lr=0.01, momentum=0.9, weight_decay=1e-4),
         lambda ps: torch.optim.SGD(ps, lr=0.01, momentum=0.9, weight_decay=1e-4, foreach=False)),
        ("adam", dict(lr=1e-3, weight_decay=0.0),
         lambda ps: torch.optim.Adam(ps, lr=1e-3, foreach=False)),
        ("adamw", dict(lr=1e-3, weight_decay=0.01, decoupled=True),
         lambda ps: torch.optim.AdamW(ps, lr=1e-3, weight_decay=0.01, foreach=False)),
        ("rmsprop centered+momentum", dict(lr=1e-3, momentum=0.9, centered=True),
         lambda ps: torch.optim.RMSprop(ps, lr=1e-3, momentum=0.9, centered=True, foreach=False)),
    ]
    for name, kw, make_torch in configs:
        p = p0.copy()
        s1, s2, s3 = np.zeros_like(p), np.zeros_like(p), np.zeros_like(p)
        step = [0]

        def run(name=name, kw=kw, p=p, s1=s1, s2=s2, s3=s3, step=step):
            step[0] += 1
            if name.startswith("sgd"):
                K.sgd_update(p, g, s1, first_step=step[0] == 1, **kw)
            elif name.startswith("adam"):
                K.adam_update(p, g, s1, s2, step=step[0], **kw)
            else:
                K.rmsprop_update(p, g, s1, buf=s2, g_avg=s3, **kw)
        fns = {"numpy": _numpy(run), "fused": _fused(run)}
        if torch is not None:
            tp = torch.nn.Parameter(torch.from_numpy(p0.copy()))
            tp.grad = torch.from_numpy(g)
            opt = make_torch([tp])
            fns["torch"] = opt.step
        rows.append((f"{name} step", f"{size} f32", fns))
    return rows


def case_loss(size, rng):
    x = (rng.standard_normal(size) * 3).astype(np.float32)
    z = rng.uniform(size=size).astype(np.float32)
    rows = []
    for name, fwd, bwd, tfn in (("bce_logits", K.bce_logits_forward, K.bce_logits_backward,
                                 "binary_cross_entropy_with_logits"),
                                ("mse", K.mse_forward, K.mse_backward, "mse_loss")):
        def both(fwd=fwd, bwd=bwd):
            fwd(x, z, "mean")
            bwd(x, z, 1.0, 1.0 / x.size)
        fns = {"numpy": _numpy(both), "fused": _fused(both)}
        if torch is not None:
            tx = torch.from_numpy(x).requires_grad_(True)
            tz = torch.from_numpy(z)

            def tboth(tfn=tfn, tx=tx, tz=tz):
                tx.grad = None
                getattr(F, tfn)(tx, tz).backward()
            fns["torch"] = tboth
        rows.append((f"{name} fwd+bwd (mean)", f"{size} f32", fns))
        rows.append((f"{name} fwd (mean)", f"{size} f32",
                     {"numpy": _numpy(lambda fwd=fwd: fwd(x, z, "mean")),
                      "fused": _fused(lambda fwd=fwd: fwd(x, z, "mean"))}))
    return rows


CASES = {"conv": case_conv, "act": case_act, "optim": case_optim, "loss": case_loss}


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--only", nargs="*", default=None, help="run cases whose name contains these words")
    ap.add_argument("--repeat", type=int, default=20)
    ap.add_argument("--size", type=int, default=1_000_000, help="elements for elementwise cases")
    ap.add_argument("--stat", choices=("median", "min"), default="median",
                    help="summary of the repeats (min shows what an idle machine reaches when a "
                         "shared one keeps descheduling the worker threads)")
    ap.add_argument("--threads", type=int, default=None,
                    help="threads for Numba and PyTorch (default: Numba's default, the core count)")
    args = ap.parse_args(argv)

    if not K.numba_available():
        print("Numba is unavailable:", K.kernel_status()["numba"]["reason"])
    if args.threads and K.numba_available():
        import numba
        numba.set_num_threads(args.threads)
    status = K.warmup()
    nthreads = status["numba"]["num_threads"] or 1
    if torch is not None:
        torch.set_num_threads(nthreads)
    print(f"numba {status['numba']['version']} ({nthreads} threads, layer "
          f"{status['numba']['threading_layer']}), warm-up {status['warmup_seconds']} s; "
          f"torch {torch.__version__ if torch is not None else 'not installed'}; "
          f"{args.stat} of {args.repeat}; load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} CPUs")
    rng = np.random.default_rng(0)
    header = (f"{'case':34s} {'shape':20s} {'numpy ms':>9s} {'fused ms':>9s} {'torch ms':>9s} "
              f"{'numpy/fused':>11s} {'fused/torch':>11s}")
    print(header)
    print("-" * len(header))
    for cname, make in CASES.items():
        for name, shape, fns in make(args.size, rng):
            if args.only and not any(w in name or w == cname for w in args.only):
                continue
            t = _timeit(fns, args.repeat, stat=statistics.median if args.stat == "median" else min)
            tn, tf, tt = t.get("numpy"), t.get("fused"), t.get("torch")
            fmt = lambda v: f"{v * 1e3:9.3f}" if v is not None else f"{'-':>9s}"  # noqa: E731
            r1 = f"{tn / tf:11.2f}" if tn and tf else f"{'-':>11s}"
            r2 = f"{tf / tt:11.2f}" if tf and tt else f"{'-':>11s}"
            print(f"{name:34s} {shape:20s} {fmt(tn)} {fmt(tf)} {fmt(tt)} {r1} {r2}", flush=True)


if __name__ == "__main__":
    main()
