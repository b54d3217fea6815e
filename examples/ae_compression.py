"""Compression with an autoencoder: 64 pixels → an 8-number code → 64 pixels.

    [Input] → [Encoder] → [Code] → [Decoder] → [Output]

Trains an MLP autoencoder (64-256-128-8, MSE loss) on the 8x8 digits, then shows held-out
digits next to their reconstructions from 8 numbers each (8× compression) and the test codes
projected on their two principal axes, coloured by digit: the encoder groups digits by class
although it never saw a label. Compares with PCA keeping as many numbers.

    python examples/ae_compression.py [OUT_DIR]
"""
import os

import numpy as np

from common import setup, train
from tinygen.models import Autoencoder
from tinygen.train import plots

args, ds = setup(__doc__.splitlines()[0], latent=8, epochs=150)
(x_train, _), (x_test, y_test) = ds

model = Autoencoder((8, 8), latent_dim=args.latent, hidden=(256, 128), loss="mse")
train(model, x_train, args.epochs, name="AE")

codes = model.encode(x_test).numpy()
recon = model.decode(model.encode(x_test)).numpy()
mse = float(np.mean((recon - x_test) ** 2))

# the linear baseline: PCA with the same number of components
flat = x_train.reshape(len(x_train), -1)
mean = flat.mean(0)
_, _, vt = np.linalg.svd(flat - mean, full_matrices=False)
pc = vt[:args.latent]
pca_recon = ((x_test.reshape(len(x_test), -1) - mean) @ pc.T) @ pc + mean
pca_mse = float(np.mean((pca_recon - x_test.reshape(len(x_test), -1)) ** 2))

print(f"code: {args.latent} numbers for 64 pixels ({64 / args.latent:.0f}x smaller)")
print(f"test reconstruction MSE per pixel: autoencoder {mse:.4f}, PCA-{args.latent} {pca_mse:.4f}")
plots.save_reconstructions(x_test[:20], recon[:20], os.path.join(args.out, "ae_compression_recon.png"),
                           title=f"{args.latent}-number codes: MSE {mse:.4f} (PCA-{args.latent}: {pca_mse:.4f})")
plots.save_latent_scatter(codes, y_test, os.path.join(args.out, "ae_compression_codes.png"),
                          title="test codes (no labels used in training)")
print(f"wrote {args.out}/ae_compression_recon.png and ae_compression_codes.png")
