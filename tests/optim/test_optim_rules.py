"""Optimizers against hand-computed steps on scalar parameters (PyTorch's update rules)."""
from __future__ import annotations

import math

import numpy as np
import pytest

import tinygen as tg
from tinygen import optim


def scalar(v=1.0):
    return tg.nn.Parameter(tg.tensor([v], dtype=tg.float64))


def run(opt_cls, grads, p0=1.0, **kw):
    """Values of a scalar parameter after each step with the given gradients."""
    p = scalar(p0)
    opt = opt_cls([p], **kw)
    out = []
    for g in grads:
        p.grad = tg.tensor([g], dtype=tg.float64)
        opt.step()
        out.append(float(p.item()))
    return out


GRADS = [0.5, -1.0, 2.0]


# ----------------------------------------------------------------------------- SGD
def test_sgd_plain():
    assert run(optim.SGD, GRADS, lr=0.1) == pytest.approx([0.95, 1.05, 0.85], abs=1e-14)


def test_sgd_first_step_by_hand():
    # p = 1, g = 0.5, lr = 0.1, momentum 0.9, weight_decay 0.1: d = 0.5 + 0.1 = 0.6, buf = d, p = 1 − 0.06
    assert run(optim.SGD, [0.5], lr=0.1, momentum=0.9, weight_decay=0.1)[0] == pytest.approx(0.94, abs=1e-14)
    # nesterov: d = 0.6 + 0.9·0.6 = 1.14 → p = 1 − 0.114
    assert run(optim.SGD, [0.5], lr=0.1, momentum=0.9, weight_decay=0.1, nesterov=True)[0] == \
        pytest.approx(0.886, abs=1e-14)


@pytest.mark.parametrize("nesterov, dampening", [(False, 0.0), (False, 0.3), (True, 0.0)])
def test_sgd_momentum_weight_decay(nesterov, dampening):
    lr, mu, wd = 0.1, 0.9, 0.01
    p, buf, expect = 1.0, None, []
    for g in GRADS:
        d = g + wd * p
        buf = d if buf is None else mu * buf + (1 - dampening) * d     # no dampening on the first step
        d = d + mu * buf if nesterov else buf
        p = p - lr * d
        expect.append(p)
    got = run(optim.SGD, GRADS, lr=lr, momentum=mu, dampening=dampening, weight_decay=wd, nesterov=nesterov)
    assert got == pytest.approx(expect, abs=1e-14)


def test_sgd_maximize():
    assert run(optim.SGD, [0.5], lr=0.1, maximize=True)[0] == pytest.approx(1.05)


# ----------------------------------------------------------------------------- Adam
def adam_by_hand(grads, lr, b1, b2, eps, wd=0.0, amsgrad=False, decoupled=False, p=1.0):
    m = v = vmax = 0.0
    out = []
    for t, g in enumerate(grads, start=1):
        if wd:
            if decoupled:
                p = p * (1 - lr * wd)
            else:
                g = g + wd * p
        m = b1 * m + (1 - b1) * g
        v = b2 * v + (1 - b2) * g * g
        vmax = max(vmax, v)
        vhat = (vmax if amsgrad else v) / (1 - b2 ** t)
        p = p - lr * (m / (1 - b1 ** t)) / (math.sqrt(vhat) + eps)
        out.append(p)
    return out


def test_adam_first_step_is_lr_times_sign():
    # m̂ = g, v̂ = g²: the first step moves by lr·g/(|g| + eps)
    assert run(optim.Adam, [0.5], lr=0.1)[0] == pytest.approx(1 - 0.1 * 0.5 / (0.5 + 1e-8), abs=1e-14)


@pytest.mark.parametrize("kw", [
    dict(lr=0.1),
    dict(lr=0.05, betas=(0.8, 0.99), eps=1e-3),
    dict(lr=0.1, weight_decay=0.5),
    dict(lr=0.1, amsgrad=True),
    dict(lr=0.1, weight_decay=0.5, amsgrad=True),
])
def test_adam_by_hand(kw):
    grads = [2.0, 0.1, -0.1, 0.05]                 # v shrinks after the first step: amsgrad matters
    b1, b2 = kw.get("betas", (0.9, 0.999))
    expect = adam_by_hand(grads, kw["lr"], b1, b2, kw.get("eps", 1e-8), kw.get("weight_decay", 0.0),
                          kw.get("amsgrad", False))
    assert run(optim.Adam, grads, **kw) == pytest.approx(expect, abs=1e-13)


def test_amsgrad_differs_from_adam():
    grads = [2.0, 0.1, -0.1, 0.05]
    assert run(optim.Adam, grads, lr=0.1)[-1] != pytest.approx(run(optim.Adam, grads, lr=0.1, amsgrad=True)[-1])


@pytest.mark.parametrize("amsgrad", [False, True])
def test_adamw_decouples_weight_decay(amsgrad):
    grads = [2.0, 0.1, -0.1]
    expect = adam_by_hand(grads, 0.1, 0.9, 0.999, 1e-8, wd=0.5, amsgrad=amsgrad, decoupled=True)
    assert run(optim.AdamW, grads, lr=0.1, weight_decay=0.5, amsgrad=amsgrad) == pytest.approx(expect, abs=1e-13)
    # the default weight decay of AdamW is 0.01
    expect = adam_by_hand(grads, 0.1, 0.9, 0.999, 1e-8, wd=0.01, decoupled=True)
    assert run(optim.AdamW, grads, lr=0.1) == pytest.approx(expect, abs=1e-13)
    assert optim.AdamW([scalar()]).param_groups[0]["weight_decay"] == 0.01


def test_adam_with_decoupled_flag_is_adamw():
    grads = [2.0, 0.1]
    assert run(optim.Adam, grads, lr=0.1, weight_decay=0.3, decoupled_weight_decay=True) == \
        pytest.approx(run(optim.AdamW, grads, lr=0.1, weight_decay=0.3), abs=0)


# ----------------------------------------------------------------------------- RMSprop
def rmsprop_by_hand(grads, lr, alpha, eps, wd=0.0, momentum=0.0, centered=False, p=1.0):
    v = gavg = buf = 0.0
    out = []
    for g in grads:
        if wd:
            g = g + wd * p
        v = alpha * v + (1 - alpha) * g * g
        if centered:
            gavg = alpha * gavg + (1 - alpha) * g
            avg = math.sqrt(v - gavg * gavg) + eps
        else:
            avg = math.sqrt(v) + eps
        if momentum > 0:
            buf = momentum * buf + g / avg
            p = p - lr * buf
        else:
            p = p - lr * g / avg
        out.append(p)
    return out


def test_rmsprop_first_step_by_hand():
    # v = 0.01·0.25 = 0.0025, √v = 0.05: p = 1 − 0.01·0.5/0.05 = 0.9 (eps aside)
    assert run(optim.RMSprop, [0.5])[0] == pytest.approx(1 - 0.01 * 0.5 / (0.05 + 1e-8), abs=1e-14)


@pytest.mark.parametrize("kw", [
    dict(lr=0.01),
    dict(lr=0.01, alpha=0.9, weight_decay=0.2),
    dict(lr=0.01, momentum=0.9),
    dict(lr=0.01, centered=True),
    dict(lr=0.01, centered=True, momentum=0.5, weight_decay=0.1, alpha=0.8),
])
def test_rmsprop_by_hand(kw):
    expect = rmsprop_by_hand(GRADS, kw["lr"], kw.get("alpha", 0.99), 1e-8, kw.get("weight_decay", 0.0),
                             kw.get("momentum", 0.0), kw.get("centered", False))
    assert run(optim.RMSprop, GRADS, **kw) == pytest.approx(expect, abs=1e-13)


# ----------------------------------------------------------------------------- groups and grads
def test_param_groups_with_their_own_lr():
    a, b = scalar(1.0), scalar(1.0)
    opt = optim.SGD([{"params": [a]}, {"params": [b], "lr": 0.01}], lr=0.1, momentum=0.0)
    assert [g["lr"] for g in opt.param_groups] == [0.1, 0.01]
    a.grad = tg.tensor([1.0], dtype=tg.float64)
    b.grad = tg.tensor([1.0], dtype=tg.float64)
    opt.step()
    assert a.item() == pytest.approx(0.9) and b.item() == pytest.approx(0.99)
    opt.param_groups[1]["lr"] = 0.5                   # hyperparameters are read at every step
    opt.step()
    assert b.item() == pytest.approx(0.49)
    c = scalar(1.0)
    opt.add_param_group({"params": c, "momentum": 0.9})
    assert opt.param_groups[2]["lr"] == 0.1 and opt.param_groups[2]["momentum"] == 0.9


def test_parameters_without_grad_are_skipped():
    a, b = scalar(1.0), scalar(1.0)
    opt = optim.Adam([a, b], lr=0.1)
    a.grad = tg.tensor([1.0], dtype=tg.float64)
    opt.step()
    assert b.item() == 1.0 and a.item() != 1.0
    assert b not in opt.state or not opt.state[b]
    assert opt.state[a]["step"] == 1


def test_zero_grad():
    p = scalar()
    opt = optim.SGD([p], lr=0.1)
    p.grad = tg.tensor([1.0], dtype=tg.float64)
    opt.zero_grad(set_to_none=False)
    assert p.grad is not None and p.grad.item() == 0.0
    opt.zero_grad()
    assert p.grad is None


def test_step_runs_the_closure_and_records_no_graph():
    p = scalar(2.0)
    opt = optim.SGD([p], lr=0.25)

    def closure():
        opt.zero_grad()
        loss = (p * p).sum()
        loss.backward()
        return loss
    loss = opt.step(closure)
    assert loss.item() == pytest.approx(4.0) and p.item() == pytest.approx(1.0)
    assert p.is_leaf and p.grad_fn is None


# ----------------------------------------------------------------------------- errors
def test_clear_errors():
    p = scalar()
    with pytest.raises(ValueError, match="Invalid learning rate: -0.1"):
        optim.SGD([p], lr=-0.1)
    with pytest.raises(ValueError, match="Invalid beta parameter at index 1: 1.0"):
        optim.Adam([p], betas=(0.9, 1.0))
    with pytest.raises(ValueError, match="Invalid beta parameter at index 0: -0.1"):
        optim.AdamW([p], betas=(-0.1, 0.9))
    with pytest.raises(ValueError, match="Invalid epsilon"):
        optim.Adam([p], eps=-1.0)
    with pytest.raises(ValueError, match="Invalid weight_decay"):
        optim.RMSprop([p], weight_decay=-1.0)
    with pytest.raises(ValueError, match="Invalid momentum"):
        optim.RMSprop([p], momentum=-0.5)
    with pytest.raises(ValueError, match="Nesterov momentum requires a momentum and zero dampening"):
        optim.SGD([p], lr=0.1, nesterov=True)
    with pytest.raises(ValueError, match="empty parameter list"):
        optim.Adam([])
    with pytest.raises(ValueError, match="requires_grad=False"):
        optim.Adam([tg.ones(2)])
    with pytest.raises(ValueError, match="non-leaf"):
        optim.Adam([p * 2])
    with pytest.raises(TypeError, match="iterable of Tensors"):
        optim.Adam(p)
    with pytest.raises(TypeError, match="optimize Tensors"):
        optim.Adam([np.zeros(2)])
    with pytest.raises(ValueError, match="more than one parameter group"):
        optim.SGD([{"params": [p]}, {"params": [p]}], lr=0.1)
    with pytest.raises(TypeError, match="ordered collections"):
        optim.SGD({"params": {p}}, lr=0.1)
