"""Bits per dimension: an exact likelihood for images with a normalizing flow.

Pixels are discrete (17 levels on the 8x8 digits), a flow models continuous densities. Uniform
dequantization, y = (k + u)/17 with u ~ U[0, 1), fills each level's bin; the logit transform
maps (0, 1) onto the real line (its Jacobian counted); then
bits/dim = (−log p(y) + 64·log 17) / (64·log 2) is the flow literature's figure: an upper bound
on the code length of the real pixels (a uniform model scores log2 17 ≈ 4.09).

A RealNVP on 1,437 digits overfits within a few dozen epochs, so the example holds out 10 % of
the training set, prints train and validation bits/dim per epoch, keeps the best weights
(early stopping) and reports the test figure. It draws samples at temperatures 1, 0.8 and 0.6
(z ~ N(0, T²I): lower T trades variety for cleaner strokes) and the train/validation curves.

    python examples/flow_digits.py [OUT_DIR] [--epochs 80] [--patience 10]
"""
import math
import os
import time

import numpy as np

import tinygen as tg
from common import setup
from tinygen.data import DataLoader
from tinygen.metrics import frechet_pca
from tinygen.models import RealNVP
from tinygen.train import plots

args, ds = setup(__doc__.splitlines()[0], epochs=80, patience=10)
x_tr, _, x_val, _ = ds.validation_split(0.1, seed=0)
model = RealNVP((8, 8), n_couplings=8, hidden=256, levels=17, logit_alpha=0.01)
opt = tg.optim.Adam(model.parameters(), lr=5e-4)
loader = DataLoader((x_tr,), batch_size=64, shuffle=True, seed=0)
to_bpd = 1.0 / (64 * math.log(2.0))
history = {"train bits/dim": [], "validation bits/dim": []}
best, best_state, bad = math.inf, None, 0
start = time.perf_counter()
for epoch in range(1, args.epochs + 1):
    total = 0.0
    for (xb,) in loader:
        opt.zero_grad()
        loss = model.loss(xb)                     # mean NLL of freshly dequantized pixels (nats)
        loss.backward()
        opt.step()
        total += loss.item()
    train_bpd = (total / len(loader) + 64 * math.log(17)) * to_bpd
    tg.manual_seed(1000)                          # the same dequantization noise every epoch
    val_bpd = model.bits_per_dim(x_val, n_dequant=2)
    history["train bits/dim"].append(train_bpd)
    history["validation bits/dim"].append(val_bpd)
    if val_bpd < best:
        best, bad = val_bpd, 0
        best_state = {k: v.numpy().copy() for k, v in model.state_dict().items()}
    else:
        bad += 1
    if epoch % 5 == 0 or bad >= args.patience:
        print(f"  epoch {epoch:3d}  train {train_bpd:.3f}  validation {val_bpd:.3f} bits/dim"
              f"  ({time.perf_counter() - start:.0f} s)")
    if bad >= args.patience:
        print(f"  no better validation score for {args.patience} epochs: stopping, keeping epoch {epoch - bad}")
        break
model.load_state_dict(best_state)

tg.manual_seed(0)
print(f"\ntest: {model.bits_per_dim(ds.x_test, n_dequant=4):.3f} bits/dim (uniform over 17 levels: {math.log2(17):.3f})")
for temp in (1.0, 0.8, 0.6):
    tg.manual_seed(1)
    s = model.sample(1000, temperature=temp).numpy()
    print(f"temperature {temp:.1f}: Fréchet distance to real digits {frechet_pca(ds.x_train, s):.3f}")
    plots.save_image_grid(s[:100], os.path.join(args.out, f"flow_digits_T{temp:g}.png"),
                          title=f"RealNVP samples, temperature {temp:g}")
plots.save_loss_curves(history, os.path.join(args.out, "flow_digits_bpd.png"), title="overfitting, seen in bits/dim")
print(f"wrote {args.out}/flow_digits_T*.png and flow_digits_bpd.png")
