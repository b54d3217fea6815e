"""The workloads of the suite, each written twice: once in tinygen, once in PyTorch, doing the same
arithmetic on the same shapes, on the CPU or (``device="cuda"``) a GPU. A workload returns a
zero-argument ``step`` callable per library;
the suite times it. ``flops`` (when given) is the multiply-add work of one step, used to show the
share of the machine's sgemm speed a workload reaches.
"""
from __future__ import annotations

import numpy as np

WORKLOADS = {}


def workload(name, flops=None, quick=True):
    def deco(cls):
        cls.name = name
        cls.flops = flops
        cls.quick = quick
        WORKLOADS[name] = cls
        return cls
    return deco


def _rng(seed=0):
    return np.random.default_rng(seed)


def _torch():
    try:
        import torch
        return torch
    except ImportError:
        return None


# ------------------------------------------------------------------ per-op overhead
@workload("autograd overhead, µs/op (1000 ops × 16 elements)")
class Overhead:
    unit = "us_per_op"
    n_ops = 1000
    repeat_scale = 5          # 35 timed chains in a quick run, in turns of 10 (suite.run)
    block = 10

    @staticmethod
    def _chain(x, c, n_ops):
        y = x
        for _ in range(n_ops // 5):
            y = y + c
            y = y * c
            y = y.tanh()
            y = y - c
            y = y.sigmoid()
        return y.sum()

    def tinygen(self, device="cpu"):
        import tinygen as tg
        x = tg.tensor(_rng().standard_normal(16).astype(np.float32), requires_grad=True, device=device)
        c = tg.tensor(np.full(16, 0.5, np.float32), requires_grad=True, device=device)

        def step():
            x.grad = c.grad = None
            self._chain(x, c, self.n_ops).backward()
        return step

    def torch(self, device="cpu"):
        torch = _torch()
        x = torch.tensor(_rng().standard_normal(16).astype(np.float32), requires_grad=True, device=device)
        c = torch.full((16,), 0.5, requires_grad=True, device=device)

        def step():
            x.grad = c.grad = None
            self._chain(x, c, self.n_ops).backward()
        return step

    def scale(self, seconds):
        return seconds / self.n_ops * 1e6


# ------------------------------------------------------------------ optimizer
@workload("Adam step, 1M parameters")
class Adam1M:
    shapes = [(1000, 784), (1000,), (200, 1000), (200,), (784, 20)]   # ~1.0M parameters

    def tinygen(self, device="cpu"):
        import tinygen as tg
        ps = [tg.nn.Parameter(tg.tensor(_rng(i).standard_normal(s).astype(np.float32), device=device))
              for i, s in enumerate(self.shapes)]
        for i, p in enumerate(ps):
            p.grad = tg.tensor(_rng(10 + i).standard_normal(p.shape).astype(np.float32), device=device)
        opt = tg.optim.Adam(ps, lr=1e-3)
        return opt.step

    def torch(self, device="cpu"):
        torch = _torch()
        ps = [torch.nn.Parameter(torch.tensor(_rng(i).standard_normal(s).astype(np.float32), device=device))
              for i, s in enumerate(self.shapes)]
        for i, p in enumerate(ps):
            p.grad = torch.tensor(_rng(10 + i).standard_normal(p.shape).astype(np.float32), device=device)
        opt = torch.optim.Adam(ps, lr=1e-3)
        return opt.step


# ------------------------------------------------------------------ losses
@workload("BCE-with-logits fwd+bwd, 1M elements")
class BCE1M:
    n = 1_000_000

    def tinygen(self, device="cpu"):
        import tinygen as tg
        import tinygen.losses as L
        x = tg.tensor(_rng().standard_normal(self.n).astype(np.float32) * 3, requires_grad=True, device=device)
        z = (_rng(1).random(self.n) > 0.5).astype(np.float32)
        if device != "cpu":
            z = tg.tensor(z, device=device)

        def step():
            x.grad = None
            L.bce_with_logits(x, z).backward()
        return step

    def torch(self, device="cpu"):
        torch = _torch()
        x = torch.tensor(_rng().standard_normal(self.n).astype(np.float32) * 3, requires_grad=True, device=device)
        z = torch.tensor((_rng(1).random(self.n) > 0.5).astype(np.float32), device=device)

        def step():
            x.grad = None
            torch.nn.functional.binary_cross_entropy_with_logits(x, z).backward()
        return step


# ------------------------------------------------------------------ convolutions
def _conv_flops(n, cin, cout, oh, ow, k):
    return 3 * 2 * n * cout * oh * ow * cin * k * k      # forward + two backward GEMMs


@workload("conv2d 64→64 3×3 fwd+bwd, x (64, 64, 14, 14)", flops=_conv_flops(64, 64, 64, 14, 14, 3))
class Conv2d:
    def _arrays(self):
        return (_rng().standard_normal((64, 64, 14, 14)).astype(np.float32),
                (_rng(1).standard_normal((64, 64, 3, 3)) * 0.05).astype(np.float32),
                np.zeros(64, np.float32))

    def tinygen(self, device="cpu"):
        import tinygen as tg
        import tinygen.functional as F
        xa, wa, ba = self._arrays()
        x, w, b = (tg.tensor(a, requires_grad=True, device=device) for a in (xa, wa, ba))

        def step():
            x.grad = w.grad = b.grad = None
            F.conv2d(x, w, b, stride=1, padding=1).sum().backward()
        return step

    def torch(self, device="cpu"):
        torch = _torch()
        x, w, b = (torch.tensor(a, requires_grad=True, device=device) for a in self._arrays())

        def step():
            x.grad = w.grad = b.grad = None
            torch.nn.functional.conv2d(x, w, b, stride=1, padding=1).sum().backward()
        return step


@workload("conv_transpose2d 128→64 4/2/1 fwd+bwd, x (64, 128, 7, 7)", flops=_conv_flops(64, 64, 128, 7, 7, 4))
class ConvTranspose2d:
    def _arrays(self):
        return (_rng().standard_normal((64, 128, 7, 7)).astype(np.float32),
                (_rng(1).standard_normal((128, 64, 4, 4)) * 0.05).astype(np.float32))

    def tinygen(self, device="cpu"):
        import tinygen as tg
        import tinygen.functional as F
        x, w = (tg.tensor(a, requires_grad=True, device=device) for a in self._arrays())

        def step():
            x.grad = w.grad = None
            F.conv_transpose2d(x, w, None, stride=2, padding=1).sum().backward()
        return step

    def torch(self, device="cpu"):
        torch = _torch()
        x, w = (torch.tensor(a, requires_grad=True, device=device) for a in self._arrays())

        def step():
            x.grad = w.grad = None
            torch.nn.functional.conv_transpose2d(x, w, None, stride=2, padding=1).sum().backward()
        return step


# ------------------------------------------------------------------ model steps
def _mlp_flops(batch, sizes):
    return 3 * 2 * batch * sum(a * b for a, b in sizes)


@workload("MLP VAE 784-400-20 training step, batch 128",
          flops=_mlp_flops(128, [(784, 400), (400, 40), (20, 400), (400, 784)]))
class MLPVAEStep:
    batch = 128

    def _data(self):
        return (_rng().random((self.batch, 784)) > 0.7).astype(np.float32), \
            _rng(1).standard_normal((self.batch, 20)).astype(np.float32)

    def tinygen(self, device="cpu"):
        import tinygen as tg
        import tinygen.losses as L
        nn = tg.nn
        tg.manual_seed(0)
        enc, head, dec1, dec2 = (m.to(device) for m in (nn.Linear(784, 400), nn.Linear(400, 40),
                                                         nn.Linear(20, 400), nn.Linear(400, 784)))
        params = [p for m in (enc, head, dec1, dec2) for p in m.parameters()]
        opt = tg.optim.Adam(params, lr=1e-3)
        xa, eps = self._data()
        x = tg.tensor(xa, device=device)
        e = tg.tensor(eps, device=device)

        def step():
            h = enc(x).relu()
            stats = head(h)
            mu, logvar = stats[:, :20], stats[:, 20:]
            z = mu + (logvar * 0.5).exp() * e
            logits = dec2(dec1(z).relu())
            loss = L.bce_with_logits(logits, x, reduction="sum") / self.batch + L.kl_normal(mu, logvar)
            opt.zero_grad()
            loss.backward()
            opt.step()
        return step

    def torch(self, device="cpu"):
        torch = _torch()
        nn = torch.nn
        torch.manual_seed(0)
        enc, head, dec1, dec2 = (m.to(device) for m in (nn.Linear(784, 400), nn.Linear(400, 40),
                                                         nn.Linear(20, 400), nn.Linear(400, 784)))
        params = [p for m in (enc, head, dec1, dec2) for p in m.parameters()]
        opt = torch.optim.Adam(params, lr=1e-3)
        xa, eps = self._data()
        x = torch.tensor(xa, device=device)
        e = torch.tensor(eps, device=device)
        F = torch.nn.functional

        def step():
            h = F.relu(enc(x))
            stats = head(h)
            mu, logvar = stats[:, :20], stats[:, 20:]
            z = mu + (logvar * 0.5).exp() * e
            logits = dec2(F.relu(dec1(z)))
            kl = 0.5 * (logvar.exp() + mu * mu - 1 - logvar).sum(-1).mean()
            loss = F.binary_cross_entropy_with_logits(logits, x, reduction="sum") / self.batch + kl
            opt.zero_grad()
            loss.backward()
            opt.step()
        return step


@workload("DCGAN D+G step, 28×28, batch 64", flops=None)
class DCGANStep:
    batch = 64

    @staticmethod
    def _nets(nn):
        G = nn.Sequential(nn.ConvTranspose2d(100, 128, 7, 1, 0), nn.BatchNorm2d(128), nn.ReLU(),
                          nn.ConvTranspose2d(128, 64, 4, 2, 1), nn.BatchNorm2d(64), nn.ReLU(),
                          nn.ConvTranspose2d(64, 1, 4, 2, 1), nn.Tanh())
        D = nn.Sequential(nn.Conv2d(1, 64, 4, 2, 1), nn.LeakyReLU(0.2),
                          nn.Conv2d(64, 128, 4, 2, 1), nn.BatchNorm2d(128), nn.LeakyReLU(0.2),
                          nn.Flatten(), nn.Linear(6272, 1))
        return G, D

    def _data(self):
        return (_rng().random((self.batch, 1, 28, 28)).astype(np.float32) * 2 - 1,
                _rng(1).standard_normal((self.batch, 100, 1, 1)).astype(np.float32))

    def tinygen(self, device="cpu"):
        import tinygen as tg
        import tinygen.losses as L
        tg.manual_seed(0)
        G, D = (m.to(device) for m in self._nets(tg.nn))
        og = tg.optim.Adam(G.parameters(), lr=2e-4, betas=(0.5, 0.999))
        od = tg.optim.Adam(D.parameters(), lr=2e-4, betas=(0.5, 0.999))
        xa, za = self._data()
        x, z = tg.tensor(xa, device=device), tg.tensor(za, device=device)

        def step():
            fake = G(z)
            d_loss = L.gan_d_loss(D(x), D(fake.detach()))
            od.zero_grad()
            d_loss.backward()
            od.step()
            g_loss = L.gan_g_loss(D(fake))
            og.zero_grad()
            g_loss.backward()
            og.step()
        return step

    def torch(self, device="cpu"):
        torch = _torch()
        torch.manual_seed(0)
        G, D = (m.to(device) for m in self._nets(torch.nn))
        og = torch.optim.Adam(G.parameters(), lr=2e-4, betas=(0.5, 0.999))
        od = torch.optim.Adam(D.parameters(), lr=2e-4, betas=(0.5, 0.999))
        xa, za = self._data()
        x, z = torch.tensor(xa, device=device), torch.tensor(za, device=device)
        bce = torch.nn.functional.binary_cross_entropy_with_logits

        def step():
            fake = G(z)
            rl, fl = D(x), D(fake.detach())
            d_loss = bce(rl, torch.ones_like(rl)) + bce(fl, torch.zeros_like(fl))
            od.zero_grad()
            d_loss.backward()
            od.step()
            gl = D(fake)
            g_loss = bce(gl, torch.ones_like(gl))
            og.zero_grad()
            g_loss.backward()
            og.step()
        return step
