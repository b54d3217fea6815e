"""Mode collapse on the 2-D toys, and three things that fight it.

    [Noise] → [Generator] → [Fake] → [Discriminator] ← [Real]

grid25 is 25 tight Gaussians on a 5×5 grid. A plain GAN (the non-saturating loss, Adam) tends to
drop some of them: once G has no samples near a mode, nothing in D's gradient pulls it there.
Trained here for the same number of steps, on the same data:

* ``plain``: G and D 2-256-256 MLPs, the textbook GAN;
* ``pacgan``: D judges 2 samples at once (PacGAN, Lin et al. 2018), so a G that repeats itself is
  easier to catch; with the learning rates decaying to 10 % and an EMA of G's weights;
* ``self-conditioned``: both players are conditioned on 50 k-means clusters of the data
  (Liu et al. 2020) -- every cluster holds real data, so D punishes a G that drops one; this is
  what ``tinygen train gan`` does by default on the toys.

Writes gan_toys_<variant>.png (samples over the data, 3σ circles around the modes) and prints
modes covered and the share of high-quality samples (2,500 samples, :func:`mode_coverage`).

    python examples/gan_toys.py [OUT_DIR] [--data grid25] [--steps 4000]
"""
import os
import time

import numpy as np

import tinygen as tg
from common import setup
from tinygen.data import toy_2d, toy_modes
from tinygen.metrics import mode_coverage
from tinygen.models import GAN
from tinygen.models.cgan import SelfConditionedGAN
from tinygen.models.gan_tricks import GANOptions, make_optimizers, train_step
from tinygen.train import plots

args, _ = setup(__doc__.splitlines()[0], data="grid25", steps=4000)
x = toy_2d(args.data, 20000, 0)
centers, sigma = toy_modes(args.data)
norm = dict(shift=x.mean(0), scale=float(x.std()))        # the model works on standardised data
decay = dict(lr_decay_steps=args.steps, lr_final=0.1, ema=0.99)
variants = {
    "plain": (lambda: GAN((2,), latent_dim=2, hidden=(256, 256), **norm), GANOptions()),
    "pacgan": (lambda: GAN((2,), latent_dim=2, hidden=(256, 256), pack=2, **norm), GANOptions(**decay)),
    "self-conditioned": (lambda: SelfConditionedGAN((2,), clusters=50, hidden=(256, 256), **norm).fit_clusters(x),
                         GANOptions(**decay)),
}
for name, (make, opt) in variants.items():
    tg.manual_seed(0)
    gan = make()
    if opt.ema:
        gan.enable_ema()
    opts = make_optimizers(gan, opt)
    rng = np.random.default_rng(0)
    start = time.perf_counter()
    for step in range(args.steps):
        stats = train_step(gan, x[rng.integers(0, len(x), 256)], None, opts["d"], opts["g"], opt, step)
    s = gan.sample(2500).numpy()
    cov = mode_coverage(s, centers, sigma)
    print(f"{name:17s} {cov['modes']:2d}/{len(centers)} modes, {cov['high_quality']:6.1%} high quality  "
          f"(D(x) {stats['d_real']:.2f}, D(G(z)) {stats['d_fake']:.2f}; {time.perf_counter() - start:.0f} s)")
    plots.save_scatter_2d(s, os.path.join(args.out, f"gan_toys_{name}.png"), data=x[:5000], modes=centers,
                          mode_radius=3 * sigma,
                          title=f"{name}: {cov['modes']}/{len(centers)} modes, {cov['high_quality']:.0%} HQ")
