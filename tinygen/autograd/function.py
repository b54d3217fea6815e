"""The graph node every differentiable op is built on.

An op is a subclass of :class:`Function` with two methods side by side::

    class Tanh(Function):
        '''y = tanh(x);   dy/dx = 1 − y²'''
        saves_output = True
        def forward(self, x):            # arrays in, array out
            return self.xp.tanh(x)
        def backward(self, g, y, x):     # upstream gradient, output, inputs
            return g * (1 - y * y)

``forward`` always runs on raw arrays (NumPy or CuPy). ``backward`` is written *once*, with
operators and the helpers of :mod:`tinygen.autograd.dual`, and runs in one of two modes:

* the fast path (the default): ``g``, ``y`` and the inputs are raw arrays, nothing is recorded;
* ``create_graph=True``: they are Tensors, so the backward pass is itself recorded and can be
  differentiated again (Hessian-vector products, gradient penalties).

An op whose backward cannot run on Tensors sets ``differentiable_backward = False`` and the
engine raises a clear error when asked for a second derivative through it.

``backward`` returns one gradient per input (a tuple for several inputs, a bare value for one);
``None`` for an input that needs none. ``self.needs`` says which inputs need a gradient, so an op
can skip work it would throw away.
"""
from __future__ import annotations

import weakref

from .. import backend
from . import grad_mode

_numpy = backend.numpy


class Function:
    """Base class of graph nodes. One node per op call, one output per node."""

    __slots__ = ("inputs", "needs", "parents", "xp", "out_data", "out_ref", "hooks",
                 "site", "__dict__", "__weakref__")

    saves_output = False            # backward needs the op's output y
    differentiable_backward = True  # backward works on Tensors (create_graph=True)

    @property
    def name(self) -> str:
        return type(self).__name__

    def forward(self, *arrays):                       # pragma: no cover - abstract
        raise NotImplementedError

    def backward(self, g, y, *inputs):                # pragma: no cover - abstract
        raise NotImplementedError(f"{self.name} has no backward")

    # ------------------------------------------------------------------ apply
    @classmethod
    def apply(cls, *inputs, **params):
        """Run the op on Tensors (or arrays/numbers, taken as constants) and record it.

        Returns a Tensor; records a node only when grad mode is on and an input requires grad.
        """
        datas = []
        needs = []
        any_needs = False
        device_arrays = None
        for x in inputs:
            if isinstance(x, Tensor):
                d = x.data
                datas.append(d)
                r = x.requires_grad
                needs.append(r)
                any_needs = any_needs or r
                if type(d) is not _numpy.ndarray:
                    device_arrays = d
            else:
                datas.append(x)
                needs.append(False)
                if x is not None and hasattr(x, "shape") and type(x) is not _numpy.ndarray \
                        and not isinstance(x, _numpy.generic):
                    device_arrays = x
        fn = cls.__new__(cls)
        fn.xp = _numpy if device_arrays is None else _check_devices(cls, inputs, datas)
        out = fn.forward(*datas, **params) if params else fn.forward(*datas)
        if grad_mode.anomaly_enabled():
            grad_mode.check_forward(fn, out)
        if any_needs and grad_mode.state.enabled:
            fn.inputs = inputs
            fn.needs = needs
            fn.parents = tuple({x.grad_fn for x, n in zip(inputs, needs) if n and x.grad_fn is not None})
            fn.hooks = None
            t = Tensor._make(out, True, fn)
            if cls.saves_output:
                fn.out_data = out
                fn.out_ref = weakref.ref(t)
            return t
        return Tensor._make(out, False, None)

    # --------------------------------------------------------------- helpers
    def output_for(self, mode_is_graph: bool):
        """The op's output: the array on the fast path, the Tensor under create_graph."""
        if not mode_is_graph:
            return self.out_data
        t = self.out_ref() if self.out_ref is not None else None
        if t is None:
            raise RuntimeError(f"{self.name}: its output Tensor was freed before a create_graph backward; "
                               "keep a reference to it")
        return t

    def release(self):
        """Drop what backward needed (retain_graph=False): a second backward is then an error."""
        self.inputs = None
        self.out_data = None

    def __repr__(self):
        return f"<{self.name}>"


def _check_devices(cls, inputs, datas):
    """All array inputs of one op must live on one device; return that device's namespace."""
    devices = []
    for d in datas:
        if d is not None and hasattr(d, "shape") and not isinstance(d, _numpy.generic):
            devices.append(backend.device_of(d))
    if len(set(devices)) > 1:
        shapes = ", ".join(f"{getattr(d, 'shape', None)} on {dev}" for d, dev in
                           zip([d for d in datas if hasattr(d, "shape")], devices))
        raise ValueError(f"{cls.__name__}: inputs are on different devices ({shapes}); "
                         "move them to one device with .to('cpu') or .to('cuda') first")
    return backend.xp_for(devices[0]) if devices else _numpy


from ..tensor import Tensor  # noqa: E402  (Tensor needs Function too; import at the end)
