"""Devices: moving tensors, refusing to mix devices, and keeping device data on the device.

On CPU-only CI these run against the stand-in "cuda" device (TINYGEN_FAKE_CUDA=1), whose arrays
refuse implicit conversion to NumPy exactly as CuPy's do; with a GPU they run on real CuPy.
Without either, the cuda-specific tests are skipped and the error path is tested instead.
"""
import numpy as np
import pytest

import tinygen as tg
from tinygen import backend

needs_cuda = pytest.mark.skipif(not backend.cuda_available(), reason="no cuda device (set TINYGEN_FAKE_CUDA=1)")


def test_cpu_is_always_available_and_default_without_env(device):
    t = tg.tensor([1.0], device="cpu")
    assert t.device == "cpu" and isinstance(t.data, np.ndarray)


def test_asking_for_cuda_without_it_is_a_clear_error(monkeypatch):
    if backend.cuda_available():
        pytest.skip("cuda is available here")
    with pytest.raises(RuntimeError, match="cuda.*not available.*(CuPy|GPU)"):
        tg.tensor([1.0], device="cuda")


def test_unknown_device_name():
    with pytest.raises(ValueError, match="unknown device 'tpu'"):
        tg.zeros(2, device="tpu")


@needs_cuda
def test_to_cuda_and_back_keeps_values_and_gradients():
    x = tg.tensor(np.array([1.0, 2.0, 3.0]), requires_grad=True, device="cpu")
    y = x.to("cuda")
    assert y.device == "cuda" and not isinstance(y.data, np.ndarray)
    z = (y * y).sum()
    z.backward()
    assert x.grad.device == "cpu"
    np.testing.assert_allclose(x.grad.numpy(), [2.0, 4.0, 6.0])
    np.testing.assert_allclose(y.cpu().numpy(), [1.0, 2.0, 3.0])


@needs_cuda
def test_mixing_devices_names_the_op_and_both_devices():
    a = tg.ones(2, device="cpu")
    b = tg.ones(2, device="cuda")
    with pytest.raises(ValueError, match=r"Add: inputs are on different devices \(\(2,\) on cpu, \(2,\) on cuda\)"):
        a + b


@needs_cuda
def test_device_data_refuses_silent_host_conversion():
    b = tg.ones(3, device="cuda")
    with pytest.raises(TypeError, match="Implicit conversion"):
        np.asarray(b.data)
    np.testing.assert_array_equal(b.numpy(), np.ones(3, np.float32))    # the explicit way works


@needs_cuda
def test_numpy_constants_are_copied_to_the_device():
    x = tg.tensor([1.0, 2.0], device="cuda", requires_grad=True)
    y = (np.array([3.0, 4.0], np.float32) * x).sum()
    y.backward()
    assert x.grad.device == "cuda"
    np.testing.assert_allclose(x.grad.numpy(), [3.0, 4.0])


@needs_cuda
def test_factories_and_default_device(monkeypatch):
    prev = backend.get_default_device()
    try:
        tg.set_default_device("cuda")
        assert tg.zeros(2).device == "cuda" and tg.randn(2, 2).device == "cuda"
        assert tg.tensor([1.0]).device == "cuda"
    finally:
        tg.set_default_device(prev)


@needs_cuda
def test_seeded_randomness_on_the_device():
    tg.manual_seed(5)
    a = tg.randn(4, device="cuda").numpy()
    tg.manual_seed(5)
    b = tg.randn(4, device="cuda").numpy()
    np.testing.assert_array_equal(a, b)
