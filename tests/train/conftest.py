"""Training tests run tiny models on one thread (fast, and fair to a shared machine)."""
import pytest


@pytest.fixture(scope="session", autouse=True)
def _one_thread():
    try:
        from threadpoolctl import threadpool_limits
    except ImportError:  # pragma: no cover
        yield
        return
    with threadpool_limits(1):
        try:
            from tinygen.kernels import numba_available
            if numba_available():
                import numba
                numba.set_num_threads(1)
        except ImportError:  # pragma: no cover
            pass
        yield


TINY_VAE = {"epochs": 3, "hidden": [16], "latent_dim": 2}
TINY_AE = {"epochs": 3, "hidden": [16], "latent_dim": 4}
