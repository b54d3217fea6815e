"""Anomaly detection with an autoencoder: what it never saw, it cannot reconstruct.

Trains an autoencoder on the digits of every class but one (default: 8), then scores held-out
digits by their reconstruction error. The left-out class plays the anomalies; the ROC-AUC says
how well the score separates them from held-out digits of the known classes (0.5 = chance,
1.0 = perfect). ``--all`` repeats this for every class.

    python examples/ae_anomaly.py [OUT_DIR] [--anomaly 8] [--all 1]
"""
import os

import numpy as np

import tinygen as tg
from common import setup, train
from tinygen.models import Autoencoder
from tinygen.train import plots


def roc_auc(scores_pos, scores_neg):
    """Area under the ROC curve = P(score of a random positive > score of a random negative),
    ties counting one half (the Mann-Whitney U statistic / (n_pos · n_neg))."""
    s = np.concatenate([scores_pos, scores_neg])
    order = np.argsort(s, kind="mergesort")
    ranks = np.empty(len(s))
    ranks[order] = np.arange(1, len(s) + 1)
    for v in np.unique(s):                        # average ranks over ties
        tie = s == v
        if tie.sum() > 1:
            ranks[tie] = ranks[tie].mean()
    n_pos, n_neg = len(scores_pos), len(scores_neg)
    u = ranks[:n_pos].sum() - n_pos * (n_pos + 1) / 2
    return float(u / (n_pos * n_neg))


def run(anomaly, ds, epochs, out=None):
    (x_train, y_train), (x_test, y_test) = ds
    tg.manual_seed(0)                               # each class's run stands on its own
    model = Autoencoder((8, 8), latent_dim=8, hidden=(128, 64))
    train(model, x_train[y_train != anomaly], epochs, name=f"AE without {anomaly}")
    err = model.reconstruction_error(x_test).numpy()
    auc = roc_auc(err[y_test == anomaly], err[y_test != anomaly])
    if out is not None:
        worst = np.argsort(err)[::-1][:20]
        plots.save_reconstructions(x_test[worst], model.reconstruct(x_test[worst]).numpy(),
                                   os.path.join(out, f"ae_anomaly_{anomaly}.png"),
                                   title=f"20 highest anomaly scores (trained without {anomaly}): "
                                         f"{int(np.sum(y_test[worst] == anomaly))} are {anomaly}s")
    return auc


args, ds = setup(__doc__.splitlines()[0], anomaly=8, epochs=100, all=0)
classes = range(10) if args.all else [args.anomaly]
aucs = {}
for k in classes:
    aucs[k] = run(k, ds, args.epochs, args.out)
    print(f"left-out class {k}: ROC-AUC of the reconstruction error = {aucs[k]:.3f}")
if len(aucs) > 1:
    print(f"mean ROC-AUC over the ten classes: {np.mean(list(aucs.values())):.3f}")
print(f"wrote {args.out}/ae_anomaly_*.png")
