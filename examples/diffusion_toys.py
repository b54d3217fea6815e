"""Diffusion on a 2-D toy: learn to undo noise, then sample by denoising pure noise step by step.

Trains a DDPM (ε-prediction MLP, cosine schedule, T = 200, EMA of the weights) on ``ring8`` (8
Gaussians of σ 0.02 on a circle) or ``grid25``, then draws 2,500 points with the ancestral
sampler (all 200 steps) and with DDIM using fewer steps, and scores each with the mode-coverage
metric (modes covered, share of points within 3σ of a centre). Pictures: the samples over the
data, and the reverse process x_T → x_0 as a strip of scatter plots.

    python examples/diffusion_toys.py [OUT_DIR] [--data ring8] [--steps 2500]
"""
import os
import time

import numpy as np

import tinygen as tg
from common import setup
from tinygen.data import toy_2d, toy_modes
from tinygen.metrics import mode_coverage
from tinygen.models import DDPM
from tinygen.train import plots

args, _ = setup(__doc__.splitlines()[0], data="ring8", steps=2500)
x = toy_2d(args.data, 20000, seed=0)
centers, sigma = toy_modes(args.data)

# The toys' modes are tiny next to their extent: scaling the data up (×2) lets more of the
# chain's noise levels fall where the modes are told apart. The predicted x̂_0 is clipped to the
# data's box (+20 %): near t = T it divides the network's error by √ᾱ_t ≈ 0.0002.
bound = 1.2 * float(np.abs((x - x.mean(0)) / 0.5).max())
model = DDPM((2,), T=200, schedule="cosine", hidden=256, depth=3, data_shift=x.mean(0), data_scale=0.5,
             clip_x0=(-bound, bound), ema_decay=0.995)
opt = tg.optim.Adam(model.net.parameters(), lr=1e-3)
rng = np.random.default_rng(0)
start = time.perf_counter()
for step in range(args.steps):
    # warm-up, then cosine decay of the learning rate to 5 %
    frac = step / args.steps
    opt.param_groups[0]["lr"] = 1e-3 * min(1.0, (step + 1) / 100) * (0.05 + 0.95 * 0.5 * (1 + np.cos(np.pi * frac)))
    opt.zero_grad()
    loss = model.loss(x[rng.integers(0, len(x), 256)])
    loss.backward()
    opt.step()
    model.update_ema()
    if (step + 1) % (args.steps // 5) == 0:
        print(f"  step {step + 1:5d}/{args.steps}  loss {loss.item():.4f}  ({time.perf_counter() - start:.0f} s)")

print(f"\n{'sampler':22s} {'modes':>6s} {'high quality':>13s} {'seconds':>8s}")
for name, kw in [("ancestral, 200 steps", dict(method="ancestral")),
                 ("DDIM, 200 steps", dict(method="ddim")),
                 ("DDIM, 50 steps", dict(method="ddim", steps=50)),
                 ("DDIM, 20 steps", dict(method="ddim", steps=20))]:
    tg.manual_seed(1)
    t0 = time.perf_counter()
    s = model.sample(2500, progress=False, **kw).numpy()
    dt = time.perf_counter() - t0
    cov = mode_coverage(s, centers, sigma)
    print(f"{name:22s} {cov['modes']:>3d}/{len(centers):<2d} {cov['high_quality']:>12.1%} {dt:>8.1f}")
    if name.startswith("ancestral"):
        plots.save_scatter_2d(s, os.path.join(args.out, f"diffusion_{args.data}_samples.png"), data=x[:5000],
                              modes=centers, mode_radius=3 * sigma, title=f"DDPM on {args.data} ({name})")

tg.manual_seed(2)
_, frames, times = model.sample(600, progress=False, return_trajectory=True, trajectory_points=7)
plots.save_trajectory_strip(frames, os.path.join(args.out, f"diffusion_{args.data}_trajectory.png"), kind="points",
                            data=x[:3000], times=times, title="reverse diffusion: noise → data")
print(f"wrote {args.out}/diffusion_{args.data}_samples.png and _trajectory.png")
