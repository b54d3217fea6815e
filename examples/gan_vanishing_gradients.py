"""Why nobody trains the generator on the minimax loss: the vanishing gradient, measured.

    [Noise] → [Generator] → [Fake] → [Discriminator] ← [Real]

The original game has G minimise log(1 − D(G(z))). When D rejects the fakes with confidence,
D(G(z)) ≈ 0, that curve is flat: ∂/∂logit log(1 − σ(f)) = −σ(f) ≈ 0, and G gets almost no
gradient. The non-saturating loss −log D(G(z)) has the same fixed point but gradient σ(f) − 1 ≈ −1
there. (Arjovsky & Bottou, 2017, Figure 2, did this experiment on DCGAN.)

Setting: ring8 (8 Gaussians on a circle), a G that is held fixed, and a D trained alone against it
for ``--d-steps`` steps -- the "discriminator too good" row of the tips table. Every 20 D steps
we measure, on the same G and D, ‖∇G‖ for both generator losses. Writes
gan_vanishing_gradients.png (both norms and D(G(z)) against D's training steps).

Then a short game with each loss (the GAN's usual Adam, which rescales small gradients and so
hides part of the problem; with SGD the minimax G simply stalls).

    python examples/gan_vanishing_gradients.py [OUT_DIR] [--d-steps 600] [--game-steps 2000]
"""
import os

import numpy as np

import tinygen as tg
from common import setup
from tinygen.data import toy_2d, toy_modes
from tinygen.metrics import mode_coverage
from tinygen.models import GAN
from tinygen.models.gan_tricks import GANOptions, grad_norm, make_optimizers, train_step
from tinygen.train import plots

args, _ = setup(__doc__.splitlines()[0], d_steps=600, game_steps=2000)
x = toy_2d("ring8", 20000, 0)
centers, sigma = toy_modes("ring8")
rng = np.random.default_rng(0)

# ---- 1. a fixed G, a D that keeps getting better: ‖∇G‖ under both losses
gan = GAN((2,), latent_dim=2, hidden=(128, 128), scale=1.41)
opt_d = tg.optim.Adam(gan.discriminator.parameters(), lr=1e-3, betas=(0.5, 0.999))
z_eval = gan.sample_latent(1024)
curves = {"D step": [], "|grad G| minimax": [], "|grad G| non-saturating": [], "D(G(z))": []}
for step in range(args.d_steps + 1):
    if step % 20 == 0:
        norms = {}
        for loss in ("minimax", "nonsaturating"):
            gan.loss_type = loss
            gan.generator.zero_grad()
            g_loss, logits = gan.g_loss(gan.generate(z_eval))
            g_loss.backward()
            norms[loss] = grad_norm(gan.generator.parameters())
        d_fake = float(np.mean(1 / (1 + np.exp(-logits.numpy()))))
        curves["D step"].append(step)
        curves["|grad G| minimax"].append(norms["minimax"])
        curves["|grad G| non-saturating"].append(norms["nonsaturating"])
        curves["D(G(z))"].append(d_fake)
        if step % 200 == 0:
            print(f"D step {step:4d}: D(G(z)) {d_fake:.2e}   ‖∇G‖ minimax {norms['minimax']:.2e}   "
                  f"non-saturating {norms['nonsaturating']:.2e}")
    real = gan.to_model_space(x[rng.integers(0, len(x), 256)])
    with tg.no_grad():
        fake = gan.generate(gan.sample_latent(256))
    d_loss, _, _ = gan.d_loss(real, fake)
    opt_d.zero_grad()
    d_loss.backward()
    opt_d.step()
plots.save_loss_curves(curves, os.path.join(args.out, "gan_vanishing_gradients.png"), log=True, separate=False,
                       xlabel="D training steps (G fixed)",
                       title="generator gradient norm as D gets better: minimax vs non-saturating")

# ---- 2. the same game with each loss
for loss in ("minimax", "nonsaturating"):
    tg.manual_seed(0)
    gan = GAN((2,), latent_dim=2, hidden=(128, 128), loss=loss, scale=1.41)
    o = GANOptions()
    opts = make_optimizers(gan, o)
    r = np.random.default_rng(0)
    for step in range(args.game_steps):
        st = train_step(gan, x[r.integers(0, len(x), 256)], None, opts["d"], opts["g"], o, step)
    cov = mode_coverage(gan.sample(2500).numpy(), centers, sigma)
    print(f"game with the {loss} G loss, {args.game_steps} steps: {cov['modes']}/8 modes, "
          f"{cov['high_quality']:.0%} high quality (last ‖∇G‖ {st['g_grad_norm']:.2e})")
