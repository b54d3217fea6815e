"""GANs on the 2-D toys: modes covered and high-quality share, tinygen vs the PyTorch anchor.

Three rows per data set and seed:

* ``torch anchor``: PyTorch, G 2-256-256-2 and D 2-256-256-1 MLPs (ReLU), Adam 1e-3
  β=(0.5, 0.999), batch 256, 5,000 steps, non-saturating loss, no tips (when torch imports);
* ``tinygen anchor``: the same run in tinygen (same architecture, steps and optimizer), the
  like-for-like speed comparison;
* ``tinygen recipe``: what ``tinygen train gan --data DATA`` does with its defaults (tips on),
  driven through the recipe exactly as the command line drives it.

Scores use 2,500 samples (:func:`tinygen.metrics.mode_coverage`: within 3σ of a mode is high
quality; a mode counts with ≥ 20 % of its fair share of high-quality samples).

    python benchmarks/train_gan_toys.py [--data ring8 grid25] [--seeds 0 1 2] [--threads 2]
                                        [--skip torch,anchor,recipe] [--json out.json]
    python benchmarks/train_gan_toys.py --timing [--rounds 5] [--threads 2]

Measured here (shared 2-core CPU, seeds 0, 1, 2; modes / high-quality share):

=============== ======================================== ==========================================
run             ring8                                    grid25
=============== ======================================== ==========================================
torch anchor    8/8 .800, 8/8 .934, 8/8 .948             20/25 .700, 14/25 .633, 12/25 .550
tinygen anchor  7/8 .775, 8/8 .849, 5/8 .493             17/25 .711,  9/25 .405, 11/25 .726
tinygen recipe  8/8 .998, 8/8 .998, 8/8 .997             25/25 .999, 25/25 .998, 25/25 1.000
=============== ======================================== ==========================================

(The anchor's plain GAN drops modes in both frameworks alike; the recipe runs 3,900 steps.)
``--timing``, 5 rounds: tinygen takes 0.87x (1 thread: 6.1 vs 7.0 ms per step) and 0.90x
(2 threads: 19.0 vs 21.2 ms, a loaded machine) PyTorch's time on the anchor run; the recipe's
step is 6.9 ms at 1 thread, so ``tinygen train gan`` (3,900 steps) finishes in ~30 s.

``--timing`` measures speed alone, fairly on a shared machine: the anchor's step in PyTorch and
in tinygen (and the recipe's step) alternate in short rounds, and the median ms per step of each
is reported with the projected time of 5,000 steps.
"""
from __future__ import annotations

import argparse
import json
import os
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(__file__), ".."))


def _threads(n):
    for var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS", "NUMBA_NUM_THREADS"):
        os.environ.setdefault(var, str(n))


ANCHOR = dict(hidden=(256, 256), lr=1e-3, betas=(0.5, 0.999), batch=256, steps=5000, n_train=20000)


def _score(samples, data):
    from tinygen.data import toy_modes
    from tinygen.metrics import mode_coverage
    centers, sigma = toy_modes(data)
    r = mode_coverage(samples, centers, sigma)
    return {"modes": r["modes"], "n_modes": r["n_modes"], "high_quality": r["high_quality"]}


def torch_anchor(data, seed, threads):
    import numpy as np
    import torch
    from tinygen.data import toy_2d
    torch.set_num_threads(threads)
    torch.manual_seed(seed)
    nn = torch.nn
    h = ANCHOR["hidden"]
    G = nn.Sequential(nn.Linear(2, h[0]), nn.ReLU(), nn.Linear(h[0], h[1]), nn.ReLU(), nn.Linear(h[1], 2))
    D = nn.Sequential(nn.Linear(2, h[0]), nn.ReLU(), nn.Linear(h[0], h[1]), nn.ReLU(), nn.Linear(h[1], 1))
    og = torch.optim.Adam(G.parameters(), lr=ANCHOR["lr"], betas=ANCHOR["betas"])
    od = torch.optim.Adam(D.parameters(), lr=ANCHOR["lr"], betas=ANCHOR["betas"])
    x = torch.tensor(toy_2d(data, ANCHOR["n_train"], seed))
    bce = nn.BCEWithLogitsLoss()
    b = ANCHOR["batch"]
    t0 = time.perf_counter()
    for _ in range(ANCHOR["steps"]):
        real = x[torch.randint(0, len(x), (b,))]
        fake = G(torch.randn(b, 2))
        r, f = D(real), D(fake.detach())
        d_loss = bce(r, torch.ones_like(r)) + bce(f, torch.zeros_like(f))
        od.zero_grad()
        d_loss.backward()
        od.step()
        f = D(fake)
        g_loss = bce(f, torch.ones_like(f))
        og.zero_grad()
        g_loss.backward()
        og.step()
    seconds = time.perf_counter() - t0
    with torch.no_grad():
        s = G(torch.randn(2500, 2)).numpy()
    return dict(_score(np.asarray(s), data), seconds=seconds)


def tinygen_anchor(data, seed):
    """The anchor's run in tinygen: same networks, optimizer, batch and number of steps."""
    import numpy as np
    import tinygen as tg
    from tinygen.data import toy_2d
    from tinygen.models.gan import GAN
    from tinygen.models.gan_tricks import GANOptions, make_optimizers, train_step
    tg.manual_seed(seed)
    model = GAN((2,), latent_dim=2, hidden=ANCHOR["hidden"])
    opt = GANOptions(lr_d=ANCHOR["lr"], lr_g=ANCHOR["lr"], betas=ANCHOR["betas"])
    opts = make_optimizers(model, opt)
    x = toy_2d(data, ANCHOR["n_train"], seed)
    rng = np.random.default_rng(seed)
    b = ANCHOR["batch"]
    t0 = time.perf_counter()
    for step in range(ANCHOR["steps"]):
        train_step(model, x[rng.integers(0, len(x), b)], None, opts["d"], opts["g"], opt, step)
    seconds = time.perf_counter() - t0
    return dict(_score(model.sample(2500).numpy(), data), seconds=seconds)


def run_recipe(model_name, data, seed, overrides=None, verbose=False):
    """Train with the recipe's defaults through the Trainer, as ``tinygen train`` does (no output
    folder); returns (metrics, model, recipe)."""
    from tinygen.data import load_dataset
    from tinygen.train.trainer import Trainer
    ds = load_dataset(data, seed=seed)
    trainer = Trainer(model_name, ds, None, dict({"seed": seed}, **(overrides or {})), progress=False,
                      quiet=not verbose)
    metrics = trainer.fit()
    metrics.pop("per_mode", None)
    metrics["steps"] = trainer.step
    return metrics, trainer.model, trainer.recipe


def _step_makers(threads):
    """Callables that build a model and return one-training-step closures (anchor and recipe)."""
    import numpy as np
    from tinygen.data import toy_2d
    x = toy_2d("ring8", ANCHOR["n_train"], 0)
    b = ANCHOR["batch"]

    def torch_step():
        import torch
        torch.set_num_threads(threads)
        torch.manual_seed(0)
        nn = torch.nn
        h = ANCHOR["hidden"]
        G = nn.Sequential(nn.Linear(2, h[0]), nn.ReLU(), nn.Linear(h[0], h[1]), nn.ReLU(), nn.Linear(h[1], 2))
        D = nn.Sequential(nn.Linear(2, h[0]), nn.ReLU(), nn.Linear(h[0], h[1]), nn.ReLU(), nn.Linear(h[1], 1))
        og = torch.optim.Adam(G.parameters(), lr=ANCHOR["lr"], betas=ANCHOR["betas"])
        od = torch.optim.Adam(D.parameters(), lr=ANCHOR["lr"], betas=ANCHOR["betas"])
        xt = torch.tensor(x)
        bce = nn.BCEWithLogitsLoss()

        def step(_):
            real = xt[torch.randint(0, len(xt), (b,))]
            fake = G(torch.randn(b, 2))
            r, f = D(real), D(fake.detach())
            d_loss = bce(r, torch.ones_like(r)) + bce(f, torch.zeros_like(f))
            od.zero_grad()
            d_loss.backward()
            od.step()
            f = D(fake)
            g_loss = bce(f, torch.ones_like(f))
            og.zero_grad()
            g_loss.backward()
            og.step()
        return step

    def tinygen_step():
        import tinygen as tg
        from tinygen.models.gan import GAN
        from tinygen.models.gan_tricks import GANOptions, make_optimizers, train_step
        tg.manual_seed(0)
        model = GAN((2,), latent_dim=2, hidden=ANCHOR["hidden"])
        opt = GANOptions(lr_d=ANCHOR["lr"], lr_g=ANCHOR["lr"], betas=ANCHOR["betas"])
        opts = make_optimizers(model, opt)
        rng = np.random.default_rng(0)
        return lambda i: train_step(model, x[rng.integers(0, len(x), b)], None, opts["d"], opts["g"], opt, i)

    def recipe_step():
        import tinygen as tg
        from tinygen.data import load_dataset
        from tinygen.train.recipes import get
        recipe = get("gan")
        ds = load_dataset("ring8")
        cfg = recipe.defaults(ds)
        tg.manual_seed(0)
        model = recipe.build(ds, cfg)
        opts = recipe.make_optimizers(model, cfg)
        rng = np.random.default_rng(0)
        return lambda i: recipe.train_step(model, (x[rng.integers(0, len(x), b)],), opts, cfg, i)

    makers = {"tinygen anchor": tinygen_step, "tinygen recipe": recipe_step}
    try:
        import torch  # noqa: F401
        makers = {"torch anchor": torch_step, **makers}
    except ImportError:
        pass
    return makers


def timing(rounds, threads, steps_per_round=200):
    import statistics
    steps = {name: make() for name, make in _step_makers(threads).items()}
    for fn in steps.values():                      # warm up (JIT, allocator)
        for i in range(20):
            fn(i)
    per = {name: [] for name in steps}
    for r in range(rounds):
        for name, fn in steps.items():
            t0 = time.perf_counter()
            for i in range(steps_per_round):
                fn(r * steps_per_round + i)
            per[name].append((time.perf_counter() - t0) / steps_per_round * 1e3)
    print(f"{'run':16s} {'ms/step (median of ' + str(rounds) + ' rounds)':>34s} {'5000 steps':>11s}")
    out = {}
    for name, v in per.items():
        med = statistics.median(v)
        out[name] = med
        print(f"{name:16s} {med:34.2f} {med * 5:10.1f}s")
    if "torch anchor" in out:
        print(f"tinygen / torch on the anchor run: {out['tinygen anchor'] / out['torch anchor']:.2f}x the time")
    return out


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--data", nargs="+", default=["ring8", "grid25"])
    p.add_argument("--seeds", nargs="+", type=int, default=[0, 1, 2])
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--skip", default="", help="comma-separated rows to skip: torch, anchor, recipe")
    p.add_argument("--json", help="also write the rows to this file")
    p.add_argument("--verbose", action="store_true")
    p.add_argument("--timing", action="store_true", help="only the interleaved speed comparison")
    p.add_argument("--rounds", type=int, default=5)
    a = p.parse_args(argv)
    _threads(a.threads)
    if a.timing:
        return timing(a.rounds, a.threads)
    skip = set(s for s in a.skip.split(",") if s)
    try:
        import torch  # noqa: F401
        have_torch = "torch" not in skip
    except ImportError:
        have_torch = False
    rows = []
    print(f"{'run':16s} {'data':7s} {'seed':>4s} {'modes':>7s} {'HQ':>7s} {'seconds':>8s}")
    for data in a.data:
        for seed in a.seeds:
            runs = []
            if have_torch:
                runs.append(("torch anchor", lambda: torch_anchor(data, seed, a.threads)))
            if "anchor" not in skip:
                runs.append(("tinygen anchor", lambda: tinygen_anchor(data, seed)))
            if "recipe" not in skip:
                runs.append(("tinygen recipe", lambda: run_recipe("gan", data, seed, verbose=a.verbose)[0]))
            for name, fn in runs:
                r = fn()
                row = dict(run=name, data=data, seed=seed, **r)
                rows.append(row)
                print(f"{name:16s} {data:7s} {seed:4d} {r['modes']:3d}/{r.get('n_modes', 8 if data == 'ring8' else 25):<3d} "
                      f"{r['high_quality']:7.3f} {r['seconds']:8.1f}", flush=True)
    if a.json:
        with open(a.json, "w") as f:
            json.dump(rows, f, indent=1)
    return rows


def run():
    """The suite's ``--full`` training run: ring8, seed 0, the PyTorch anchor, the same network in
    tinygen, and ``tinygen train gan``'s recipe (wall time and modes / high quality together)."""
    return main(["--data", "ring8", "--seeds", "0"])


if __name__ == "__main__":
    main()
