"""Shared plumbing for the example scripts: the output folder argument and a plain training loop.

Every example takes one optional argument, the folder for its pictures (default examples/out/),
trains on scikit-learn's 8x8 digits (bundled, no download) and finishes in well under two
minutes on two CPU cores.
"""
import argparse
import os
import time

import numpy as np

import tinygen as tg
from tinygen.data import DataLoader, load_digits

HERE = os.path.dirname(os.path.abspath(__file__))


def setup(description, **extra_args):
    """Parse ``[OUT_DIR]`` (plus ``--name value`` options given as name=default), seed tinygen,
    keep BLAS/Numba to one thread (these networks are small), and load the digits."""
    p = argparse.ArgumentParser(description=description)
    p.add_argument("out", nargs="?", default=os.path.join(HERE, "out"), help="folder for the pictures")
    for name, default in extra_args.items():
        p.add_argument("--" + name.replace("_", "-"), type=type(default), default=default)
    args = p.parse_args()
    os.makedirs(args.out, exist_ok=True)
    try:
        from threadpoolctl import threadpool_limits
        threadpool_limits(1)
    except ImportError:
        pass
    tg.set_num_threads(1)
    try:
        import numba
        numba.set_num_threads(1)
    except ImportError:
        pass
    tg.manual_seed(0)
    return args, load_digits(seed=0)


def train(model, x, epochs, lr=1e-3, batch_size=64, seed=0, name="model"):
    """Adam on ``model.loss(batch)``; prints the mean loss a few times. Returns the model."""
    opt = tg.optim.Adam(model.parameters(), lr=lr)
    loader = DataLoader((x,), batch_size=batch_size, shuffle=True, seed=seed)
    start = time.perf_counter()
    model.train()
    for epoch in range(1, epochs + 1):
        total = 0.0
        for (xb,) in loader:
            opt.zero_grad()
            loss = model.loss(xb)
            loss.backward()
            opt.step()
            total += loss.item()
        if epoch % max(1, epochs // 5) == 0 or epoch == epochs:
            print(f"  {name} epoch {epoch:4d}/{epochs}  loss {total / len(loader):.4f}  "
                  f"({time.perf_counter() - start:.0f} s)")
    model.eval()
    return model


def numpy_of(t):
    return np.asarray(t.numpy() if hasattr(t, "numpy") else t)


def psnr(a, b):
    """Peak signal-to-noise ratio in dB for images in [0, 1]: 10·log10(1 / MSE)."""
    mse = float(np.mean((np.asarray(a, np.float64) - np.asarray(b, np.float64)) ** 2))
    return 10.0 * np.log10(1.0 / mse)
