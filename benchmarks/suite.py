"""Run every workload and print one table: tinygen NumPy-only, tinygen with fused kernels,
PyTorch (same thread count, when installed), and the ratios.

    python -m benchmarks [--quick | --full] [--only SUBSTRING] [--threads 2] [--json FILE]

Each figure is the median of repeated runs after warm-up; tinygen's and PyTorch's repeats are
interleaved, so background load affects both alike. PyTorch is timed twice: in a process of its
own that never imports tinygen, as its users run it (benchmarks/torch_worker.py says why), and
in this process, where it shares tinygen's allocator settings ("pt-here"). ``--full`` adds the scaling study (step time
against batch size and width, as a PNG, against the machine's sgemm roofline) and the full
training runs of the models (VAE on digits, GAN on ring8) when their scripts are present.
"""
from __future__ import annotations

import argparse
import datetime
import json
import os
import statistics
import subprocess
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))

from benchmarks import machine  # noqa: E402
from benchmarks.workloads import WORKLOADS  # noqa: E402


def _time(step):
    t0 = time.perf_counter()
    step()
    return time.perf_counter() - t0


def _fused(flag):
    from tinygen import kernels
    return kernels.use_fused(flag)


def gpu_columns():
    """Which GPU columns this machine can fill: {"tinygen": bool, "torch": bool} (CuPy with a
    real GPU; PyTorch built with CUDA and a GPU)."""
    cols = {"tinygen": False, "torch": False}
    try:
        from tinygen import backend
        cols["tinygen"] = backend.cuda_available() and not backend.is_fake_cuda()
    except Exception:
        pass
    try:
        import torch
        cols["torch"] = bool(torch.cuda.is_available())
    except ImportError:
        pass
    return cols


def _synced(step, sync):
    """The step followed by a device synchronisation (GPU kernels run asynchronously)."""
    def run():
        step()
        sync()
    return run


def _tinygen_sync():
    from tinygen import backend
    if backend.is_fake_cuda():
        return lambda: None
    import cupy
    return cupy.cuda.Device().synchronize


class TorchProcess:
    """PyTorch's steps run in a worker process that never imports tinygen (benchmarks/torch_worker.py:
    ``import tinygen`` tunes the allocator of its whole process, which PyTorch would inherit)."""

    def __init__(self, workload_name, threads):
        worker = os.path.join(os.path.dirname(os.path.abspath(__file__)), "torch_worker.py")
        self.proc = subprocess.Popen([sys.executable, worker], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                     text=True, bufsize=1)
        try:
            self._ask({"cmd": "setup", "workload": workload_name, "threads": threads})
        except BaseException:
            self.close()
            raise

    def _ask(self, msg):
        self.proc.stdin.write(json.dumps(msg) + "\n")
        self.proc.stdin.flush()
        line = self.proc.stdout.readline()
        if not line:
            raise RuntimeError(f"benchmarks: the PyTorch worker exited (code {self.proc.wait()})")
        reply = json.loads(line)
        if "error" in reply:
            raise RuntimeError(f"benchmarks: the PyTorch worker failed:\n{reply['error']}")
        return reply

    def block(self, steps, warm):
        return self._ask({"cmd": "block", "steps": steps, "warm": warm})["times"]

    def close(self):
        if self.proc.poll() is None:
            try:
                self.proc.stdin.write(json.dumps({"cmd": "quit"}) + "\n")
                self.proc.stdin.close()
                self.proc.wait(timeout=30)
            except (OSError, subprocess.TimeoutExpired):
                self.proc.kill()


def _local_block(step, fused):
    """A column timed in this process: ``block(k, warm)`` is torch_worker.run_block of the step
    (k timed steps after uncounted ones for ``warm`` seconds), with fused kernels on or off."""
    from benchmarks.torch_worker import run_block

    def block(k, warm):
        if fused is None:
            return run_block(step, k, warm)
        with _fused(fused):
            return run_block(step, k, warm)
    return block


def measure(wl, repeats, warmup=2, with_torch=True, block=3, settle=0.15, warm=0.06, gpu=None, threads=None):
    """Median seconds per step for each library column of one workload.

    The columns take turns in blocks of ``block`` timed steps, each after a pause of ``settle``
    seconds and then ``warm`` seconds (at least one step) of uncounted steps:

    * the turns make background load affect every column alike;
    * the pause keeps a column from being timed next to the other one's idle worker threads,
      which keep spinning on the cores after their last parallel region (OpenMP for a few ms,
      OpenBLAS for up to ~0.1 s: timed step by step in turns, a 2-thread Numba kernel ran 1.8x
      slower right after a PyTorch step, and PyTorch's MLP VAE step took 8-11 ms right after
      tinygen's 2-thread BLAS products against 4 ms on quiet cores);
    * the uncounted steps let the cores come back from the pause: on the 2-vCPU machines here
      the first ~40 ms of work after 0.15 s of idle run up to 2x slower, with involuntary context
      switches (conv2d 3x3 fwd+bwd, 2 threads: steps 2-3 after the pause 13-17 ms, then 8.5 ms;
      with the pause spent busy on one core instead, 8.5 ms throughout), which is not what a
      training loop, stepping without pauses, meets.

    PyTorch is timed twice on the CPU: ``torch`` in a process of its own (:class:`TorchProcess`),
    as PyTorch's users run it, and ``torch_here`` in this process, next to tinygen, where it
    inherits tinygen's allocator settings (tinygen.memory) and takes no page faults either.
    """
    import tinygen.kernels as kernels
    import tinygen.parallel as parallel
    parallel._state["workers_used"] = False     # each workload starts as in a fresh process
    columns = {}
    with _fused(False):
        step_np = wl.tinygen()
    with _fused(True):
        kernels.warmup()
        step_fused = wl.tinygen()
    blocks = {"numpy": _local_block(step_np, False), "fused": _local_block(step_fused, True)}
    worker = None
    if with_torch and _torch_available():
        worker = TorchProcess(wl.name, threads)
        blocks["torch"] = worker.block
        blocks["torch_here"] = _local_block(wl.torch(), None)
    gpu = gpu_columns() if gpu is None else gpu
    if gpu.get("tinygen"):                       # tinygen on CuPy (fused CuPy kernels)
        with _fused(True):
            blocks["fused_cuda"] = _local_block(_synced(wl.tinygen(device="cuda"), _tinygen_sync()), True)
    if gpu.get("torch") and with_torch:
        import torch
        blocks["torch_cuda"] = _local_block(_synced(wl.torch(device="cuda"), torch.cuda.synchronize), None)
    times = {k: [] for k in blocks}
    rounds = warmup + -(-repeats // block)
    try:
        for r in range(rounds):
            for k, run_block in blocks.items():
                time.sleep(settle)
                ts = run_block(block, warm)
                if r >= warmup:
                    times[k].extend(ts)
    finally:
        if worker is not None:
            worker.close()
    for k, ts in times.items():
        columns[k] = statistics.median(ts)
    return columns


def _torch_available():
    try:
        import torch  # noqa: F401
        return True
    except ImportError:
        return False


def _fmt(seconds, wl):
    if seconds is None:
        return "—"
    if getattr(wl, "unit", None) == "us_per_op":
        return f"{wl.scale(seconds):.2f} µs"
    return f"{seconds * 1e3:.2f} ms"


def run(quick=True, only=None, threads=2, repeats=None):
    if threads:
        import tinygen
        tinygen.set_num_threads(threads)
        try:
            import torch
            torch.set_num_threads(threads)
        except ImportError:
            pass
    gflops = machine.sgemm_gflops()
    rows = []
    for name, cls in WORKLOADS.items():
        if only and only.lower() not in name.lower():
            continue
        wl = cls()
        # a cheap step (the per-op chain: ~2-4 ms) gets more repeats in longer turns: its median
        # then spans several of the VM's speed phases rather than one or two
        reps = (repeats or (7 if quick else 25)) * getattr(wl, "repeat_scale", 1)
        cols = measure(wl, reps, threads=threads, block=getattr(wl, "block", 3))
        row = {"workload": name, **{f"{k}_s": v for k, v in cols.items()}}
        if "torch" in cols:
            row["ratio_fused_vs_torch"] = cols["fused"] / cols["torch"]
            row["ratio_numpy_vs_torch"] = cols["numpy"] / cols["torch"]
        if "torch_here" in cols:
            row["ratio_fused_vs_torch_here"] = cols["fused"] / cols["torch_here"]
        if "fused_cuda" in cols and "torch_cuda" in cols:
            row["ratio_cuda_vs_torch_cuda"] = cols["fused_cuda"] / cols["torch_cuda"]
        if wl.flops:
            row["sgemm_share_fused"] = wl.flops / cols["fused"] / 1e9 / gflops
        if getattr(wl, "unit", None) == "us_per_op":
            row["fused_us_per_op"] = wl.scale(cols["fused"])
            if "torch" in cols:
                row["torch_us_per_op"] = wl.scale(cols["torch"])
            if "torch_here" in cols:
                row["torch_here_us_per_op"] = wl.scale(cols["torch_here"])
        rows.append((wl, cols, row))
    return gflops, rows


def print_table(info, gflops, rows, file=sys.stdout):
    print(f"tinygen benchmark — {datetime.date.today().isoformat()}", file=file)
    print(f"machine: {info['cpu']}, {info['cores']} cores, BLAS {info['blas']}; sgemm {gflops:.1f} GFLOP/s", file=file)
    print(f"versions: python {info['python']}, numpy {info['numpy']}, numba {info['numba']}, "
          f"torch {info['torch']}, tinygen {info['tinygen']}", file=file)
    print("pytorch: in a process of its own, as its users run it; pt-here: in this process, with tinygen's "
          "allocator settings", file=file)
    head = (f"{'workload':58s} {'numpy-only':>12s} {'fused':>12s} {'pytorch':>12s} {'pt-here':>12s} "
            f"{'fused/pt':>9s} {'/pt-here':>9s} {'np/pt':>7s} {'sgemm%':>7s}")
    print(head, file=file)
    print("-" * len(head), file=file)
    for wl, cols, row in rows:
        ratio = f"{row['ratio_fused_vs_torch']:.2f}" if "ratio_fused_vs_torch" in row else "—"
        ratio_np = f"{row['ratio_numpy_vs_torch']:.2f}" if "ratio_numpy_vs_torch" in row else "—"
        ratio_here = f"{row['ratio_fused_vs_torch_here']:.2f}" if "ratio_fused_vs_torch_here" in row else "—"
        share = f"{100 * row['sgemm_share_fused']:.0f}%" if "sgemm_share_fused" in row else ""
        print(f"{wl.name:58s} {_fmt(cols.get('numpy'), wl):>12s} {_fmt(cols.get('fused'), wl):>12s} "
              f"{_fmt(cols.get('torch'), wl):>12s} {_fmt(cols.get('torch_here'), wl):>12s} {ratio:>9s} "
              f"{ratio_here:>9s} {ratio_np:>7s} {share:>7s}", file=file)
    if any("fused_cuda" in cols or "torch_cuda" in cols for _, cols, _ in rows):
        head = f"{'GPU':58s} {'tinygen cuda':>12s} {'pytorch cuda':>12s} {'tg/pt':>9s}"
        print(head, file=file)
        print("-" * len(head), file=file)
        for wl, cols, row in rows:
            r = f"{row['ratio_cuda_vs_torch_cuda']:.2f}" if "ratio_cuda_vs_torch_cuda" in row else "—"
            print(f"{wl.name:58s} {_fmt(cols.get('fused_cuda'), wl):>12s} {_fmt(cols.get('torch_cuda'), wl):>12s} "
                  f"{r:>9s}", file=file)


def main(argv=None):
    p = argparse.ArgumentParser(prog="python -m benchmarks", description=__doc__.splitlines()[0])
    g = p.add_mutually_exclusive_group()
    g.add_argument("--quick", action="store_true", help="fewer repeats (default)")
    g.add_argument("--full", action="store_true", help="more repeats, scaling study and training runs")
    p.add_argument("--only", help="run only workloads whose name contains this text")
    p.add_argument("--threads", type=int, default=2, help="PyTorch threads (default 2, the machine's cores)")
    p.add_argument("--repeats", type=int, help="override the number of timed repeats")
    p.add_argument("--json", metavar="FILE", help="also write the results as JSON (for tracking over time)")
    a = p.parse_args(argv)
    info = machine.describe()
    gflops, rows = run(quick=not a.full, only=a.only, threads=a.threads, repeats=a.repeats)
    print_table(info, gflops, rows)
    extra = {}
    if a.full:
        from benchmarks import scaling
        extra["scaling"] = scaling.run(gflops)
        extra["training"] = _training_runs()
    if a.json:
        with open(a.json, "w") as f:
            json.dump({"date": datetime.datetime.now().isoformat(timespec="seconds"), "machine": info,
                       "sgemm_gflops": gflops,
                       "results": [r for _, _, r in rows], **extra}, f, indent=2)
        print(f"wrote {a.json}")


def _training_runs():
    """Full training runs (wall time and quality), from the per-model benchmark scripts."""
    import importlib
    out = {}
    for mod in ("train_vae_digits", "train_gan_toys"):
        m = importlib.import_module(f"benchmarks.{mod}")
        print(f"\n== {mod} ==", flush=True)
        out[mod] = m.run()
    return out


if __name__ == "__main__":
    main()
