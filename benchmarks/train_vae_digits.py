"""VAE on the 8x8 digits: tinygen's ``tinygen train vae --data digits`` against the same network
in PyTorch.

The network is the VAE recipe's default for digits: 64-256-256-(8+8) encoder, 8-256-256-64
decoder, ReLU, Bernoulli likelihood (BCE with logits, summed over pixels), KL to N(0, I),
Adam 1e-3, batch 64, 300 epochs, PyTorch's default initialisation on both sides, the same
train/test split (``load_digits(seed=0)``). Both are scored by the same code:

* ``test_elbo``: the held-out ELBO in nats per digit, averaged over 10 draws of z per digit;
* ``frechet``: Fréchet distance in PCA-20 features between 1,000 prior samples (decoder means)
  and the training digits (``tinygen.metrics.frechet_pca``);
* ``class_coverage``: how many of the ten classes the shared digit classifier
  (``tinygen.metrics.classifier``) finds among those samples;
* ``seconds``: the training loop's wall time, and ``wall`` for the whole command (tinygen:
  data loading, training, evaluation and pictures).

tinygen runs through the command line (in process), on one thread (the CLI's default); PyTorch
on two threads (``--torch-threads``). Run from the repository root::

    nice -n 5 python benchmarks/train_vae_digits.py [--seeds 0 1 2] [--epochs 300] [--json FILE]
"""
from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import tempfile
import time

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.dirname(HERE))


def run_tinygen(seed, epochs):
    import contextlib
    import io

    from tinygen import cli
    out = tempfile.mkdtemp(prefix="tinygen-vae-bench-")
    t0 = time.perf_counter()
    with contextlib.redirect_stdout(io.StringIO()):          # the CLI prints its metrics
        cli.main(["train", "vae", "--data", "digits", "--seed", str(seed), "--epochs", str(epochs),
                  "--out", out, "--quiet"])
    wall = time.perf_counter() - t0
    with open(os.path.join(out, "metrics.json")) as f:
        m = json.load(f)
    return {"test_elbo": m["test_elbo"], "frechet": m["frechet"], "class_coverage": m["class_coverage"],
            "test_log_likelihood": m.get("test_log_likelihood"), "seconds": m["seconds"], "wall": wall,
            "out": out}


def run_torch(seed, epochs, threads=2):
    import torch
    from torch import nn
    import torch.nn.functional as TF

    from tinygen.data import load_digits
    from tinygen.metrics import frechet_pca
    from tinygen.metrics.classifier import class_coverage

    torch.set_num_threads(threads)
    torch.manual_seed(seed)
    ds = load_digits(seed=0)
    x_train = torch.tensor(ds.x_train.reshape(len(ds.x_train), -1))
    x_test = torch.tensor(ds.x_test.reshape(len(ds.x_test), -1))
    latent = 8
    enc = nn.Sequential(nn.Linear(64, 256), nn.ReLU(), nn.Linear(256, 256), nn.ReLU(), nn.Linear(256, 2 * latent))
    dec = nn.Sequential(nn.Linear(latent, 256), nn.ReLU(), nn.Linear(256, 256), nn.ReLU(), nn.Linear(256, 64))
    params = list(enc.parameters()) + list(dec.parameters())
    opt = torch.optim.Adam(params, lr=1e-3)

    def terms(x):
        h = enc(x)
        mu, logvar = h[:, :latent], h[:, latent:]
        z = mu + torch.exp(0.5 * logvar) * torch.randn_like(mu)
        rec = TF.binary_cross_entropy_with_logits(dec(z), x, reduction="none").sum(1)
        kl = 0.5 * (torch.exp(logvar) + mu ** 2 - 1 - logvar).sum(1)
        return rec, kl

    t0 = time.perf_counter()
    n = len(x_train)
    for _ in range(epochs):
        perm = torch.randperm(n)
        for i in range(0, n, 64):
            xb = x_train[perm[i:i + 64]]
            rec, kl = terms(xb)
            loss = (rec + kl).mean()
            opt.zero_grad()
            loss.backward()
            opt.step()
    seconds = time.perf_counter() - t0
    with torch.no_grad():
        elbo = torch.stack([-(sum(terms(x_test))) for _ in range(10)]).mean(0).mean().item()
        samples = torch.sigmoid(dec(torch.randn(1000, latent))).numpy().reshape(-1, 8, 8)
    return {"test_elbo": elbo, "frechet": float(frechet_pca(ds.x_train, samples)),
            "class_coverage": class_coverage(samples, ds), "seconds": seconds,
            "wall": time.perf_counter() - t0}


def _summary(rows, key):
    vals = [r[key] for r in rows if r.get(key) is not None]
    if not vals:
        return "-"
    if len(vals) == 1:
        return f"{vals[0]:.3f}"
    return f"{statistics.mean(vals):.3f} ± {statistics.stdev(vals):.3f}  [{min(vals):.3f}, {max(vals):.3f}]"


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    p.add_argument("--epochs", type=int, default=300)
    p.add_argument("--no-torch", action="store_true")
    p.add_argument("--torch-threads", type=int, default=2)
    p.add_argument("--json", default=None, help="write the raw results here")
    args = p.parse_args(argv)

    results = {"tinygen": [], "pytorch": []}
    have_torch = False
    if not args.no_torch:
        try:
            import torch  # noqa: F401
            have_torch = True
        except ImportError:
            print("PyTorch is not installed: measuring tinygen only")
    for seed in args.seeds:
        r = run_tinygen(seed, args.epochs)
        results["tinygen"].append(r)
        print(f"tinygen seed {seed}: ELBO {r['test_elbo']:.3f}  frechet {r['frechet']:.3f}  "
              f"coverage {r['class_coverage']}  train {r['seconds']:.1f} s  command {r['wall']:.1f} s",
              flush=True)
        if have_torch:
            t = run_torch(seed, args.epochs, args.torch_threads)
            results["pytorch"].append(t)
            print(f"pytorch seed {seed}: ELBO {t['test_elbo']:.3f}  frechet {t['frechet']:.3f}  "
                  f"coverage {t['class_coverage']}  train {t['seconds']:.1f} s", flush=True)

    print(f"\nVAE 64-256-256-8 on digits, {args.epochs} epochs, seeds {args.seeds}")
    print(f"{'':22s} {'tinygen':40s} {'pytorch':40s}")
    for key, label in [("test_elbo", "held-out ELBO (nats)"), ("frechet", "Fréchet PCA-20"),
                       ("class_coverage", "class coverage"), ("seconds", "training seconds"),
                       ("wall", "whole command seconds")]:
        print(f"{label:22s} {_summary(results['tinygen'], key):40s} {_summary(results['pytorch'], key):40s}")
    if args.json:
        with open(args.json, "w") as f:
            json.dump(results, f, indent=2)
    return results


def run():
    """The suite's ``--full`` training run: seed 0, the default epochs, tinygen and PyTorch."""
    return main(["--seeds", "0"])


if __name__ == "__main__":
    main()
