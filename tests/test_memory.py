"""tinygen.memory: the allocator settings applied at import."""
import sys

import numpy as np
import pytest

from tinygen import memory


def test_status_is_reported():
    st = memory.allocator_status()
    assert set(st) == {"tuned", "reason"}
    if sys.platform.startswith("linux") and st["tuned"]:
        assert "mmap threshold" in st["reason"]


def test_env_opt_out(monkeypatch):
    monkeypatch.setenv("TINYGEN_MALLOC", "default")
    assert memory.tune_allocator() is False
    assert memory.allocator_status() == {"tuned": False, "reason": "TINYGEN_MALLOC=default"}
    monkeypatch.delenv("TINYGEN_MALLOC")
    memory.tune_allocator()


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="glibc only")
def test_repeated_large_allocations_stop_page_faulting():
    """After the first round, the same multi-MB temporaries come back without page faults."""
    resource = pytest.importorskip("resource")
    if not memory.tune_allocator():
        pytest.skip("allocator not tunable here")

    def round_():
        arrays = [np.ones(1 << 19, np.float32) for _ in range(8)]      # 8 × 2 MB, touched
        return sum(float(a[-1]) for a in arrays)

    round_()
    before = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
    for _ in range(5):
        round_()
    faults = resource.getrusage(resource.RUSAGE_SELF).ru_minflt - before
    assert faults < 200, faults          # 5 rounds × 16 MB would be ~20,000 faults untuned
