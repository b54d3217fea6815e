"""Einstein summation.

For y = einsum("A,B->C", a, b), the gradient of operand a is itself an einsum:
    ∂L/∂a = einsum("C,B->A", g, b)
(letters that only a carries were summed away in forward, so the gradient is broadcast back
along them). Repeated letters within one operand (diagonals) and ellipses are not supported.
"""
from __future__ import annotations

from .dual import broadcast_to
from .function import Function, Tensor


def _parse(subscripts, n):
    s = subscripts.replace(" ", "")
    if "." in s:
        raise ValueError(f"einsum: ellipsis ('...') is not supported in {subscripts!r}; write the axes out")
    if "->" in s:
        lhs, out = s.split("->")
    else:
        lhs = s
        letters = lhs.replace(",", "")
        out = "".join(sorted(c for c in set(letters) if letters.count(c) == 1))
    ins = lhs.split(",")
    if len(ins) != n:
        raise ValueError(f"einsum: {subscripts!r} names {len(ins)} operands but {n} were given")
    for spec in ins:
        if len(set(spec)) != len(spec):
            raise ValueError(f"einsum: repeated index in operand {spec!r} (diagonals) is not supported")
    return ins, out


def _einsum(spec, *xs):
    if any(isinstance(x, Tensor) for x in xs):
        return Einsum.apply(*xs, subscripts=spec)
    from .. import backend
    return backend.get_array_module(xs[0]).einsum(spec, *xs)


class Einsum(Function):
    """y = einsum(subscripts, *xs).    ∂L/∂xᵢ = einsum(out, others → inᵢ)(g, *others)."""

    def forward(self, *xs, subscripts):
        self.ins, self.out = _parse(subscripts, len(xs))
        for spec, x in zip(self.ins, xs):
            if len(spec) != x.ndim:
                raise ValueError(f"einsum: operand {spec!r} has {len(spec)} indices but the array has shape {x.shape}")
        return self.xp.einsum(f"{','.join(self.ins)}->{self.out}", *xs)

    def backward(self, g, y, *xs):
        grads = []
        for i, need in enumerate(self.needs):
            if not need:
                grads.append(None)
                continue
            others = [x for j, x in enumerate(xs) if j != i]
            other_specs = [s for j, s in enumerate(self.ins) if j != i]
            present = set(self.out).union(*map(set, other_specs)) if other_specs else set(self.out)
            target = self.ins[i]
            kept = "".join(c for c in target if c in present)
            gi = _einsum(",".join([self.out] + other_specs) + "->" + kept, g, *others)
            if kept != target:
                shape_kept = tuple(xs[i].shape[target.index(c)] if c in kept else 1 for c in target)
                # reorder kept letters to target order, then broadcast along the missing ones
                gi = gi.reshape(shape_kept)
                gi = broadcast_to(gi, xs[i].shape)
            grads.append(gi)
        return tuple(grads)
