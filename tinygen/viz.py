"""Graph export for study: ``tg.viz.to_dot(t)`` returns Graphviz DOT text of the graph behind ``t``.

Ops are boxes (name), tensors are ellipses (shape, dtype, whether they require grad); edges go
from inputs to ops to outputs, the direction of the forward pass. Render with
``dot -Tpng graph.dot -o graph.png`` if Graphviz is installed (rendering is optional).
"""
from __future__ import annotations

from .tensor import Tensor


def _tensor_label(shape, dtype, requires_grad, name=None):
    head = f"{name}\\n" if name else ""
    rg = "\\nrequires_grad" if requires_grad else ""
    return f"{head}{tuple(shape)} {dtype}{rg}"


def to_dot(tensor: Tensor, names=None) -> str:
    """DOT text of the graph that produced ``tensor`` (a freed graph shows only what remains).

    ``names`` maps tensors (e.g. parameters) to labels: ``{id(p): "W1"}`` or ``{p: "W1"}``.
    """
    label_of = {}
    for k, v in (names or {}).items():
        label_of[id(k) if isinstance(k, Tensor) else k] = v
    lines = ["digraph tinygen {", '  rankdir=LR;', '  node [fontname="Helvetica", fontsize=10];']
    out_id = f"t{id(tensor)}"
    lines.append(f'  {out_id} [shape=ellipse, style=filled, fillcolor="#c6e2ff", '
                 f'label="{_tensor_label(tensor.shape, tensor.dtype, tensor.requires_grad, label_of.get(id(tensor), "output"))}"];')
    if tensor.grad_fn is None:
        lines.append("}")
        return "\n".join(lines)
    seen = set()
    stack = [(tensor.grad_fn, out_id)]
    while stack:
        node, consumer = stack.pop()
        nid = f"n{id(node)}"
        if nid not in seen:
            seen.add(nid)
            lines.append(f'  {nid} [shape=box, style=filled, fillcolor="#ffe4b5", label="{node.name}"];')
            for edge, inp in zip(node.edges or (), node.inputs or ()):
                if edge is not None and edge._is_node:      # made by an op (its input may be unsaved)
                    stack.append((edge, nid))
                    continue
                if isinstance(inp, Tensor):
                    tid = f"t{id(inp)}"
                    if tid not in seen:
                        seen.add(tid)
                        color = "#d4f4c4" if inp.requires_grad else "#eeeeee"
                        lbl = _tensor_label(inp.shape, inp.dtype, inp.requires_grad, label_of.get(id(inp)))
                        lines.append(f'  {tid} [shape=ellipse, style=filled, fillcolor="{color}", label="{lbl}"];')
                    lines.append(f"  {tid} -> {nid};")
                elif inp is not None and hasattr(inp, "shape"):
                    cid = f"c{id(node)}_{id(inp)}"
                    lines.append(f'  {cid} [shape=plaintext, label="const {tuple(inp.shape)}"];')
                    lines.append(f"  {cid} -> {nid};")
        lines.append(f"  {nid} -> {consumer};")
    lines.append("}")
    return "\n".join(dict.fromkeys(lines))  # drop repeated edges, keep order
