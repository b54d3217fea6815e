"""Intra-op parallelism: tinygen's own worker threads, for ops that split over the batch.

Why a pool of its own. NumPy's OpenBLAS and Numba each keep worker threads, and both let them
spin for milliseconds after a parallel region before sleeping. On a 2-core machine the two pools
then take the cores from each other: a convolution whose GEMMs ran on 2 OpenBLAS threads and whose
im2col ran on 2 Numba threads was measured 1.8x slower than the same work on one thread each
(a DCGAN step: 146 ms instead of 80 ms). So the heavy batch-shaped ops (the convolutions) cut
their batch into chunks and hand the chunks to plain Python threads, which block when idle
(never spin). Inside a chunk, BLAS runs on one thread and the Numba kernels serially; both release
the GIL, so the chunks really run side by side (conv2d 64→64 3×3 on a 64-image batch, fwd+bwd on
2 cores: 22.8 ms with 2-thread BLAS, 13.6 ms as two chunks on two workers).

Determinism: an op's chunks depend on its shapes only, never on the number of threads, and
partial sums (weight gradients) are added in chunk order, so results are bitwise identical for
any thread count.

Also here: :func:`map_range` (element-wise kernels on ≥ 1M values split their range) and
:func:`matmul` (the ops' 2-D products; once the workers have run, the products OpenBLAS would
thread run with BLAS on one thread, since its idle workers spin for up to ~0.1 s).

    tg.set_num_threads(2)        # or TINYGEN_NUM_THREADS=2; the CLI's --threads sets it too
    tg.get_num_threads()
"""
from __future__ import annotations

import os
import threading

__all__ = ["get_num_threads", "set_num_threads", "map_chunks", "map_range", "split_evenly", "in_worker",
           "matmul"]

_ENV_VAR = "TINYGEN_NUM_THREADS"
_MAX_DEFAULT = 8

_local = threading.local()
_lock = threading.Lock()
_state = {"threads": None, "blas": None, "blas_users": 0, "blas_saved": None, "workers_used": False}


def _available_cores() -> int:
    try:
        return len(os.sched_getaffinity(0))
    except (AttributeError, OSError):
        return os.cpu_count() or 1


def _default_threads() -> int:
    value = os.environ.get(_ENV_VAR, "").strip()
    if value:
        try:
            n = int(value)
        except ValueError:
            n = 0
        if n < 1:
            raise ValueError(f"{_ENV_VAR}={value!r}: expected a positive number of threads")
        return n
    return max(1, min(_available_cores(), _MAX_DEFAULT))


def get_num_threads() -> int:
    """Threads tinygen's batch-parallel ops use (default: the cores, at most 8; or $TINYGEN_NUM_THREADS)."""
    n = _state["threads"]
    if n is None:
        n = _state["threads"] = _default_threads()
    return n


def set_num_threads(n: int) -> None:
    """Use ``n`` threads in tinygen's batch-parallel ops (1: everything on the calling thread)."""
    if isinstance(n, bool) or not isinstance(n, int) or n < 1:
        raise ValueError(f"set_num_threads: expected a positive int, got {n!r}")
    _state["threads"] = n


def in_worker() -> bool:
    """True on a thread that is running a chunk of :func:`map_chunks` (nested calls run inline)."""
    return getattr(_local, "depth", 0) > 0


# ----------------------------------------------------------------------------- BLAS threads

def _blas_controllers():
    if _state["blas"] is None:
        try:
            from threadpoolctl import ThreadpoolController
            _state["blas"] = list(ThreadpoolController().select(user_api="blas").lib_controllers)
        except Exception:                 # threadpoolctl missing or failing: BLAS left alone
            _state["blas"] = []
    return _state["blas"]


def _blas_single_begin():
    """First parallel region in: BLAS to one thread (the workers are the parallelism)."""
    with _lock:
        if _state["blas_users"] == 0:
            libs = _blas_controllers()
            _state["blas_saved"] = [lib.get_num_threads() for lib in libs]
            for lib in libs:
                lib.set_num_threads(1)
        _state["blas_users"] += 1


def _blas_single_end():
    with _lock:
        _state["blas_users"] -= 1
        if _state["blas_users"] == 0:
            for lib, n in zip(_state["blas"] or [], _state["blas_saved"] or []):
                lib.set_num_threads(n)
            _state["blas_saved"] = None


# ----------------------------------------------------------------------------- the workers

class _Region:
    """One call of map_chunks: a shared queue of chunk indices, results by index."""

    def __init__(self, fn, items):
        self.fn = fn
        self.items = items
        self.results = [None] * len(items)
        self.error = None
        self.next = 0
        self.lock = threading.Lock()
        self.pending = 0
        self.done = threading.Condition(self.lock)

    def take(self):
        with self.lock:
            if self.error is not None or self.next >= len(self.items):
                return None
            i = self.next
            self.next += 1
            return i

    def work(self):
        _local.depth = getattr(_local, "depth", 0) + 1
        try:
            while True:
                i = self.take()
                if i is None:
                    return
                try:
                    self.results[i] = self.fn(self.items[i])
                except BaseException as exc:       # re-raised on the calling thread
                    with self.lock:
                        if self.error is None:
                            self.error = exc
                    return
        finally:
            _local.depth -= 1


class _Worker(threading.Thread):
    def __init__(self):
        super().__init__(name="tinygen-worker", daemon=True)
        self.cv = threading.Condition()
        self.region = None
        self.start()

    def give(self, region):
        with self.cv:
            self.region = region
            self.cv.notify()

    def run(self):
        while True:
            with self.cv:
                while self.region is None:
                    self.cv.wait()
                region = self.region
                self.region = None
            try:
                region.work()
            finally:
                with region.lock:
                    region.pending -= 1
                    region.done.notify_all()


_pool_lock = threading.Lock()
_free = []


def _take_workers(k):
    with _pool_lock:
        got = _free[:k]
        del _free[:k]
    while len(got) < k:
        got.append(_Worker())
    return got


def _return_workers(ws):
    with _pool_lock:
        _free.extend(ws)


def _after_fork_in_child():
    """A forked child has none of the parent's threads: forget the workers (new ones start on
    demand) and the BLAS bookkeeping, so the child's ops do not wait on threads that are not there."""
    global _pool_lock, _lock
    _pool_lock = threading.Lock()
    _lock = threading.Lock()
    _free.clear()
    _state.update(blas_users=0, blas_saved=None)
    _local.depth = 0


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_after_fork_in_child)


def map_chunks(fn, items):
    """``[fn(item) for item in items]``, the items spread over ``get_num_threads()`` threads
    (the calling thread is one of them), results in the order of ``items``.

    BLAS runs on one thread inside the chunks, with one tinygen thread as with eight (OpenBLAS
    rounds differently with different thread counts, and results must not depend on them).
    Nested calls, from inside a chunk, run inline. An exception in any chunk is raised here once
    every thread has stopped.
    """
    items = list(items)
    if in_worker():
        return [fn(item) for item in items]
    threads = min(get_num_threads(), len(items))
    _blas_single_begin()
    try:
        if threads <= 1:
            _local.depth = 1
            try:
                return [fn(item) for item in items]
            finally:
                _local.depth = 0
        region = _Region(fn, items)
        helpers = _take_workers(threads - 1)
        _state["workers_used"] = True
        try:
            region.pending = len(helpers)
            for w in helpers:
                w.give(region)
            try:
                region.work()
            except BaseException as exc:          # e.g. Ctrl-C between chunks: stop handing them out
                with region.lock:
                    if region.error is None:
                        region.error = exc
            with region.lock:                     # never return while a helper still writes
                while region.pending:
                    try:
                        region.done.wait()
                    except BaseException as exc:  # Ctrl-C while waiting: raised once all stopped
                        if region.error is None:
                            region.error = exc
        finally:
            _return_workers(helpers)
    finally:
        _blas_single_end()
    if region.error is not None:
        raise region.error
    return region.results


# Element-wise and per-channel kernels split their range over the workers from this many items
# on. Waking a worker and handing it a range costs ~50 µs here, about what a streaming kernel
# spends on 0.5M floats: split at 128K, DCGAN's leaky_relu/batch-norm calls (0.4-0.8M floats)
# took 2x longer on two threads than on one.
SPLIT_MIN = 1 << 20


def map_range(fn, n, min_chunk=None):
    """Call ``fn(lo, hi)`` on contiguous parts of ``range(n)``: one part per thread, each of at
    least ``min_chunk`` items (one call ``fn(0, n)`` on the calling thread when that is all).

    For kernels whose every output element depends on its own range only (element-wise maps,
    per-channel statistics), so the split cannot change a result."""
    if min_chunk is None:
        min_chunk = SPLIT_MIN
    k = min(get_num_threads(), n // max(min_chunk, 1)) if not in_worker() else 1
    if k <= 1:
        fn(0, n)
        return
    map_chunks(lambda b: fn(b[0], b[1]), split_evenly(n, k))


def split_evenly(n, k):
    """``range(n)`` as ``k`` contiguous ``(lo, hi)`` parts whose sizes differ by at most one."""
    base, extra = divmod(n, k)
    bounds, lo = [], 0
    for i in range(k):
        hi = lo + base + (1 if i < extra else 0)
        bounds.append((lo, hi))
        lo = hi
    return bounds


# A GEMM of at least this many multiply-adds is one that OpenBLAS runs on several threads (its
# own cut-off is 65536·4), after which its workers spin for up to ~0.1 s and take the cores from
# tinygen's (measured: a DCGAN step whose generator starts with one such product took 95 ms
# instead of 58). Once tinygen's workers have run (a convolutional model), its ops run those
# products with BLAS on one thread. Before that (an MLP, which never uses the workers) BLAS keeps
# its own threads, which suit its mid-size products best (MLP VAE step: 2.2 ms, 3.3 ms on one).
GEMM_BLAS_MIN = 1 << 18


def matmul(a, b):
    """``a @ b`` for the ops; 2-D host products large enough for OpenBLAS to go multi-threaded
    run with BLAS on one thread once tinygen's workers are in use (see GEMM_BLAS_MIN).
    Anything else (device arrays, stacks, small products) is a plain ``a @ b``."""
    import numpy
    if (not _state["workers_used"] or type(a) is not numpy.ndarray or type(b) is not numpy.ndarray
            or a.ndim != 2 or b.ndim != 2 or in_worker()
            or a.shape[0] * a.shape[1] * b.shape[1] < GEMM_BLAS_MIN):
        return a @ b
    _blas_single_begin()
    try:
        return a @ b
    finally:
        _blas_single_end()
