"""Reverse-mode differentiation: walk the graph backwards, applying each op's chain rule.

The walk is iterative (a heap of pending nodes, no recursion), so a chain
of a hundred thousand ops backpropagates without touching Python's recursion limit:

1. every node carries a sequence number from its creation; an op can only consume tensors made
   before it, so processing nodes latest-first (a max-heap on the sequence number, as PyTorch
   does) guarantees that every consumer of a node has sent its gradient before the node runs;
2. start from the outputs and pop nodes from the heap until it is empty;
3. each node's ``backward`` turns the gradient of its output into gradients of its inputs;
   gradients meeting at one tensor are summed (the multivariate chain rule);
4. leaves accumulate into ``.grad`` (``backward``) or are collected (``tg.grad``), once each,
   with the sum of every contribution that reached them.

A plain ``backward()`` (arrays, no hooks on intermediate tensors, no anomaly mode) takes a lean
walk, ``_walk_plain``; everything else (hooks, anomaly checks, ``tg.grad`` of intermediates,
double backward) takes ``_walk``. With ``create_graph=True`` the walk runs on Tensors with
recording on, so the gradients are themselves differentiable.
"""
from __future__ import annotations

import gc as _gc
from heapq import heappop, heappush

from .. import backend
from . import function, grad_mode
from .function import Tensor

_make = Tensor._make
_numpy = backend.numpy
_ndarray = _numpy.ndarray
# Leaves of 2 to _LIST_MAX values keep their gradient contributions in a list, summed at the end
# (a single value would be summed pairwise by NumPy: not the order of one-by-one additions). The
# list grows by one leaf-sized array per use of the leaf while the walk frees the arrays that use's
# node saved, so it does not raise the peak memory the graph itself set. (A check per append to sum
# every 256 entries cost ~28 ns per op on the per-op chain, 1.4 %.)
_LIST_MAX = 4096


def _ones_like(t):
    xp = backend.get_array_module(t.data)
    return xp.ones(t.shape, dtype=t.dtype)


def _root_grad(t, g, create_graph):
    if g is None:
        if t.data.size != 1:
            raise RuntimeError(f"backward: grad can be implicitly created only for one-element outputs; this output "
                               f"has shape {t.shape}: pass grad=tg.ones_like(output) or reduce it first (e.g. .sum())")
        g = _ones_like(t)
    elif isinstance(g, Tensor):
        if g.shape != t.shape:
            raise ValueError(f"backward: grad has shape {g.shape} but the output has shape {t.shape}")
        g = g if create_graph else g.data
    else:
        xp = backend.get_array_module(t.data)
        g = xp.asarray(g, dtype=t.dtype)
        if g.shape != t.shape:
            if g.size == t.data.size:
                g = g.reshape(t.shape)
            else:
                raise ValueError(f"backward: grad has shape {g.shape} but the output has shape {t.shape}")
    if create_graph and not isinstance(g, Tensor):
        g = Tensor._make(g, False, None)
    return g


def run_backward(outputs, grad_outputs, retain_graph=False, create_graph=False, inputs=None, allow_unused=True):
    """Backpropagate from ``outputs``.

    With ``inputs=None`` gradients accumulate into the leaves' ``.grad``; otherwise the gradients
    with respect to ``inputs`` (leaves or not) are returned as a list and no ``.grad`` changes.
    """
    pending = {}          # node -> gradient of its output so far
    leaves = {}           # leaf -> the gradient that reached it (or a list of them, summed at the end)
    heap = []             # nodes with a pending gradient, latest-created first
    leaf_grads = {}       # id(leaf) -> [leaf, gradient]   (only when inputs is given)
    roots = []            # the gradients the walk starts from
    for t, g in zip(outputs, grad_outputs):
        if not isinstance(t, Tensor):
            raise TypeError(f"backward: outputs must be Tensors, got {type(t).__name__}")
        if not t.requires_grad:
            raise RuntimeError("backward: the output does not require grad; no input of the computation "
                               "required grad, or it ran under tg.no_grad()")
        g = _root_grad(t, g, create_graph)
        roots.append(g)
        node = t.grad_fn
        if node is None:                             # the output is itself a leaf
            _deliver_leaf(t, g, inputs, leaf_grads, create_graph)
        elif node in pending:
            pending[node] = pending[node] + g
        else:
            pending[node] = g
            heappush(heap, (node.seq, node))

    wanted = None
    captured = {}
    if inputs is not None:
        wanted = {x.grad_fn: x for x in inputs if x.grad_fn is not None}

    anomaly = grad_mode.state.anomaly
    prev_enabled = grad_mode.state.enabled
    grad_mode.state.enabled = bool(create_graph)
    # The walk makes no reference cycles (everything it frees goes by reference counting), but its
    # small allocations would trigger cyclic-GC passes over the whole live graph: off meanwhile.
    gc_was_enabled = _gc.isenabled()
    if gc_was_enabled:
        _gc.disable()
    try:
        plain = not (create_graph or anomaly or wanted or function.hooked_nodes)
        if plain:
            _walk_plain(heap, pending, leaves, retain_graph)
        else:
            _walk(heap, pending, leaves, retain_graph, create_graph, anomaly, wanted, captured)
        owners = {id(_owner(g)) for g in roots} if plain else None
        for leaf, g in leaves.items():                # like PyTorch's AccumulateGrad: once, with the total
            if type(g) is list:
                g = _sum_contributions(g)
            elif plain:                               # one array may have reached two leaves (a + b):
                owner = id(_owner(g))                 # each leaf gets its own (clip_grad_* change .grad
                if owner in owners:                   # in place)
                    g = g.copy()
                else:
                    owners.add(owner)
            _deliver_leaf(leaf, g, inputs, leaf_grads, create_graph)
    finally:
        grad_mode.state.enabled = prev_enabled
        if gc_was_enabled:
            _gc.enable()

    if inputs is None:
        return None
    results = []
    for x in inputs:
        if x.grad_fn is None:
            entry = leaf_grads.get(id(x))
            g = entry[1] if entry is not None else None
        else:
            g = captured.get(x.grad_fn)
        if g is None:
            if not allow_unused:
                raise RuntimeError("grad: one of the inputs was not used to compute the outputs "
                                   "(pass allow_unused=True to get None for it)")
            results.append(None)
        else:
            results.append(g if isinstance(g, Tensor) else Tensor._make(g, False, None))
    return results


def _walk_plain(heap, pending, leaves, retain_graph):
    """The walk of a plain ``backward()``: arrays, no hooks, no anomaly checks, no inputs to capture.

    Each step pops a node, calls its backward and hands each input's gradient on: to the input's
    node (summed with what it already has) or to a leaf (its contributions are summed once, at
    the end). When a step makes exactly one node pending and nothing else is (a chain), that node
    runs next with its gradient in hand: no heap or dictionary traffic.
    """
    node = g = None
    while True:
        if node is None:
            if not heap:
                return
            node = heappop(heap)[1]
            g = pending.pop(node)
        datas = node.datas
        y = node.out_data if node.saves_output else None
        try:
            n = len(datas)
        except TypeError:                   # datas is None: released by an earlier backward
            raise _freed_graph_error(node) from None
        # one or two inputs (nearly every op) by a direct call: a *datas call costs ~60 ns more;
        # a fused ufunc of (g, y) straight on host arrays (tanh, sigmoid) before anything
        hb = node.host_backward
        if hb is not None and type(g) is _ndarray:
            grads = hb(g, y)
        elif n == 2:
            grads = node.backward(g, y, datas[0], datas[1])
        elif n == 1:
            grads = node.backward(g, y, datas[0])
        else:
            grads = node.backward(g, y, *datas)
        new = new_g = None          # the first node this step made pending, and its gradient
        for target, gx in (zip(node.edges, grads) if type(grads) is tuple else ((node.edges[0], grads),)):
            if target is None or gx is None:
                continue
            if target._is_node:                            # a Function (a leaf is a Tensor)
                if new is None and not pending:            # nothing else pending (a chain): it
                    new, new_g = target, gx                # runs next, its gradient in hand
                elif target is new:
                    new_g = new_g + gx
                else:
                    prev = pending.get(target)
                    if prev is not None:
                        pending[target] = prev + gx
                    elif new is None:
                        new, new_g = target, gx
                    else:
                        pending[target] = gx
                        heappush(heap, (target.seq, target))
            else:                                          # a leaf: keep every contribution
                prev = leaves.get(target)                  # (Tensors hash by identity)
                if type(prev) is list:
                    prev.append(gx)
                elif prev is None:
                    leaves[target] = gx
                elif type(gx) is _ndarray and 1 < gx.size <= _LIST_MAX:
                    leaves[target] = [prev, gx]
                else:
                    leaves[target] = prev + gx
        if not retain_graph:                               # free saved values (node.release(), inlined)
            if node.releases_more:                         # the op keeps more than its inputs/output
                node.release()
            else:                                          # (out_data is an unused slot unless saves_output)
                node.datas = node.out_data = None
        if new is not None and heap:                       # others pending: the latest-created goes next
            pending[new] = new_g
            heappush(heap, (new.seq, new))
            node = None
        else:
            node, g = new, new_g


def _walk(heap, pending, leaves, retain_graph, create_graph, anomaly, wanted, captured):
    """The general walk: hooks, anomaly checks, captured inputs (``tg.grad``) and create_graph."""
    while heap:
        node = heappop(heap)[1]
        g = pending.pop(node)
        if node.datas is None:
            raise _freed_graph_error(node)
        if node.hooks:
            g = _run_hooks(node.hooks, g, create_graph)
        if wanted and node in wanted:
            captured[node] = g
        if create_graph:
            if not node.differentiable_backward:
                raise RuntimeError(f"{node.name} does not support create_graph=True (double backward): "
                                   "its backward is not written with differentiable ops")
            y = node.output_for(True) if node.saves_output else None
            grads = node.backward(g, y, *node.inputs)
        else:
            y = node.out_data if node.saves_output else None
            grads = node.backward(g, y, *node.datas)
        if type(grads) is not tuple:
            grads = (grads,)
        if anomaly:
            grad_mode.check_backward(node, grads)
        prev = None
        for target, gx in zip(node.edges, grads):
            if target is None or gx is None:
                continue
            if gx is prev and not create_graph:          # one array sent to two places (a + b)
                gx = gx.copy()
            prev = gx
            if target._is_node:
                if target in pending:
                    pending[target] = pending[target] + gx
                else:
                    pending[target] = gx
                    heappush(heap, (target.seq, target))
            else:
                prev_sum = leaves.get(target)
                leaves[target] = gx if prev_sum is None else prev_sum + gx
        if not retain_graph:
            node.release()


def _freed_graph_error(node):
    return RuntimeError(f"backward through {node.name} a second time: its saved values were freed after the "
                        "first backward. Pass retain_graph=True to the first backward (or tg.grad) if you need "
                        "to backpropagate through the graph twice")


def _owner(a):
    """The array that owns ``a``'s memory (``a`` itself unless it is a view)."""
    while getattr(a, "base", None) is not None:
        a = a.base
    return a


def _sum_contributions(gs):
    """The sum of a leaf's gradient contributions, in order: one concatenation and one reduction
    instead of a ufunc call per contribution (for arrays of two values or more, adding down axis 0
    is the same sequence of roundings as adding them one by one)."""
    first = gs[0]
    try:
        stacked = _numpy.concatenate(gs, axis=None).reshape((len(gs),) + first.shape)
    except (ValueError, TypeError):         # shapes or kinds that do not stack: one at a time
        stacked = None
    if stacked is None:
        total = first
        for g in gs[1:]:
            total = total + g
        return total
    return _numpy.add.reduce(stacked, axis=0)


def _run_hooks(hooks, g, create_graph):
    gt = g if isinstance(g, Tensor) else Tensor._make(g, False, None)
    for h in hooks:
        r = h(gt)
        if r is not None:
            if not isinstance(r, Tensor):
                r = Tensor._make(r, False, None)
            if r.shape != gt.shape:
                raise ValueError(f"hook {h!r} returned a gradient of shape {r.shape}, expected {gt.shape}")
            gt = r
    return gt if create_graph else gt.data


def _deliver_leaf(x, g, inputs, leaf_grads, create_graph):
    """A gradient reached a leaf: run its hooks, then accumulate (.grad) or collect (tg.grad)."""
    if x._hooks:
        g = _run_hooks(x._hooks, g, create_graph)
    if inputs is not None:
        entry = leaf_grads.get(id(x))
        if entry is None:
            leaf_grads[id(x)] = [x, g]
        else:
            entry[1] = entry[1] + g
        return
    if isinstance(g, Tensor):                      # create_graph: .grad keeps its graph, like PyTorch
        gt = g
    else:
        if type(g) is not _ndarray and isinstance(g, backend.numpy.generic):
            g = backend.numpy.asarray(g)
        if g.dtype != x.data.dtype:
            g = g.astype(x.data.dtype)
        if g.shape != x.data.shape:
            raise RuntimeError(f"internal error: gradient of shape {g.shape} for a leaf of shape {x.data.shape}")
        if not g.flags.c_contiguous:
            g = backend.get_array_module(g).ascontiguousarray(g)
        gt = Tensor._make(g, False, None)
    if x._grad is None:
        x._grad = gt
    else:
        x._grad = x._grad + gt if isinstance(gt, Tensor) and gt.requires_grad else \
            Tensor._make(x._grad.data + gt.data, False, None)


def grad(outputs, inputs, grad_outputs=None, retain_graph=None, create_graph=False, allow_unused=True):
    """Gradients of ``outputs`` with respect to ``inputs``, returned as a tuple; ``.grad`` is untouched.

    Like ``torch.autograd.grad``: ``retain_graph`` defaults to ``create_graph``.
    """
    single_out = isinstance(outputs, Tensor)
    outputs = (outputs,) if single_out else tuple(outputs)
    single_in = isinstance(inputs, Tensor)
    inputs = (inputs,) if single_in else tuple(inputs)
    for x in inputs:
        if not isinstance(x, Tensor) or not x.requires_grad:
            raise RuntimeError("grad: every input must be a Tensor that requires grad")
    if grad_outputs is None:
        grad_outputs = (None,) * len(outputs)
    elif isinstance(grad_outputs, Tensor) or not isinstance(grad_outputs, (list, tuple)):
        grad_outputs = (grad_outputs,)
    if retain_graph is None:
        retain_graph = create_graph
    res = run_backward(outputs, tuple(grad_outputs), retain_graph=retain_graph, create_graph=create_graph,
                       inputs=inputs, allow_unused=allow_unused)
    return tuple(res)
