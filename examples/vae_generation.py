"""Generation and the latent space of a variational autoencoder.

    [Input] → [Encoder] → [Mean/Var] → [Sample] → [Decoder] → [New Output]

Trains a VAE with a 2-D latent space on the digits (so the latent space can be drawn as it is),
then writes:

* vae_samples.png: 100 new digits, decoded from z ~ N(0, I);
* vae_latent.png: the codes μ(x) of the held-out digits, coloured by class: the KL term packs
  them around the origin, and similar digits land together without any label;
* vae_manifold.png: the decoder's output over a grid of z values spanning the prior, row by row;
* vae_interpolation.png: decoding the straight line between the codes of two test digits.

    python examples/vae_generation.py [OUT_DIR] [--latent 2] [--epochs 150]
"""
import os

import numpy as np

import tinygen as tg
from common import setup, train
from tinygen.models import VAE
from tinygen.train import plots

args, ds = setup(__doc__.splitlines()[0], latent=2, epochs=150)
(x_train, _), (x_test, y_test) = ds

vae = train(VAE((8, 8), latent_dim=args.latent, hidden=(256, 256)), x_train, args.epochs, name="VAE")
print(f"held-out ELBO {vae.elbo(x_test, n_samples=10).numpy().mean():.2f} nats per digit")

tg.manual_seed(1)
plots.save_image_grid(vae.sample(100).numpy(), os.path.join(args.out, "vae_samples.png"),
                      title=f"VAE samples (latent dim {args.latent})")
mu, _ = vae.encode(x_test)
plots.save_latent_scatter(mu.numpy(), y_test, os.path.join(args.out, "vae_latent.png"),
                          title="test codes μ(x)")
if args.latent == 2:
    # a 12x12 grid over the prior's central mass (quantiles 3%..97% of N(0, 1) per axis)
    from statistics import NormalDist
    q = np.array([NormalDist().inv_cdf(p) for p in np.linspace(0.03, 0.97, 12)], np.float32)
    grid = np.stack(np.meshgrid(q, -q), axis=-1).reshape(-1, 2)
    plots.save_image_grid(vae.decode(tg.Tensor(grid)).numpy(), os.path.join(args.out, "vae_manifold.png"),
                          nrow=12, title="decoder over the 2-D latent grid")
a = int(np.flatnonzero(y_test == 0)[0])
b = int(np.flatnonzero(y_test == 6)[0]) if args.latent > 2 else int(np.flatnonzero(y_test == 1)[0])
plots.save_interpolation_strip(vae.interpolate(x_test[a], x_test[b], steps=10).numpy(),
                               os.path.join(args.out, "vae_interpolation.png"),
                               title=f"from a {y_test[a]} to a {y_test[b]} through latent space")
print(f"wrote {args.out}/vae_samples.png, vae_latent.png, vae_manifold.png, vae_interpolation.png")
