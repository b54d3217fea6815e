"""Shared test configuration.

Hypothesis profiles: "ci" (derandomized, modest example counts; chosen automatically when CI is
set), "dev" (the default), "thorough" (many examples; `--hypothesis-profile thorough`).

Device switch: `TINYGEN_TEST_DEVICE=cuda` runs the suite with "cuda" as the default device. Without
a GPU, add `TINYGEN_FAKE_CUDA=1`: "cuda" is then the test stand-in whose arrays refuse implicit
conversion to NumPy as CuPy's do, so any host/device slip fails loudly.
"""
import os

import pytest
from hypothesis import HealthCheck, settings

settings.register_profile("ci", derandomize=True, max_examples=20, deadline=None, print_blob=True,
                          suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
settings.register_profile("dev", max_examples=20, deadline=None,
                          suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
settings.register_profile("thorough", max_examples=300, deadline=None,
                          suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "ci" if os.environ.get("CI") else "dev"))

TEST_DEVICE = os.environ.get("TINYGEN_TEST_DEVICE", "cpu")


def pytest_configure(config):
    if TEST_DEVICE != "cpu":
        import tinygen as tg
        tg.set_default_device(TEST_DEVICE)


@pytest.fixture(autouse=True)
def _seed():
    import tinygen as tg
    tg.manual_seed(0)
    yield


@pytest.fixture
def device():
    """The device tests run on ("cpu", or "cuda" under TINYGEN_TEST_DEVICE)."""
    return TEST_DEVICE
