"""Denoising with a denoising autoencoder: noisy digit in, clean digit out.

    [Noisy Input] → [Encoder] → [Code] → [Decoder] → [Clean Output]

Trains a DenoisingAutoencoder that sees digits with Gaussian noise (σ = 0.3, clipped to [0, 1])
and must return the clean digit, then measures the peak signal-to-noise ratio (PSNR, dB) of the
noisy held-out digits and of their denoised versions; a plain autoencoder of the same size,
trained on clean digits only, is the comparison.

    python examples/dae_denoising.py [OUT_DIR] [--noise-level 0.3]
"""
import os

import numpy as np

import tinygen as tg
from common import psnr, setup, train
from tinygen.models import Autoencoder, DenoisingAutoencoder
from tinygen.train import plots

args, ds = setup(__doc__.splitlines()[0], noise_level=0.3, epochs=150)
(x_train, _), (x_test, _) = ds
arch = dict(latent_dim=32, hidden=(256, 128))

dae = train(DenoisingAutoencoder((8, 8), noise="gaussian", noise_level=args.noise_level, **arch),
            x_train, args.epochs, name="DAE")
ae = train(Autoencoder((8, 8), **arch), x_train, args.epochs, name="AE ")

tg.manual_seed(1)
noisy = dae.corrupt(x_test).numpy()           # the same noise as in training, on held-out digits
denoised = dae.reconstruct(noisy).numpy()
plain = ae.reconstruct(noisy).numpy()

p_noisy, p_dae, p_ae = psnr(noisy, x_test), psnr(denoised, x_test), psnr(plain, x_test)
print(f"PSNR of {len(x_test)} test digits, Gaussian noise σ={args.noise_level}:")
print(f"  noisy input           {p_noisy:6.2f} dB")
print(f"  plain autoencoder     {p_ae:6.2f} dB")
print(f"  denoising autoencoder {p_dae:6.2f} dB   (gain {p_dae - p_noisy:+.2f} dB over the noisy input)")
plots.save_reconstructions(x_test[:20], denoised[:20], os.path.join(args.out, "dae_denoising.png"),
                           noisy=noisy[:20],
                           title=f"denoising: {p_noisy:.1f} dB noisy → {p_dae:.1f} dB denoised")
print(f"wrote {args.out}/dae_denoising.png")
