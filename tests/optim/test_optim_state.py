"""Optimizer machinery: fused kernels vs references, flat buffers, state dicts, devices, schedulers."""
from __future__ import annotations

import numpy as np
import pytest

import tinygen as tg
from tinygen import backend, kernels, nn, optim
from tinygen.optim import lr_scheduler
from tinygen.optim import optimizer as optimizer_mod

needs_cuda = pytest.mark.skipif(not backend.cuda_available(), reason="no cuda device (set TINYGEN_FAKE_CUDA=1)")

# one parameter large enough (>= 65536 elements) for its own kernel call, several small ones packed
SHAPES = [(3, 4), (4,), (300, 220), (7,), (2, 3, 2)]
CONFIGS = [
    (optim.SGD, dict(lr=0.05)),
    (optim.SGD, dict(lr=0.05, momentum=0.9, dampening=0.1, weight_decay=1e-2)),
    (optim.SGD, dict(lr=0.05, momentum=0.9, nesterov=True, maximize=True)),
    (optim.Adam, dict(lr=1e-2)),
    (optim.Adam, dict(lr=1e-2, weight_decay=0.1, amsgrad=True)),
    (optim.AdamW, dict(lr=1e-2, betas=(0.8, 0.99))),
    (optim.RMSprop, dict(lr=1e-3)),
    (optim.RMSprop, dict(lr=1e-3, momentum=0.9, centered=True, weight_decay=0.1)),
]
IDS = [f"{c.__name__}-{i}" for i, (c, _) in enumerate(CONFIGS)]


def make_params(dtype=np.float32, device=None, seed=0):
    rng = np.random.default_rng(seed)
    return [nn.Parameter(tg.tensor(rng.standard_normal(s).astype(dtype), device=device)) for s in SHAPES]


def grad_stream(steps, dtype=np.float32, seed=1, skip=()):
    """Gradients per step; ``skip`` lists (step, index) pairs that get no gradient."""
    rng = np.random.default_rng(seed)
    return [[None if (t, i) in skip else rng.standard_normal(s).astype(dtype) for i, s in enumerate(SHAPES)]
            for t in range(steps)]


def trajectory(cls, kw, grads, params=None, opt=None, device=None):
    params = params if params is not None else make_params(device=device)
    opt = opt if opt is not None else cls(params, **kw)
    for gs in grads:
        for p, g in zip(params, gs):
            p.grad = None if g is None else tg.tensor(g, device=p.device)
        opt.step()
    return [p.numpy().copy() for p in params], opt


def assert_same(a, b, rtol=0.0, atol=0.0):
    for x, y in zip(a, b):
        np.testing.assert_allclose(x, y, rtol=rtol, atol=atol)


# ----------------------------------------------------------------------------- kernel vs reference
@pytest.mark.parametrize("cls, kw", CONFIGS, ids=IDS)
def test_fused_path_matches_reference_paths_over_20_steps(cls, kw, monkeypatch):
    grads = grad_stream(20)
    fused, _ = trajectory(cls, kw, grads)
    with kernels.use_fused(False):                        # the kernels' own NumPy references
        ref, _ = trajectory(cls, kw, grads)
    monkeypatch.setattr(optimizer_mod._kernels, "cache", False)     # tinygen.optim's references
    own, _ = trajectory(cls, kw, grads)
    assert_same(fused, ref, rtol=2e-5, atol=2e-6)
    assert_same(fused, own, rtol=2e-5, atol=2e-6)


@pytest.mark.parametrize("cls, kw", CONFIGS, ids=IDS)
def test_packed_update_equals_one_optimizer_per_parameter(cls, kw):
    """Packing (one call over many parameters) and missing gradients give per-parameter results."""
    grads = grad_stream(6, skip={(1, 0), (2, 2), (3, 1), (3, 4)})
    packed, _ = trajectory(cls, kw, grads)
    params = make_params()
    opts = [cls([p], **kw) for p in params]
    for gs in grads:
        for p, g, o in zip(params, gs, opts):
            p.grad = None if g is None else tg.tensor(g, device=p.device)
            o.step()
    assert_same(packed, [p.numpy() for p in params], rtol=1e-6, atol=1e-7)


def test_parameter_data_are_views_of_one_flat_buffer_and_stay_usable():
    params = make_params()
    opt = optim.Adam(params)
    for p in params:
        p.grad = tg.ones(*p.shape)
    opt.step()
    (bucket,) = opt._buckets[0][1]
    assert bucket.flat.size == sum(p.size for p in params)
    bucket.flat[...] = 7.0
    assert all(np.all(p.numpy() == 7.0) for p in params)     # every p.data is a view of the flat buffer
    with tg.no_grad():
        params[0].fill_(2.0)                                 # in-place writes land in the flat buffer
    assert np.all(params[0].numpy() == 2.0)
    assert ((params[2] * 2).sum() * 0).item() == 0.0


def test_replacing_data_repacks_and_keeps_state():
    params = make_params()
    opt = optim.Adam(params, lr=1e-2)
    grads = grad_stream(4)
    trajectory(optim.Adam, {}, grads[:2], params, opt)
    ref_params = make_params()
    ref_opt = optim.Adam(ref_params, lr=1e-2)
    trajectory(optim.Adam, {}, grads[:2], ref_params, ref_opt)
    params[1].data = params[1].data.copy()                 # someone swaps an array
    a, _ = trajectory(optim.Adam, {}, grads[2:], params, opt)
    b, _ = trajectory(optim.Adam, {}, grads[2:], ref_params, ref_opt)
    assert_same(a, b)


def test_clearing_the_state_restarts_from_zero():
    grads = grad_stream(3)
    fresh, _ = trajectory(optim.Adam, dict(lr=1e-2), grads[1:])
    params = make_params()
    opt = optim.Adam(params, lr=1e-2)
    trajectory(optim.Adam, {}, grads[:1], params, opt)
    with tg.no_grad():
        for p, p0 in zip(params, make_params()):
            p.copy_(p0)
    opt.state.clear()
    again, _ = trajectory(optim.Adam, {}, grads[1:], params, opt)
    assert_same(again, fresh)


def test_module_to_float64_after_steps_converts_the_state():
    model = nn.Sequential(nn.Linear(3, 4), nn.Tanh(), nn.Linear(4, 1))
    opt = optim.Adam(model.parameters(), lr=1e-2)
    x = tg.randn(8, 3)
    model(x).sum().backward()
    opt.step()
    model.double()
    opt.zero_grad()
    model(x.double()).sum().backward()
    opt.step()
    for p in model.parameters():
        assert p.dtype == np.float64
        assert opt.state[p]["exp_avg"].dtype == np.float64 and opt.state[p]["step"] == 2
    assert opt.state_dict()["state"][0]["exp_avg_sq"].dtype == np.float64


# ----------------------------------------------------------------------------- state dicts
def test_state_dict_has_pytorch_structure():
    params = make_params()
    opt = optim.Adam([{"params": params[:2]}, {"params": params[2:], "lr": 0.5}], amsgrad=True)
    trajectory(optim.Adam, {}, grad_stream(2, skip={(0, 4), (1, 4)}), params, opt)
    sd = opt.state_dict()
    assert set(sd) == {"state", "param_groups"}
    assert [g["params"] for g in sd["param_groups"]] == [[0, 1], [2, 3, 4]]
    assert sd["param_groups"][1]["lr"] == 0.5 and sd["param_groups"][0]["betas"] == (0.9, 0.999)
    assert sorted(sd["state"]) == [0, 1, 2, 3]                      # parameter 4 never had a gradient
    st = sd["state"][2]
    assert set(st) == {"step", "exp_avg", "exp_avg_sq", "max_exp_avg_sq"}
    assert isinstance(st["step"], tg.Tensor) and st["step"].item() == 2.0 and st["step"].dtype == np.float32
    assert st["exp_avg"].shape == SHAPES[2] and isinstance(st["exp_avg"], tg.Tensor)
    sgd = optim.SGD(make_params(), lr=0.1)
    trajectory(optim.SGD, {}, grad_stream(1), opt=sgd, params=sgd.param_groups[0]["params"])
    assert all(not s for s in sgd.state_dict()["state"].values())   # no momentum: no state, as PyTorch


@pytest.mark.parametrize("cls, kw", CONFIGS, ids=IDS)
def test_state_dict_through_checkpoint_resumes_the_same_trajectory(cls, kw, tmp_path):
    grads = grad_stream(10, skip={(2, 1)})
    full, _ = trajectory(cls, kw, grads)

    params = make_params()
    opt = cls(params, **kw)
    trajectory(cls, kw, grads[:5], params, opt)
    tg.save({"params": [p.detach() for p in params], "optim": opt.state_dict()}, tmp_path / "ck")
    trajectory(cls, kw, grads[5:7], params, opt)           # the saved state is a copy: unaffected

    ck = tg.load(tmp_path / "ck")
    params2 = [nn.Parameter(t) for t in ck["params"]]
    opt2 = cls(params2, lr=123.0)                          # hyperparameters come from the checkpoint too
    opt2.load_state_dict(ck["optim"])
    assert opt2.param_groups[0]["lr"] == kw["lr"]
    resumed, _ = trajectory(cls, kw, grads[5:], params2, opt2)
    assert_same(resumed, full)


def test_load_state_dict_checks_groups_and_shapes():
    params = make_params()
    opt = optim.Adam(params)
    trajectory(optim.Adam, {}, grad_stream(1), params, opt)
    sd = opt.state_dict()
    with pytest.raises(ValueError, match="parameter groups"):
        optim.Adam([{"params": params[:2]}, {"params": params[2:]}]).load_state_dict(sd)
    with pytest.raises(ValueError, match="doesn't match the size"):
        optim.Adam(params[:3]).load_state_dict(sd)
    other = [nn.Parameter(tg.zeros(*s)) for s in reversed(SHAPES)]
    with pytest.raises(ValueError, match=r"state 'exp_avg' of parameter 0 has shape \(3, 4\).*\(2, 3, 2\)"):
        optim.Adam(other).load_state_dict(sd)


def test_load_state_dict_converts_dtype():
    params = make_params()
    opt = optim.Adam(params)
    trajectory(optim.Adam, {}, grad_stream(1), params, opt)
    sd = opt.state_dict()
    p64 = [nn.Parameter(p.detach().double()) for p in params]
    opt64 = optim.Adam(p64)
    opt64.load_state_dict(sd)
    trajectory(optim.Adam, {}, [[g.astype(np.float64) for g in grad_stream(1)[0]]], p64, opt64)
    assert opt64.state[p64[0]]["exp_avg"].dtype == np.float64 and opt64.state[p64[0]]["step"] == 2


# ----------------------------------------------------------------------------- devices
@needs_cuda
@pytest.mark.parametrize("cls, kw", CONFIGS, ids=IDS)
def test_cuda_trajectory_matches_cpu(cls, kw):
    grads = grad_stream(5, skip={(1, 2)})
    cpu, _ = trajectory(cls, kw, grads, device="cpu")
    dev, opt = trajectory(cls, kw, grads, device="cuda")
    assert_same(cpu, dev, rtol=2e-5, atol=2e-6)
    sd = opt.state_dict()
    for st in sd["state"].values():
        for name, v in st.items():
            assert v.device == ("cpu" if name == "step" else "cuda")


@needs_cuda
def test_module_to_cuda_keeps_optimizer_working():
    model = nn.Sequential(nn.Linear(3, 4), nn.Tanh(), nn.Linear(4, 1))
    opt = optim.Adam(model.parameters(), lr=1e-2)
    model(tg.randn(8, 3)).sum().backward()
    opt.step()
    model.to("cuda")
    opt.zero_grad()
    model(tg.randn(8, 3, device="cuda")).sum().backward()
    opt.step()
    assert all(p.device == "cuda" and opt.state[p]["exp_avg"].device == "cuda" for p in model.parameters())


# ----------------------------------------------------------------------------- end to end
def test_training_a_small_model_reduces_the_loss():
    tg.manual_seed(0)
    model = nn.Sequential(nn.Linear(2, 16), nn.ReLU(), nn.Linear(16, 1))
    opt = optim.Adam(model.parameters(), lr=1e-2)
    x = tg.randn(64, 2)
    y = (x[:, :1] * 2 - x[:, 1:] * 3)
    losses = []
    for _ in range(100):
        opt.zero_grad()
        loss = ((model(x) - y) ** 2).mean()
        loss.backward()
        opt.step()
        losses.append(loss.item())
    assert losses[-1] < 0.05 * losses[0]


# ----------------------------------------------------------------------------- schedulers
def lrs(sched, opt, n):
    out = []
    for _ in range(n):
        out.append(opt.param_groups[0]["lr"])
        opt.step()
        sched.step()
    return out


def test_step_lr_and_multistep():
    p = nn.Parameter(tg.zeros(1))
    opt = optim.SGD([p], lr=1.0)
    assert lrs(lr_scheduler.StepLR(opt, step_size=2, gamma=0.5), opt, 5) == pytest.approx([1, 1, .5, .5, .25])
    opt = optim.SGD([p], lr=1.0)
    assert lrs(lr_scheduler.MultiStepLR(opt, [1, 3], 0.1), opt, 4) == pytest.approx([1, .1, .1, .01])


def test_cosine_and_lambda_and_state_dict():
    p = nn.Parameter(tg.zeros(1))
    opt = optim.SGD([p], lr=1.0)
    sched = lr_scheduler.CosineAnnealingLR(opt, T_max=4, eta_min=0.1)
    got = lrs(sched, opt, 5)
    expect = [0.1 + 0.9 * (1 + np.cos(np.pi * t / 4)) / 2 for t in range(5)]
    assert got == pytest.approx(expect)
    assert sched.get_last_lr() == pytest.approx([0.1 + 0.9 * (1 + np.cos(np.pi * 5 / 4)) / 2])
    opt = optim.SGD([p], lr=2.0)
    lam = lr_scheduler.LambdaLR(opt, lambda e: 1 / (e + 1))
    assert lrs(lam, opt, 3) == pytest.approx([2.0, 1.0, 2 / 3])
    sd = lam.state_dict()
    opt2 = optim.SGD([p], lr=2.0)
    lam2 = lr_scheduler.LambdaLR(opt2, lambda e: 1 / (e + 1))
    lam2.load_state_dict(sd)
    lam2.step()
    assert opt2.param_groups[0]["lr"] == pytest.approx(2 / 5)          # epoch 4 after 3 steps + 1
