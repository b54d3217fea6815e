"""The floor under the per-op benchmark: the same chain on an engine with no features at all.

``benchmarks/overhead.py`` times a chain of 1000 tiny ops (16 elements) forward and backward. This
script runs that chain on a micrograd-style sketch written for the comparison only: the tensor is
its own graph node, the ops are NumPy calls (the same fused ufuncs tinygen uses for tanh′, σ and
σ′), and there is nothing else: no grad mode, devices, dtype or shape checks, hooks, anomaly
detection, double backward, freed-graph errors or saved-value release. Its time per op is what
Python and NumPy cost before any of those; tinygen's figure is printed beside it, and PyTorch's
when it is installed.

``--node`` adds one thing tinygen (like PyTorch) has: a separate graph node per op, the object
``grad_fn`` points to, with its six fields set (op, inputs, arrays, needs, edges, sequence
number). The sketch stores the inputs tuple in the arrays and edges fields rather than building
those tuples as tinygen does, so its figure is a lower bound for that cost.

    python benchmarks/overhead_floor.py [--ops 1000] [--repeats 30] [--node]
"""
from __future__ import annotations

import argparse
import heapq
import itertools
import os
import statistics
import sys
import time

import numpy as np

sys.path.insert(0, os.path.join(os.path.dirname(__file__), ".."))

from tinygen.kernels import ufuncs as _uf  # noqa: E402

_ADD, _SUB, _MUL, _TANH, _SIGMOID, _SUM = range(6)
_TWO_NEEDS = (True, True)


class _Node:
    __slots__ = ("op", "inputs", "datas", "needs", "edges", "seq")


class Bare:
    """A tensor that is its own graph node: data, grad, the op that made it and its inputs."""
    __slots__ = ("data", "grad", "op", "ins", "seq", "node")
    with_node = False
    _seq = itertools.count()

    def __init__(self, data):
        self.data, self.grad, self.op, self.ins, self.seq, self.node = data, None, None, (), 0, None

    @classmethod
    def _record(cls, op, out, ins):
        t = object.__new__(cls)
        t.data, t.grad, t.op, t.ins, t.seq = out, None, op, ins, next(cls._seq)
        if cls.with_node:
            n = object.__new__(_Node)
            n.op, n.inputs, n.datas, n.needs, n.edges, n.seq = op, ins, ins, _TWO_NEEDS, ins, t.seq
            t.node = n
        return t

    def __add__(self, o):
        return self._record(_ADD, self.data + o.data, (self, o))

    def __sub__(self, o):
        return self._record(_SUB, self.data - o.data, (self, o))

    def __mul__(self, o):
        return self._record(_MUL, self.data * o.data, (self, o))

    def tanh(self):
        return self._record(_TANH, np.tanh(self.data), (self,))

    def sigmoid(self):
        return self._record(_SIGMOID, _uf.sigmoid(self.data), (self,))

    def sum(self):
        return self._record(_SUM, self.data.sum(), (self,))


def _local_grads(g, t):
    """∂L/∂(each input of t), given g = ∂L/∂t."""
    op = t.op
    if op == _ADD:
        return g, g
    if op == _SUB:
        return g, -g
    if op == _MUL:
        a, b = t.ins
        return g * b.data, g * a.data
    if op == _TANH:
        return (_uf.tanh_grad(g, t.data),)
    if op == _SIGMOID:
        return (_uf.sigmoid_grad(g, t.data),)
    return (np.broadcast_to(g, t.ins[0].data.shape),)


def backward(root):
    """Latest-created first (a max-heap on the sequence number), leaves summed once at the end."""
    pending, leaves, heap = {root: np.ones((), root.data.dtype)}, {}, []
    node = root
    while node is not None:
        g = pending.pop(node)
        nxt = None
        for x, gx in zip(node.ins, _local_grads(g, node)):
            if x.op is None:
                s = leaves.get(x)
                leaves[x] = gx if s is None else s + gx
            elif x in pending:
                pending[x] = pending[x] + gx
            else:
                pending[x] = gx
                if nxt is None:
                    nxt = x
                else:
                    heapq.heappush(heap, (-x.seq, x))
        if nxt is not None and heap:
            heapq.heappush(heap, (-nxt.seq, nxt))
            nxt = None
        node = nxt if nxt is not None else (heapq.heappop(heap)[1] if heap else None)
    for x, g in leaves.items():
        x.grad = g


def _time_chain(chain, run_backward, x, c, n_ops, repeats):
    ts = []
    for i in range(repeats + 3):
        x.grad = c.grad = None
        t0 = time.perf_counter()
        run_backward(chain(x, c, n_ops))
        ts.append(time.perf_counter() - t0)
    return statistics.median(ts[3:]) / n_ops * 1e6


def run(n_ops=1000, repeats=30, with_node=False):
    from benchmarks.overhead import _chain, _setup_tinygen, _setup_torch
    rng = np.random.default_rng(0)
    Bare.with_node = with_node
    xb = Bare(rng.standard_normal(16).astype(np.float32))
    cb = Bare(np.full(16, 0.5, np.float32))
    _uf.sigmoid(xb.data), _uf.tanh_grad(xb.data, xb.data), _uf.sigmoid_grad(xb.data, xb.data)   # build
    out = {"bare_us_per_op": _time_chain(_chain, backward, xb, cb, n_ops, repeats)}
    out["tinygen_us_per_op"] = _time_chain(_chain, lambda y: y.backward(), *_setup_tinygen(), n_ops, repeats)
    pt = _setup_torch(2)
    out["torch_us_per_op"] = _time_chain(_chain, lambda y: y.backward(), *pt, n_ops, repeats) if pt else None
    return out


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--ops", type=int, default=1000)
    p.add_argument("--repeats", type=int, default=30)
    p.add_argument("--node", action="store_true", help="give the sketch a separate graph node per op")
    a = p.parse_args(argv)
    r = run(a.ops, a.repeats, a.node)
    label = "bare engine + a node per op" if a.node else "bare engine (no features)"
    print(f"per-op cost of a {a.ops}-op chain of 16-element ops, forward + backward")
    print(f"  {label:28s}: {r['bare_us_per_op']:.2f} µs/op")
    print(f"  {'tinygen':28s}: {r['tinygen_us_per_op']:.2f} µs/op")
    if r["torch_us_per_op"] is not None:
        t = r["torch_us_per_op"]
        print(f"  {'pytorch (2 threads)':28s}: {t:.2f} µs/op   (bare/pytorch = {r['bare_us_per_op'] / t:.2f}, "
              f"tinygen/pytorch = {r['tinygen_us_per_op'] / t:.2f})")


if __name__ == "__main__":
    main()
