"""Module: registration, names, state dicts, modes, devices/dtypes, containers, Parameter."""
from __future__ import annotations

import re
from collections import OrderedDict

import numpy as np
import pytest

import tinygen as tg
from tinygen import nn


class Block(nn.Module):
    def __init__(self):
        super().__init__()
        self.fc = nn.Linear(3, 4)
        self.bn = nn.BatchNorm1d(4)
        self.scale = nn.Parameter(tg.ones(1))
        self.register_buffer("count", tg.zeros(1))
        self.register_buffer("scratch", tg.zeros(2), persistent=False)
        self.note = "plain attribute"

    def forward(self, x):
        return self.bn(self.fc(x)) * self.scale


class Net(nn.Module):
    def __init__(self):
        super().__init__()
        self.encoder = nn.Sequential(nn.Linear(2, 3), nn.ReLU(), Block())
        self.head = nn.Linear(4, 1, bias=False)

    def forward(self, x):
        return self.head(self.encoder(x))


# ----------------------------------------------------------------------------- registration
def test_named_parameters_use_pytorch_dotted_names():
    net = Net()
    names = [n for n, _ in net.named_parameters()]
    assert names == ["encoder.0.weight", "encoder.0.bias", "encoder.2.scale", "encoder.2.fc.weight",
                     "encoder.2.fc.bias", "encoder.2.bn.weight", "encoder.2.bn.bias", "head.weight"]
    assert all(isinstance(p, nn.Parameter) and p.requires_grad and p.is_leaf for p in net.parameters())
    assert net.head.bias is None
    assert net.num_parameters() == 2 * 3 + 3 + 1 + 3 * 4 + 4 + 4 + 4 + 4


def test_buffers_modules_children():
    net = Net()
    assert [n for n, _ in net.named_buffers()] == [
        "encoder.2.count", "encoder.2.scratch", "encoder.2.bn.running_mean", "encoder.2.bn.running_var",
        "encoder.2.bn.num_batches_tracked"]
    assert [n for n, _ in net.named_modules()] == ["", "encoder", "encoder.0", "encoder.1", "encoder.2",
                                                   "encoder.2.fc", "encoder.2.bn", "head"]
    assert [type(c).__name__ for c in net.children()] == ["Sequential", "Linear"]
    assert len(list(net.modules())) == 8
    assert net.get_submodule("encoder.2.fc") is net.encoder[2].fc
    assert net.get_parameter("encoder.2.fc.bias") is net.encoder[2].fc.bias


def test_shared_parameters_are_listed_once():
    lin = nn.Linear(2, 2)
    seq = nn.Sequential(lin, nn.ReLU(), lin)
    assert len(list(seq.parameters())) == 2
    assert list(seq.state_dict()) == ["0.weight", "0.bias", "2.weight", "2.bias"]


def test_reassigning_and_deleting_attributes():
    m = Block()
    with pytest.raises(TypeError, match="cannot assign 'Tensor' as parameter 'scale'"):
        m.scale = tg.ones(1)
    m.scale = None
    assert "scale" not in dict(m.named_parameters())
    m.count = tg.full((1,), 5.0)                       # buffers take Tensors
    assert float(m.count.item()) == 5.0
    with pytest.raises(TypeError, match="buffer 'count'"):
        m.count = 3
    del m.fc
    assert not hasattr(m, "fc") and "fc" not in m._modules
    with pytest.raises(AttributeError, match="has no attribute 'missing'"):
        m.missing


def test_assignment_before_init_is_a_clear_error():
    class Bad(nn.Module):
        def __init__(self):
            self.w = nn.Parameter(tg.ones(1))
    with pytest.raises(AttributeError, match="before Module.__init__"):
        Bad()


# ----------------------------------------------------------------------------- Parameter
def test_parameter_from_tensor_and_array():
    t = tg.tensor([1.0, 2.0])
    p = nn.Parameter(t)
    assert p.data is t.data and p.requires_grad and p.is_leaf and isinstance(p, tg.Tensor)
    q = nn.Parameter(np.zeros((2, 3)), requires_grad=False)
    assert q.dtype == np.float64 and not q.requires_grad
    assert repr(p).startswith("Parameter containing:\ntensor(")
    y = (p * 2).sum()
    y.backward()
    np.testing.assert_allclose(p.grad.numpy(), [2.0, 2.0])
    assert type(p * 2) is tg.Tensor


# ----------------------------------------------------------------------------- state dict
def test_state_dict_names_and_round_trip():
    net, other = Net(), Net()
    sd = net.state_dict()
    assert list(sd) == ["encoder.0.weight", "encoder.0.bias", "encoder.2.scale", "encoder.2.count",
                        "encoder.2.fc.weight", "encoder.2.fc.bias", "encoder.2.bn.weight", "encoder.2.bn.bias",
                        "encoder.2.bn.running_mean", "encoder.2.bn.running_var",
                        "encoder.2.bn.num_batches_tracked", "head.weight"]
    assert isinstance(sd, OrderedDict)
    assert all(isinstance(v, tg.Tensor) and not v.requires_grad for v in sd.values())
    assert sd["encoder.2.bn.num_batches_tracked"].dtype == np.int64
    before = {k: id(p) for k, p in other.named_parameters()}
    res = other.load_state_dict(sd)
    assert res.missing_keys == [] and res.unexpected_keys == []
    for k, v in other.state_dict().items():
        np.testing.assert_array_equal(v.numpy(), sd[k].numpy())
    assert {k: id(p) for k, p in other.named_parameters()} == before      # copied in place
    x = tg.randn(5, 2)
    net.eval(), other.eval()
    np.testing.assert_array_equal(net(x).numpy(), other(x).numpy())


def test_state_dict_shares_memory_like_pytorch():
    lin = nn.Linear(2, 2)
    sd = lin.state_dict()
    with tg.no_grad():
        lin.weight.fill_(3.0)
    assert np.all(sd["weight"].numpy() == 3.0)


def test_load_state_dict_strict_errors_name_keys_and_shapes():
    lin = nn.Linear(2, 3)
    sd = {"weight": tg.zeros(4, 2), "foo": tg.zeros(1)}
    with pytest.raises(RuntimeError) as info:
        lin.load_state_dict(sd)
    msg = str(info.value)
    assert "Error(s) in loading state_dict for Linear" in msg
    assert 'Missing key(s) in state_dict: "bias".' in msg
    assert 'Unexpected key(s) in state_dict: "foo".' in msg
    assert re.search(r"size mismatch for weight: copying a param with shape \(4, 2\) from checkpoint, "
                     r"the shape in current model is \(3, 2\)", msg)


def test_load_state_dict_non_strict_reports_keys_but_still_checks_shapes():
    lin = nn.Linear(2, 3)
    w = np.arange(6, dtype=np.float64).reshape(3, 2)
    res = lin.load_state_dict({"weight": w, "extra.x": np.zeros(1)}, strict=False)
    assert res.missing_keys == ["bias"] and res.unexpected_keys == ["extra.x"]
    assert lin.weight.dtype == np.float32                                  # converted like copy_
    np.testing.assert_array_equal(lin.weight.numpy(), w.astype(np.float32))
    with pytest.raises(RuntimeError, match=r"size mismatch for bias: .*\(2,\) from checkpoint.*\(3,\)"):
        lin.load_state_dict({"bias": np.zeros(2)}, strict=False)


def test_non_persistent_buffers_are_not_saved_and_old_batchnorm_checkpoints_load():
    m = Block()
    assert "scratch" not in m.state_dict() and "count" in m.state_dict()
    bn = nn.BatchNorm1d(4)
    sd = bn.state_dict()
    del sd["num_batches_tracked"]
    assert bn.load_state_dict(sd).missing_keys == []


def test_state_dict_through_checkpoint_file(tmp_path):
    net = Net()
    tg.save(net.state_dict(), tmp_path / "ck")
    other = Net()
    other.load_state_dict(tg.load(tmp_path / "ck"))
    for (k, a), (_, b) in zip(net.state_dict().items(), other.state_dict().items()):
        np.testing.assert_array_equal(a.numpy(), b.numpy(), err_msg=k)


# ----------------------------------------------------------------------------- modes, grads
def test_train_eval_is_recursive():
    net = Net()
    assert all(m.training for m in net.modules())
    assert net.eval() is net
    assert not any(m.training for m in net.modules())
    net.encoder.train()
    assert net.encoder[2].bn.training and not net.training
    with pytest.raises(ValueError):
        net.train("yes")


def test_zero_grad_and_requires_grad():
    net = Net()
    net(tg.randn(4, 2)).sum().backward()
    assert all(p.grad is not None for p in net.parameters())
    net.zero_grad(set_to_none=False)
    assert all(p.grad is not None and not p.grad.numpy().any() for p in net.parameters())
    net.zero_grad()
    assert all(p.grad is None for p in net.parameters())
    net.requires_grad_(False)
    assert not any(p.requires_grad for p in net.parameters())


def test_apply_visits_children_first():
    net = Net()
    seen = []
    assert net.apply(lambda m: seen.append(type(m).__name__)) is net
    assert seen[-1] == "Net" and seen[:2] == ["Linear", "ReLU"]

    def init_linear(m):
        if isinstance(m, nn.Linear):
            nn.init.zeros_(m.weight)
    net.apply(init_linear)
    assert not net.head.weight.numpy().any()


# ----------------------------------------------------------------------------- to()
def test_to_float64_keeps_parameter_identity_and_converts_buffers():
    net = Net()
    params = list(net.parameters())
    net(tg.randn(3, 2)).sum().backward()
    out = net.to(tg.float64)
    assert out is net
    assert [id(p) for p in net.parameters()] == [id(p) for p in params]
    assert all(p.dtype == np.float64 and p.grad.dtype == np.float64 for p in net.parameters())
    assert net.encoder[2].bn.running_mean.dtype == np.float64
    assert net.encoder[2].bn.num_batches_tracked.dtype == np.int64          # integer buffers keep theirs
    assert net(tg.randn(3, 2, dtype=tg.float64)).dtype == np.float64
    net.float()
    assert all(p.dtype == np.float32 for p in net.parameters())
    with pytest.raises(TypeError, match="floating point"):
        net.to(tg.int64)


def test_to_keeps_an_existing_optimizer_working():
    lin = nn.Linear(3, 1)
    opt = tg.optim.SGD(lin.parameters(), lr=0.1)
    lin.double()
    x = tg.randn(4, 3, dtype=tg.float64)
    lin(x).sum().backward()
    w0 = lin.weight.numpy().copy()
    opt.step()
    assert lin.weight.dtype == np.float64
    np.testing.assert_allclose(lin.weight.numpy(), w0 - 0.1 * x.numpy().sum(0, keepdims=True), rtol=1e-12)


def test_module_to_device_spellings():
    lin = nn.Linear(2, 2)
    assert lin.to("cpu") is lin and lin.cpu() is lin and lin.weight.device == "cpu"
    assert lin.to(device="cpu", dtype=tg.float64).weight.dtype == np.float64


# ----------------------------------------------------------------------------- repr, containers
def test_repr_is_pytorch_tree():
    net = nn.Sequential(nn.Linear(2, 3), nn.Sequential(nn.ReLU(), nn.BatchNorm1d(3)))
    assert repr(net) == (
        "Sequential(\n"
        "  (0): Linear(in_features=2, out_features=3, bias=True)\n"
        "  (1): Sequential(\n"
        "    (0): ReLU()\n"
        "    (1): BatchNorm1d(3, eps=1e-05, momentum=0.1, affine=True, track_running_stats=True)\n"
        "  )\n"
        ")")


def test_sequential_indexing_and_append():
    seq = nn.Sequential(nn.Linear(2, 3), nn.ReLU())
    assert len(seq) == 2 and isinstance(seq[-1], nn.ReLU)
    seq.append(nn.Linear(3, 1))
    assert len(seq) == 3 and [n for n, _ in seq.named_parameters()][-1] == "2.bias"
    sub = seq[1:]
    assert isinstance(sub, nn.Sequential) and len(sub) == 2
    assert [type(m).__name__ for m in seq] == ["Linear", "ReLU", "Linear"]
    assert seq(tg.randn(5, 2)).shape == (5, 1)
    del seq[0]
    assert list(seq._modules) == ["0", "1"]
    with pytest.raises(IndexError):
        seq[5]
    named = nn.Sequential(OrderedDict([("fc", nn.Linear(1, 1)), ("act", nn.Tanh())]))
    assert list(named.state_dict()) == ["fc.weight", "fc.bias"]


def test_module_list_and_dict():
    ml = nn.ModuleList([nn.Linear(1, 2), nn.Linear(2, 3)])
    ml.append(nn.ReLU())
    assert len(ml) == 3 and [n for n, _ in ml.named_parameters()][-1] == "1.bias"
    assert isinstance(ml[-1], nn.ReLU)
    md = nn.ModuleDict({"a": nn.Linear(1, 1)})
    md["b"] = nn.Linear(1, 2)
    assert list(md.keys()) == ["a", "b"] and "b" in md
    assert [n for n, _ in md.named_parameters()] == ["a.weight", "a.bias", "b.weight", "b.bias"]

    class Holder(nn.Module):
        def __init__(self):
            super().__init__()
            self.layers = ml
    assert "layers.0.weight" in Holder().state_dict()


def test_nn_functional_is_tinygen_functional():
    import tinygen.nn.functional as F
    assert F is tg.functional and tg.nn.functional is tg.functional


def test_deepcopy_gives_independent_parameters():
    import copy
    net = Net()
    net(tg.randn(4, 2)).sum().backward()
    twin = copy.deepcopy(net)
    assert isinstance(twin.head.weight, nn.Parameter) and twin.head.weight.requires_grad
    np.testing.assert_array_equal(twin.head.weight.grad.numpy(), net.head.weight.grad.numpy())
    with tg.no_grad():
        net.head.weight.fill_(5.0)
    assert not np.any(twin.head.weight.numpy() == 5.0)
    lin = nn.Linear(2, 2)
    tied = nn.Sequential(lin, lin)
    twin = copy.deepcopy(tied)
    assert twin[0].weight is twin[1].weight                  # sharing survives the copy
