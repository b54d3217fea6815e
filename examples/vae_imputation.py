"""Filling in missing pixels with a variational autoencoder.

A VAE knows what digits look like, so it can complete a partly observed one: start with the
missing pixels at 0.5, reconstruct, put the observed pixels back, and repeat (``VAE.impute``).
Two kinds of damage on held-out digits: half of the pixels missing at random, and the whole
bottom half missing. The error on the missing pixels is compared with filling them with the
mean training digit.

    python examples/vae_imputation.py [OUT_DIR] [--epochs 120]
"""
import os

import numpy as np

from common import setup, train
from tinygen.models import VAE
from tinygen.train import plots

args, ds = setup(__doc__.splitlines()[0], epochs=120, iters=30)
(x_train, _), (x_test, _) = ds

vae = train(VAE((8, 8), latent_dim=8, hidden=(256, 256)), x_train, args.epochs, name="VAE")
mean_digit = x_train.mean(axis=0)
rng = np.random.default_rng(0)
masks = {"random half": rng.random(x_test.shape) < 0.5,
         "bottom half": np.broadcast_to(np.arange(8)[None, :, None] < 4, x_test.shape)}

for name, observed in masks.items():
    filled = vae.impute(x_test, observed, iters=args.iters).numpy()
    missing = ~observed
    err = float(np.mean((filled[missing] - x_test[missing]) ** 2))
    base = float(np.mean((np.broadcast_to(mean_digit, x_test.shape)[missing] - x_test[missing]) ** 2))
    print(f"{name:12s} missing: MSE on the missing pixels {err:.4f} (mean-digit fill {base:.4f})")
    shown = np.where(observed, x_test, 0.5)[:20]        # missing pixels drawn grey
    tag = name.replace(" ", "_")
    plots.save_reconstructions(x_test[:20], filled[:20], os.path.join(args.out, f"vae_impute_{tag}.png"),
                               noisy=shown, title=f"imputing the {name}: MSE {err:.4f} vs {base:.4f} (mean fill)")
print(f"wrote {args.out}/vae_impute_random_half.png and vae_impute_bottom_half.png")
