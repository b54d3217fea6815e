"""What the numbers were measured on: CPU, cores, BLAS, library versions, and the machine's
single-precision matrix-multiply speed (the roofline every dense workload is compared with)."""
from __future__ import annotations

import os
import platform
import time

import numpy as np


def cpu_model() -> str:
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def blas_info() -> str:
    try:
        from threadpoolctl import threadpool_info
        infos = [f"{i.get('internal_api')} {i.get('version')} ({i.get('num_threads')} threads)"
                 for i in threadpool_info() if i.get("user_api") == "blas"]
        if infos:
            return "; ".join(infos)
    except Exception:
        pass
    try:
        cfg = np.show_config(mode="dicts")
        blas = cfg.get("Build Dependencies", {}).get("blas", {})
        return f"{blas.get('name', '?')} {blas.get('version', '')}".strip()
    except Exception:
        return "unknown"


def versions() -> dict:
    out = {"python": platform.python_version(), "numpy": np.__version__}
    try:
        import numba
        out["numba"] = numba.__version__
    except ImportError:
        out["numba"] = None
    try:
        import torch
        out["torch"] = torch.__version__
    except ImportError:
        out["torch"] = None
    import tinygen
    out["tinygen"] = tinygen.__version__
    return out


def sgemm_gflops(n: int = 1024, repeats: int = 5) -> float:
    """Measured float32 GEMM speed of NumPy's BLAS on this machine (GFLOP/s, median)."""
    a = np.random.default_rng(0).standard_normal((n, n)).astype(np.float32)
    b = np.random.default_rng(1).standard_normal((n, n)).astype(np.float32)
    a @ b
    ts = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        a @ b
        ts.append(time.perf_counter() - t0)
    ts.sort()
    return 2 * n ** 3 / ts[len(ts) // 2] / 1e9


def describe() -> dict:
    return {"cpu": cpu_model(), "cores": os.cpu_count(), "blas": blas_info(), **versions()}
