"""DDPM: ``tinygen train ddpm`` with its defaults against issue #7's plain PyTorch recipe.

PyTorch recipe (plain on purpose, as in the issue): an ε-MLP whose input is the point
concatenated with a 64-d sinusoidal step embedding, 3 hidden layers of SiLU (256 wide for the
toys, 512 for digits), T = 200 (toys) or 500 (digits) with the linear schedule (β from 1e-4 to
0.02 scaled by 1000/T), Adam 1e-3, batch 256 with 5,000 steps on the toys, batch 128 for
2,100 epochs on digits (pixels scaled to [−1, 1]); ancestral sampling with the posterior
variance; no EMA, no learning-rate schedule, no clipping.

tinygen runs the command line with its defaults (see tinygen/train/recipes/diffusion.py: the
same network shape, with the cosine schedule, toys centred and scaled ×2, warm-up + cosine
learning-rate decay, EMA of the weights, 1,200 epochs on digits, class-conditional with label
dropout, x̂_0 clipped to the pixel range and DDIM-100 sampling). For a conditional run the
digit figures are on samples of its p(x) = Σ_y p(y) p(x|y), labels drawn at the training
frequencies (``frechet_unconditional``: the null label).

Both are scored by the same code on the same number of samples: ``modes``/``high_quality``
(2,500 samples, :func:`tinygen.metrics.mode_coverage`) on the toys; ``frechet`` (PCA-20
features of the real training digits) and ``class_coverage`` (the shared digit classifier) on
1,000 unconditional digit samples. ``seconds`` is the training loop's wall time; ``wall`` the
whole command (tinygen: training, evaluation and pictures). Both libraries run on one thread.

    nice -n 5 python benchmarks/train_ddpm.py [--data ring8 grid25 digits] [--skip-torch] [--json FILE]
    nice -n 5 python benchmarks/train_ddpm.py --step-timing      # per-step cost, interleaved
"""
from __future__ import annotations

import contextlib
import io
import json
import math
import os
import sys
import tempfile
import time

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.dirname(HERE))

from benchmarks._compare import compare_main, time_alternating  # noqa: E402

TORCH_RECIPES = {
    "ring8": dict(hidden=256, T=200, batch=256, steps=5000),
    "grid25": dict(hidden=256, T=200, batch=256, steps=5000),
    "digits": dict(hidden=512, T=500, batch=128, epochs=2100),
}


def run_tinygen(data, seed=0, extra=()):
    from tinygen import cli
    out = tempfile.mkdtemp(prefix=f"tinygen-ddpm-{data}-")
    t0 = time.perf_counter()
    with contextlib.redirect_stdout(io.StringIO()):
        rc = cli.main(["train", "ddpm", "--data", data, "--seed", str(seed), "--out", out, "--quiet", *extra])
    wall = time.perf_counter() - t0
    if rc:
        raise SystemExit(f"tinygen train ddpm --data {data} failed with status {rc}")
    with open(os.path.join(out, "metrics.json")) as f:
        m = json.load(f)
    m["wall"] = wall
    m["out"] = out
    return m


def _score(data, samples):
    from tinygen.data import load_dataset
    ds = load_dataset(data)
    if data == "digits":
        from tinygen.metrics import frechet_pca
        from tinygen.metrics.classifier import class_coverage
        x = np.clip(samples, 0, 1).reshape(-1, 8, 8)
        return {"frechet": float(frechet_pca(ds.x_train, x)), "class_coverage": int(class_coverage(x, ds))}
    from tinygen.metrics import mode_coverage
    cov = mode_coverage(samples, ds.centers, ds.sigma)
    return {"modes": cov["modes"], "high_quality": cov["high_quality"]}


def run_torch(data, seed=0, threads=1):
    import torch
    from torch import nn

    from tinygen.data import load_dataset

    torch.set_num_threads(threads)
    torch.manual_seed(seed)
    r = TORCH_RECIPES[data]
    ds = load_dataset(data)
    x = torch.tensor(ds.x_train.reshape(len(ds.x_train), -1), dtype=torch.float32)
    if data == "digits":
        x = x * 2 - 1
    d, hidden, T = x.shape[1], r["hidden"], r["T"]

    def embed(t, dim=64):
        half = dim // 2
        freqs = torch.exp(-math.log(10000.0) * torch.arange(half, dtype=torch.float32) / half)
        a = t.float()[:, None] * freqs[None]
        return torch.cat([a.sin(), a.cos()], 1)

    net = nn.Sequential(nn.Linear(d + 64, hidden), nn.SiLU(), nn.Linear(hidden, hidden), nn.SiLU(),
                        nn.Linear(hidden, hidden), nn.SiLU(), nn.Linear(hidden, d))
    betas = torch.linspace(1e-4 * 1000 / T, 0.02 * 1000 / T, T, dtype=torch.float64)
    abar = torch.cumprod(1 - betas, 0)
    opt = torch.optim.Adam(net.parameters(), lr=1e-3)
    steps = r.get("steps") or r["epochs"] * math.ceil(len(x) / r["batch"])
    t0 = time.perf_counter()
    perm, pos = torch.randperm(len(x)), 0
    for _ in range(steps):
        if pos >= len(x):
            perm, pos = torch.randperm(len(x)), 0
        idx = perm[pos:pos + r["batch"]]
        pos += r["batch"]
        x0 = x[idx]
        t = torch.randint(0, T, (len(x0),))
        eps = torch.randn_like(x0)
        a = abar[t].float()[:, None]
        xt = a.sqrt() * x0 + (1 - a).sqrt() * eps
        loss = ((net(torch.cat([xt, embed(t)], 1)) - eps) ** 2).mean()
        opt.zero_grad()
        loss.backward()
        opt.step()
    seconds = time.perf_counter() - t0
    n = 1000 if data == "digits" else 2500
    with torch.no_grad():
        xt = torch.randn(n, d)
        for t in range(T - 1, -1, -1):
            e = net(torch.cat([xt, embed(torch.full((n,), t))], 1))
            a, b = abar[t].item(), betas[t].item()
            x0 = (xt - math.sqrt(1 - a) * e) / math.sqrt(a)
            if t == 0:
                xt = x0
                break
            ap = abar[t - 1].item()
            mean = math.sqrt(ap) * b / (1 - a) * x0 + math.sqrt(1 - b) * (1 - ap) / (1 - a) * xt
            xt = mean + math.sqrt(b * (1 - ap) / (1 - a)) * torch.randn_like(xt)
    samples = xt.numpy()
    if data == "digits":
        samples = (samples + 1) / 2
    out = _score(data, samples)
    out["seconds"] = seconds
    out["wall"] = time.perf_counter() - t0
    return out


def step_timing(data, rounds=8, chunk=50):
    """Median milliseconds per training step of tinygen's recipe and of the PyTorch recipe, timed
    in alternating chunks in one process, so both see the same machine load (whole-run wall
    times on a shared machine swing by 2x from one minute to the next)."""
    import torch
    from torch import nn

    import tinygen as tg
    from tinygen.data import load_dataset
    from tinygen.train.recipes import get

    torch.set_num_threads(1)
    ds = load_dataset(data)
    recipe = get("ddpm")
    cfg = recipe.defaults(data)
    tg.manual_seed(0)
    model = recipe.build(ds, cfg)
    opts = recipe.make_optimizers(model, cfg)
    rng = np.random.default_rng(0)
    xs = ds.x_train
    ys = getattr(ds, "y_train", None)
    bs = cfg["batch_size"]

    def tg_step(i):
        idx = rng.integers(0, len(xs), bs)
        batch = (xs[idx],) if ys is None else (xs[idx], ys[idx])
        recipe.train_step(model, batch, opts, cfg, i)

    r = TORCH_RECIPES[data]
    x = torch.tensor(xs.reshape(len(xs), -1), dtype=torch.float32)
    d, hidden, T, tbs = x.shape[1], r["hidden"], r["T"], r["batch"]
    net = nn.Sequential(nn.Linear(d + 64, hidden), nn.SiLU(), nn.Linear(hidden, hidden), nn.SiLU(),
                        nn.Linear(hidden, hidden), nn.SiLU(), nn.Linear(hidden, d))
    abar = torch.cumprod(1 - torch.linspace(1e-4 * 1000 / T, 0.02 * 1000 / T, T, dtype=torch.float64), 0)
    opt = torch.optim.Adam(net.parameters(), lr=1e-3)
    freqs = torch.exp(-math.log(10000.0) * torch.arange(32, dtype=torch.float32) / 32)

    def torch_step(i):
        x0 = x[torch.randint(0, len(x), (tbs,))]
        t = torch.randint(0, T, (tbs,))
        eps = torch.randn_like(x0)
        a = abar[t].float()[:, None]
        arg = t.float()[:, None] * freqs[None]
        out = net(torch.cat([a.sqrt() * x0 + (1 - a).sqrt() * eps, arg.sin(), arg.cos()], 1))
        loss = ((out - eps) ** 2).mean()
        opt.zero_grad()
        loss.backward()
        opt.step()

    return time_alternating({"tinygen": tg_step, "pytorch": torch_step}, rounds, chunk) | {"batch": (bs, tbs)}


def main(argv=None):
    return compare_main(argv, __doc__.split("\n")[0], TORCH_RECIPES, ["ring8", "grid25", "digits"], run_tinygen, run_torch,
                        step_timing, hidden=("out", "class_counts"))


if __name__ == "__main__":
    main()
