"""Conditional GAN on the 8×8 digits: label accuracy of its samples, tinygen vs the PyTorch anchor.

Rows per seed:

* ``torch anchor``: PyTorch, G 42-256-256-64 (LeakyReLU 0.2, tanh), D 74-256-256-1 (LeakyReLU
  0.2), one-hot labels, the plain non-saturating game, Adam 2e-4 β=(0.5, 0.999), batch 64, as
  many steps as the tinygen recipe (when torch imports);
* ``tinygen anchor``: the torch anchor's run in tinygen (same networks, game, optimizer, steps),
  the like-for-like speed comparison;
* ``tinygen cgan``: ``tinygen train cgan --data digits`` with its defaults, through the Trainer
  (the same networks; R1, learning-rate decay, EMA, truncation ψ = 1.2 when sampling), and the
  same model sampled without truncation (``ψ=0`` row).

1,000 samples (100 per class) are scored by tinygen's digit classifier
(:mod:`tinygen.metrics.classifier`, an independent network trained on the real training split):
``label_accuracy`` (the classifier agrees with the requested class), ``frechet`` (PCA-20, against
the training split; real test data scores about 0.06), ``classifier_frechet`` (classifier
features; the test-vs-train floor is printed) and ``class_coverage``.

Measured here (seeds 0, 1, 2; classifier test accuracy 98.1-98.3 %):

================== ======================== ============= ====================== ===========
run                label_accuracy           frechet       classifier_frechet     seconds
================== ======================== ============= ====================== ===========
tinygen cgan       1.000, .998, .999        .110-.118     1.85-2.37              61-152
tinygen cgan ψ=0   .987, .986, .980         .020-.026     0.58-0.84 (floor .80-1.21)
tinygen anchor     .974, .972, .987         .197-.259     3.60-4.22              53-78
torch anchor       .970, .977, .982         .208-.265     3.82-4.61              77-100
================== ======================== ============= ====================== ===========

(tinygen and torch anchors: the same plain run, 6,600 steps, interleaved per seed on a shared
machine; wall times vary with its load.)

    python benchmarks/train_cgan_digits.py [--seeds 0 1 2] [--threads 2] [--model cgan]
                                           [--skip torch,anchor,recipe] [--json out.json]
"""
from __future__ import annotations

import argparse
import json
import os
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(__file__), ".."))
sys.path.insert(0, os.path.dirname(__file__))


def _threads(n):
    for var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS", "NUMBA_NUM_THREADS"):
        os.environ.setdefault(var, str(n))


def _scores(samples, labels, ds):
    from tinygen.metrics import classifier as C
    from tinygen.metrics import frechet_pca
    return {"label_accuracy": C.label_accuracy(samples, labels, ds),
            "frechet": float(frechet_pca(ds.x_train, samples)),
            "classifier_frechet": C.classifier_frechet(samples, ds),
            "class_coverage": C.class_coverage(samples, ds)}


def torch_anchor(seed, steps, threads, cfg):
    import numpy as np
    import torch
    from tinygen.data import load_digits
    torch.set_num_threads(threads)
    torch.manual_seed(seed)
    nn = torch.nn
    ds = load_digits(seed=seed)
    zd, h = int(cfg["latent_dim"]), [int(v) for v in cfg["hidden"]]
    G = nn.Sequential(nn.Linear(zd + 10, h[0]), nn.LeakyReLU(0.2), nn.Linear(h[0], h[1]), nn.LeakyReLU(0.2),
                      nn.Linear(h[1], 64), nn.Tanh())
    D = nn.Sequential(nn.Linear(64 + 10, h[0]), nn.LeakyReLU(0.2), nn.Linear(h[0], h[1]), nn.LeakyReLU(0.2),
                      nn.Linear(h[1], 1))
    og = torch.optim.Adam(G.parameters(), lr=2e-4, betas=(0.5, 0.999))
    od = torch.optim.Adam(D.parameters(), lr=2e-4, betas=(0.5, 0.999))
    x = torch.tensor(ds.x_train.reshape(-1, 64) * 2 - 1)
    y = torch.nn.functional.one_hot(torch.tensor(ds.y_train), 10).float()
    bce = nn.BCEWithLogitsLoss()
    b = int(cfg["batch_size"])
    t0 = time.perf_counter()
    for _ in range(steps):
        idx = torch.randint(0, len(x), (b,))
        real, lab = x[idx], y[idx]
        fake = G(torch.cat([torch.randn(b, zd), lab], 1))
        r, f = D(torch.cat([real, lab], 1)), D(torch.cat([fake.detach(), lab], 1))
        d_loss = bce(r, torch.ones_like(r)) + bce(f, torch.zeros_like(f))
        od.zero_grad()
        d_loss.backward()
        od.step()
        f = D(torch.cat([fake, lab], 1))
        g_loss = bce(f, torch.ones_like(f))
        og.zero_grad()
        g_loss.backward()
        og.step()
    seconds = time.perf_counter() - t0
    labels = np.arange(1000) % 10
    with torch.no_grad():
        s = G(torch.cat([torch.randn(1000, zd), torch.nn.functional.one_hot(torch.tensor(labels), 10).float()], 1))
    s = ((s.numpy() + 1) / 2).clip(0, 1).reshape(-1, 8, 8)
    return dict(_scores(s, labels, ds), seconds=seconds)


def tinygen_anchor(seed, steps, cfg):
    """The torch anchor's run in tinygen: same networks, plain game, Adam 2e-4, batch, steps."""
    import numpy as np
    import tinygen as tg
    from tinygen.data import load_digits
    from tinygen.models.cgan import ConditionalGAN
    from tinygen.models.gan_tricks import GANOptions, make_optimizers, train_step
    tg.manual_seed(seed)
    ds = load_digits(seed=seed)
    model = ConditionalGAN((8, 8), latent_dim=int(cfg["latent_dim"]), hidden=tuple(int(v) for v in cfg["hidden"]))
    opt = GANOptions(lr_d=2e-4, lr_g=2e-4)
    opts = make_optimizers(model, opt)
    rng = np.random.default_rng(seed)
    b = int(cfg["batch_size"])
    t0 = time.perf_counter()
    for step in range(steps):
        idx = rng.integers(0, len(ds.x_train), b)
        train_step(model, ds.x_train[idx], ds.y_train[idx], opts["d"], opts["g"], opt, step)
    seconds = time.perf_counter() - t0
    labels = np.arange(1000) % 10
    return dict(_scores(model.sample(1000, labels).numpy(), labels, ds), seconds=seconds)


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--seeds", nargs="+", type=int, default=[0, 1, 2])
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--model", default="cgan", help="cgan or cdcgan")
    p.add_argument("--skip", default="", help="comma-separated rows to skip: torch, anchor, recipe")
    p.add_argument("--json", help="also write the rows to this file")
    p.add_argument("--verbose", action="store_true")
    a = p.parse_args(argv)
    _threads(a.threads)
    skip = set(s for s in a.skip.split(",") if s)
    import numpy as np
    from tinygen.data import load_digits
    from tinygen.metrics import classifier as C
    from tinygen.train.recipes import get
    from train_gan_toys import run_recipe
    try:
        import torch  # noqa: F401
        have_torch = "torch" not in skip
    except ImportError:
        have_torch = False
    rows = []
    for seed in a.seeds:
        ds = load_digits(seed=seed)
        clf = C.digit_classifier(ds)
        floor = C.classifier_frechet(ds.x_test, ds)
        print(f"seed {seed}: classifier test accuracy {clf.test_accuracy:.4f}, classifier_frechet floor "
              f"(test vs train) {floor:.3f}", flush=True)
        recipe = get(a.model)
        cfg = recipe.defaults(ds)
        steps = int(cfg["epochs"]) * (len(ds.x_train) // int(cfg["batch_size"]))   # as the recipe
        runs = []
        if "recipe" not in skip:
            def recipe_rows():
                metrics, model, _ = run_recipe(a.model, "digits", seed, verbose=a.verbose)
                out = [(f"tinygen {a.model}", metrics)]
                if getattr(model, "conditional", False):     # the same G without truncation
                    import tinygen as tg
                    model.truncation.data[...] = 0.0
                    labels = np.arange(1000) % 10
                    tg.manual_seed(seed + 1)
                    s = np.clip(model.sample(1000, labels).numpy(), 0, 1)
                    out.append((f"tinygen {a.model} ψ=0", dict(_scores(s, labels, ds), seconds=metrics["seconds"])))
                return out
            runs.append(recipe_rows)
        if a.model == "cgan" and "anchor" not in skip:
            runs.append(lambda: [("tinygen anchor", tinygen_anchor(seed, steps, cfg))])
        if have_torch and a.model == "cgan":
            runs.append(lambda: [("torch anchor", torch_anchor(seed, steps, a.threads, cfg))])
        for fn in runs:
            for name, r in fn():
                row = dict(run=name, seed=seed, **{k: v for k, v in r.items() if not isinstance(v, list)})
                rows.append(row)
                acc = r.get("label_accuracy", float("nan"))
                print(f"  {name:18s} label_accuracy {acc:.4f}  frechet {r['frechet']:.3f}  "
                      f"classifier_frechet {r['classifier_frechet']:.3f}  class_coverage {r['class_coverage']}  "
                      f"{r['seconds']:.1f}s", flush=True)
    if rows:
        print("mean label accuracy: " + ", ".join(
            f"{n} {np.mean([r.get('label_accuracy', np.nan) for r in rows if r['run'] == n]):.4f}"
            for n in dict.fromkeys(r["run"] for r in rows)))
    if a.json:
        with open(a.json, "w") as f:
            json.dump(rows, f, indent=1)
    return rows


if __name__ == "__main__":
    main()
