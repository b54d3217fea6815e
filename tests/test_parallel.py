"""tinygen.parallel: the worker threads batch-parallel ops run their chunks on."""
import threading

import numpy as np
import pytest

import tinygen as tg
from tinygen import parallel


@pytest.fixture
def threads():
    before = parallel.get_num_threads()
    yield parallel.set_num_threads
    parallel.set_num_threads(before)


def test_results_in_order_and_on_several_threads(threads):
    threads(3)
    seen = set()
    barrier = threading.Barrier(3, timeout=10)

    def work(i):
        seen.add(threading.get_ident())
        if i < 3:
            barrier.wait()          # only passes if three chunks really run at the same time
        return i * i

    assert parallel.map_chunks(work, range(10)) == [i * i for i in range(10)]
    assert len(seen) == 3


def test_one_thread_runs_inline(threads):
    threads(1)
    idents = parallel.map_chunks(lambda i: threading.get_ident(), range(5))
    assert set(idents) == {threading.get_ident()}


def test_nested_calls_run_inline_and_chunks_know_they_are_workers(threads):
    threads(2)
    assert not parallel.in_worker()

    def outer(i):
        assert parallel.in_worker()
        me = threading.get_ident()
        return parallel.map_chunks(lambda j: threading.get_ident() == me, range(4))

    for inner in parallel.map_chunks(outer, range(4)):
        assert inner == [True] * 4
    assert not parallel.in_worker()


def test_an_exception_in_a_chunk_reaches_the_caller_and_the_pool_still_works(threads):
    threads(2)

    def work(i):
        if i == 5:
            raise KeyError("chunk five")
        return i

    with pytest.raises(KeyError, match="chunk five"):
        parallel.map_chunks(work, range(8))
    assert parallel.map_chunks(lambda i: -i, range(6)) == [0, -1, -2, -3, -4, -5]


def test_blas_is_single_threaded_inside_chunks_and_restored_after(threads):
    threads(2)
    libs = parallel._blas_controllers()
    if not libs:
        pytest.skip("threadpoolctl sees no BLAS library")
    before = [lib.get_num_threads() for lib in libs]
    inside = parallel.map_chunks(lambda i: [lib.get_num_threads() for lib in libs], range(4))
    assert all(v == [1] * len(libs) for v in inside)
    assert [lib.get_num_threads() for lib in libs] == before


def test_set_num_threads_checks_its_argument(threads):
    for bad in (0, -1, 1.5, "2", True):
        with pytest.raises(ValueError, match="set_num_threads"):
            parallel.set_num_threads(bad)
    threads(4)
    assert tg.get_num_threads() == 4


def test_env_default(monkeypatch):
    monkeypatch.setenv("TINYGEN_NUM_THREADS", "3")
    assert parallel._default_threads() == 3
    monkeypatch.setenv("TINYGEN_NUM_THREADS", "zero")
    with pytest.raises(ValueError, match="TINYGEN_NUM_THREADS"):
        parallel._default_threads()
    monkeypatch.delenv("TINYGEN_NUM_THREADS")
    assert 1 <= parallel._default_threads() <= 8


def test_conv_training_step_same_on_one_and_two_threads(threads):
    """A small DCGAN-like discriminator: loss and every gradient bitwise equal across thread counts."""
    r = np.random.default_rng(0)
    x = r.standard_normal((48, 1, 12, 12)).astype(np.float32)
    results = []
    for n in (1, 2):
        threads(n)
        tg.manual_seed(0)
        net = tg.nn.Sequential(tg.nn.Conv2d(1, 8, 4, 2, 1), tg.nn.LeakyReLU(0.2),
                               tg.nn.Conv2d(8, 16, 3, 1, 1), tg.nn.Flatten(), tg.nn.Linear(16 * 36, 1))
        loss = (net(tg.tensor(x)) ** 2).mean()
        loss.backward()
        results.append([loss.numpy()] + [p.grad.numpy() for p in net.parameters()])
    for a, b in zip(*results):
        assert np.array_equal(a, b)


def test_map_range_covers_the_range_once(threads):
    threads(3)
    seen = []
    lock = threading.Lock()

    def part(lo, hi):
        with lock:
            seen.append((lo, hi))

    parallel.map_range(part, 1000, min_chunk=100)
    assert sorted(seen) == [(0, 334), (334, 667), (667, 1000)]
    seen.clear()
    parallel.map_range(part, 150, min_chunk=100)          # too small to split
    assert seen == [(0, 150)]


def test_split_elementwise_and_batch_norm_kernels_match_one_thread(threads, monkeypatch):
    """Activations and batch norm split their ranges over the workers: bitwise the same."""
    from tinygen import functional as F
    monkeypatch.setattr(parallel, "SPLIT_MIN", 1000)
    r = np.random.default_rng(1)
    x = r.standard_normal((8, 6, 10, 10)).astype(np.float32)
    w = r.standard_normal(6).astype(np.float32)
    out = []
    for n in (1, 3):
        threads(n)
        xs, ws = tg.tensor(x, requires_grad=True), tg.tensor(w, requires_grad=True)
        y = F.leaky_relu(F.batch_norm(xs, None, None, ws, None, training=True), 0.2)
        (y * y).sum().backward()
        out.append([y.numpy(), xs.grad.numpy(), ws.grad.numpy()])
    for a, b in zip(*out):
        assert np.array_equal(a, b)


def test_matmul_keeps_blas_on_one_thread_once_the_workers_ran(monkeypatch):
    r = np.random.default_rng(2)
    a, b = r.standard_normal((96, 80)), r.standard_normal((80, 70))
    calls = []
    monkeypatch.setattr(parallel, "_blas_single_begin", lambda: calls.append("begin"))
    monkeypatch.setattr(parallel, "_blas_single_end", lambda: calls.append("end"))
    monkeypatch.setattr(parallel, "GEMM_BLAS_MIN", 1000)
    for used, expected in ((False, []), (True, ["begin", "end"])):
        monkeypatch.setitem(parallel._state, "workers_used", used)
        calls.clear()
        np.testing.assert_allclose(parallel.matmul(a, b), a @ b, rtol=1e-12)
        assert calls == expected
    calls.clear()
    parallel.matmul(a[:5, :5], b[:5, :5])        # small: a plain product
    assert calls == []


def test_a_forked_child_can_use_the_workers(threads):
    """After a fork the parent's worker threads do not exist in the child; the child must start
    its own instead of waiting forever on the parent's."""
    import multiprocessing as mp
    import os
    if not hasattr(os, "fork"):
        pytest.skip("no fork on this platform")
    threads(2)
    assert parallel.map_chunks(lambda i: i, range(4)) == [0, 1, 2, 3]      # workers exist now
    ctx = mp.get_context("fork")
    q = ctx.Queue()
    p = ctx.Process(target=_child_map, args=(q,))
    p.start()
    p.join(60)
    if p.is_alive():
        p.kill()
        pytest.fail("the forked child hung in map_chunks")
    assert q.get(timeout=5) == [0, 2, 4, 6]


def _child_map(q):
    parallel.set_num_threads(2)
    q.put(parallel.map_chunks(lambda i: 2 * i, range(4)))


def test_an_interrupt_while_waiting_is_raised_after_the_helpers_finish(threads):
    """Ctrl-C while the calling thread waits for a helper: map_chunks raises it only once the
    helper has finished its chunk (nothing still writes into the step's arrays), and the pool
    still works afterwards."""
    import os
    import signal
    import time
    if not hasattr(signal, "SIGINT") or os.name != "posix":
        pytest.skip("POSIX signals")
    threads(2)
    main = threading.get_ident()
    done = []
    helper_started = threading.Event()

    def work(i):
        if threading.get_ident() == main:
            assert helper_started.wait(10)   # the helper holds the other chunk: main will wait
            threading.Timer(0.1, os.kill, (os.getpid(), signal.SIGINT)).start()
        else:
            helper_started.set()
            time.sleep(0.5)
            done.append(i)

    with pytest.raises(KeyboardInterrupt):
        parallel.map_chunks(work, range(2))
    assert len(done) == 1                # the helper's chunk ended before the call returned
    assert parallel.map_chunks(lambda i: i, range(3)) == [0, 1, 2]
