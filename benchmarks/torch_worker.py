"""PyTorch's column of the suite, timed in a process of its own that never imports tinygen.

Why a separate process. ``import tinygen`` tunes glibc's allocator for the whole process
(tinygen.memory: freed arrays stay in the heap instead of being unmapped, so the next step takes
no page faults). A PyTorch step timed in the same process inherits that setting, which a PyTorch
user does not have: on the DCGAN step it was 43.5-43.9 ms with tinygen imported against
45.4-46.6 ms without (2 threads, separate runs; the other workloads did not change). So the
suite times PyTorch as its users run it, in this worker, and still in turns with tinygen's
columns (the parent asks for one block of steps at a time, after the same pause).

Protocol, one JSON object per line on stdin and stdout:

    {"cmd": "setup", "workload": NAME, "threads": N}  →  {"ok": true}
    {"cmd": "block", "steps": K, "warm": S}           →  {"times": [seconds, ...]}   (K steps,
                                                          after uncounted ones for S seconds)
    {"cmd": "quit"}

Any failure is answered with {"error": "..."} and the parent reports it.
"""
from __future__ import annotations

import json
import os
import sys
import time
import traceback

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))


def run_block(step, steps, warm):
    """Times of ``steps`` steps, after uncounted ones: at least one, and for at least ``warm``
    seconds (the cores come back from the pause before the block slowly)."""
    t_end = time.perf_counter() + warm
    while True:
        step()
        if time.perf_counter() >= t_end:
            break
    times = []
    for _ in range(steps):
        t0 = time.perf_counter()
        step()
        times.append(time.perf_counter() - t0)
    return times


def _serve(stdin, stdout):
    step = None
    for line in stdin:
        msg = json.loads(line)
        cmd = msg.get("cmd")
        try:
            if cmd == "quit":
                return
            if cmd == "setup":
                import torch
                from benchmarks.workloads import WORKLOADS
                if msg.get("threads"):
                    torch.set_num_threads(int(msg["threads"]))
                step = WORKLOADS[msg["workload"]]().torch()
                reply = {"ok": True}
                if "tinygen" in sys.modules:         # the point of this process (module doc)
                    reply = {"error": "the PyTorch workload imported tinygen"}
            elif cmd == "block":
                reply = {"times": run_block(step, int(msg["steps"]), float(msg.get("warm", 0.0)))}
            else:
                reply = {"error": f"unknown command {cmd!r}"}
        except Exception:
            reply = {"error": traceback.format_exc()}
        stdout.write(json.dumps(reply) + "\n")
        stdout.flush()


if __name__ == "__main__":
    _serve(sys.stdin, sys.stdout)
