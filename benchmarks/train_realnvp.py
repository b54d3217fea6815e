"""RealNVP: ``tinygen train realnvp`` with its defaults against issue #7's plain PyTorch recipe.

PyTorch recipe (plain on purpose): 8 affine couplings with alternating masks, each an MLP
(2×128 ReLU on moons, 2×256 on digits) giving s (through tanh) and t, Adam 1e-3, PyTorch's
default initialisation. Moons: batch 256, 5,000 steps on the raw coordinates. Digits: uniform
dequantization of the 17 levels, logit transform with α = 0.05 (the RealNVP paper's), batch
64, a 10 % validation split with early stopping (patience 10) keeping the best weights.

tinygen runs the command line with its defaults (tinygen/train/recipes/flows.py: standardised
toys with a cosine learning-rate decay; digits with α = 0.01, the same validation split and
early stopping).

Both are scored by the same code: ``test_nll`` (nats per example on the 5,000 held-out points,
data coordinates) and ``on_manifold`` (share of 2,500 samples within 0.1 of the moons,
:func:`tinygen.metrics.fraction_on_manifold`) on moons; ``test_bpd`` (bits per dimension of
the dequantized levels, 4 dequantization draws), ``frechet`` (PCA-20) and ``class_coverage``
(the shared digit classifier) on 1,000 samples for digits. ``seconds`` is the training loop's
wall time; ``wall`` the whole command. Both libraries run on one thread.

    nice -n 5 python benchmarks/train_realnvp.py [--data moons digits] [--skip-torch] [--json FILE]
    nice -n 5 python benchmarks/train_realnvp.py --step-timing      # per-step cost, interleaved
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
    "moons": dict(hidden=128, batch=256, steps=5000),
    "digits": dict(hidden=256, batch=64, max_epochs=200, patience=10, alpha=0.05, val_fraction=0.1),
}


def run_tinygen(data, seed=0, extra=()):
    from tinygen import cli
    out = tempfile.mkdtemp(prefix=f"tinygen-realnvp-{data}-")
    t0 = time.perf_counter()
    with contextlib.redirect_stdout(io.StringIO()):
        rc = cli.main(["train", "realnvp", "--data", data, "--seed", str(seed), "--out", out, "--quiet", *extra])
    wall = time.perf_counter() - t0
    if rc:
        raise SystemExit(f"tinygen train realnvp --data {data} failed with status {rc}")
    with open(os.path.join(out, "metrics.json")) as f:
        m = json.load(f)
    m["wall"] = wall
    m["out"] = out
    return m


def run_torch(data, seed=0, threads=1):
    import torch
    from torch import nn

    from tinygen.data import load_dataset

    torch.set_num_threads(threads)
    torch.manual_seed(seed)
    r = TORCH_RECIPES[data]
    ds = load_dataset(data)
    image = data == "digits"
    d = int(np.prod(ds.x_train.shape[1:]))

    class Coupling(nn.Module):
        def __init__(self, mask):
            super().__init__()
            self.register_buffer("mask", mask)
            h = r["hidden"]
            self.net = nn.Sequential(nn.Linear(d, h), nn.ReLU(), nn.Linear(h, h), nn.ReLU(), nn.Linear(h, 2 * d))

        def forward(self, x):
            s, t = self.net(x * self.mask).chunk(2, dim=1)
            s = torch.tanh(s) * (1 - self.mask)
            t = t * (1 - self.mask)
            return x * self.mask + (1 - self.mask) * (x * s.exp() + t), s.sum(1)

        def inverse(self, y):
            s, t = self.net(y * self.mask).chunk(2, dim=1)
            s = torch.tanh(s) * (1 - self.mask)
            t = t * (1 - self.mask)
            return y * self.mask + (1 - self.mask) * (y - t) * (-s).exp()

    if image:
        board = torch.tensor((np.add.outer(np.arange(8), np.arange(8)) % 2).reshape(-1), dtype=torch.float32)
    else:
        board = torch.tensor([1.0, 0.0])
    layers = nn.ModuleList([Coupling(board if i % 2 == 0 else 1 - board) for i in range(8)])
    alpha = r.get("alpha", 0.0)
    levels = getattr(ds, "levels", None)

    def log_prob(y):
        """y: toys in data coordinates; images dequantized pixels in (0, 1)."""
        ld = torch.zeros(len(y))
        h = y
        if image:
            p = alpha + (1 - 2 * alpha) * y
            h = p.log() - (1 - p).log()
            ld = ld + (math.log(1 - 2 * alpha) - p.log() - (1 - p).log()).sum(1)
        for c in layers:
            h, l = c(h)
            ld = ld + l
        return -0.5 * (h ** 2).sum(1) - 0.5 * d * math.log(2 * math.pi) + ld

    def dequant(x, gen=None):
        k = torch.round(x * (levels - 1))
        return (k + torch.rand(k.shape, generator=gen)) / levels

    x_all = torch.tensor(ds.x_train.reshape(len(ds.x_train), -1), dtype=torch.float32)
    opt = torch.optim.Adam(layers.parameters(), lr=1e-3)
    t0 = time.perf_counter()
    if not image:
        for _ in range(r["steps"]):
            idx = torch.randint(0, len(x_all), (r["batch"],))
            loss = -log_prob(x_all[idx]).mean()
            opt.zero_grad()
            loss.backward()
            opt.step()
    else:
        x_tr, _, x_val, _ = ds.validation_split(r["val_fraction"], seed)
        x_tr = torch.tensor(x_tr.reshape(len(x_tr), -1))
        val = dequant(torch.tensor(x_val.reshape(len(x_val), -1)), torch.Generator().manual_seed(12345))
        best, best_state, bad = math.inf, None, 0
        epochs = 0
        for _ in range(r["max_epochs"]):
            epochs += 1
            perm = torch.randperm(len(x_tr))
            for i in range(0, len(perm), r["batch"]):
                loss = -log_prob(dequant(x_tr[perm[i:i + r["batch"]]])).mean()
                opt.zero_grad()
                loss.backward()
                opt.step()
            with torch.no_grad():
                v = -log_prob(val).mean().item()
            if v < best - 1e-6:
                best, bad = v, 0
                best_state = {k: t.clone() for k, t in layers.state_dict().items()}
            else:
                bad += 1
                if bad >= r["patience"]:
                    break
        layers.load_state_dict(best_state)
    seconds = time.perf_counter() - t0
    out = {} if not image else {"epochs": epochs, "best_epoch": epochs - bad}
    with torch.no_grad():
        x_test = torch.tensor(ds.x_test.reshape(len(ds.x_test), -1), dtype=torch.float32)
        z = torch.randn(1000 if image else 2500, d)
        h = z
        for c in reversed(layers):
            h = c.inverse(h)
        if image:
            nll = np.mean([(-log_prob(dequant(x_test)).mean().item() + d * math.log(levels)) for _ in range(4)])
            out["test_bpd"] = nll / (d * math.log(2))
            y = ((torch.sigmoid(h) - alpha) / (1 - 2 * alpha)).numpy()
            samples = np.clip(np.floor(y * levels), 0, levels - 1) / (levels - 1)
            from tinygen.metrics import frechet_pca
            from tinygen.metrics.classifier import class_coverage
            samples = samples.reshape(-1, 8, 8)
            out["frechet"] = float(frechet_pca(ds.x_train, samples))
            out["class_coverage"] = int(class_coverage(samples, ds))
        else:
            out["test_nll"] = -log_prob(x_test).mean().item()
            from tinygen.metrics import fraction_on_manifold
            out["on_manifold"] = fraction_on_manifold(h.numpy(), ds.x_train, 0.1)
    out["seconds"] = seconds
    out["wall"] = time.perf_counter() - t0
    return out


def step_timing(data, rounds=8, chunk=40):
    """Median milliseconds per training step of tinygen's recipe and of the PyTorch recipe (same
    batch size), timed in alternating chunks in one process so both see the same machine load."""
    import torch
    from torch import nn

    import tinygen as tg
    from tinygen.data import load_dataset
    from tinygen.train.recipes import get

    torch.set_num_threads(1)
    ds = load_dataset(data)
    recipe = get("realnvp")
    cfg = dict(recipe.defaults(data))
    r = TORCH_RECIPES[data]
    cfg["batch_size"] = bs = r["batch"]                  # the same batch on both sides
    tg.manual_seed(0)
    model = recipe.build(ds, cfg)
    opts = recipe.make_optimizers(model, cfg)
    rng = np.random.default_rng(0)
    xs = ds.x_train

    def tg_step(i):
        recipe.train_step(model, (xs[rng.integers(0, len(xs), bs)],), opts, cfg, i)

    image = data == "digits"
    d = int(np.prod(xs.shape[1:]))
    if image:
        board = torch.tensor((np.add.outer(np.arange(8), np.arange(8)) % 2).reshape(-1), dtype=torch.float32)
    else:
        board = torch.tensor([1.0, 0.0])
    h = r["hidden"]
    nets = nn.ModuleList([nn.Sequential(nn.Linear(d, h), nn.ReLU(), nn.Linear(h, h), nn.ReLU(), nn.Linear(h, 2 * d))
                          for _ in range(8)])
    masks = [board if i % 2 == 0 else 1 - board for i in range(8)]
    opt = torch.optim.Adam(nets.parameters(), lr=1e-3)
    x = torch.tensor(xs.reshape(len(xs), -1), dtype=torch.float32)
    alpha, levels = r.get("alpha", 0.0), getattr(ds, "levels", None)

    def torch_step(i):
        y = x[torch.randint(0, len(x), (bs,))]
        ld = torch.zeros(bs)
        if image:
            y = (torch.round(y * (levels - 1)) + torch.rand(y.shape)) / levels
            p = alpha + (1 - 2 * alpha) * y
            ld = ld + (math.log(1 - 2 * alpha) - p.log() - (1 - p).log()).sum(1)
            y = p.log() - (1 - p).log()
        for net, m in zip(nets, masks):
            s, t = net(y * m).chunk(2, dim=1)
            s = torch.tanh(s) * (1 - m)
            y = y * m + (1 - m) * (y * s.exp() + t * (1 - m))
            ld = ld + s.sum(1)
        loss = -(-0.5 * (y ** 2).sum(1) - 0.5 * d * math.log(2 * math.pi) + ld).mean()
        opt.zero_grad()
        loss.backward()
        opt.step()

    return time_alternating({"tinygen": tg_step, "pytorch": torch_step}, rounds, chunk) | {"batch": bs}


def main(argv=None):
    return compare_main(argv, __doc__.split("\n")[0], TORCH_RECIPES, ["moons", "digits"], run_tinygen, run_torch,
                        step_timing, hidden=("out",))


if __name__ == "__main__":
    main()
