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

import itertools
import weakref

from .. import backend
from . import grad_mode

_numpy = backend.numpy

# The nodes that carry hooks (registered on a non-leaf tensor: Tensor.register_hook, retain_grad),
# for as long as they live. While there are none, a plain backward() skips the per-node hook
# check (tinygen.autograd.engine).
hooked_nodes = weakref.WeakSet()


class Function:
    """Base class of graph nodes. One node per op call, one output per node."""

    # out_data (the output array) is set only when the op saves_output, and read only then.
    # The input Tensors themselves are not kept: ``inputs`` rebuilds them from the arrays and
    # edges when asked (double backward, graph export). One tuple less per op is ~5 % of the
    # per-op cost, mostly in cyclic-GC passes over the young graph.
    __slots__ = ("datas", "_needs", "edges", "seq", "out_data", "__dict__", "__weakref__")

    # Rarely set per node, so they live on the class until an instance needs its own value.
    xp = _numpy                     # the array namespace of the inputs (set for device arrays)
    raw_inputs = None               # the inputs as given, kept only when an array was given bare
    hooks = None                    # tensor hooks registered on the output
    site = None                     # where forward was called (anomaly mode only)

    _is_node = True                 # (Tensor._is_node is False: the engine tells edges apart by it)
    saves_output = False            # backward needs the op's output y
    saves_input = True              # backward needs the op's input (one-input ops: False frees
                                    # it early, as for tanh, whose gradient needs only y)
    host_forward = None             # a NumPy ufunc doing forward on host arrays (saves a call)
    host_backward = None            # a ufunc (g, y) -> the input's gradient, on host arrays: set by
                                    # kernels.ufuncs.bind_direct while the fused kernels are on
    direct_forward = None           # likewise a ufunc x -> y, for float32/float64 host arrays
    releases_more = False           # release() frees more than inputs and output (the engine calls it)
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
        The node keeps its inputs' arrays (``datas``; not for a one-input op with
        ``saves_input = False``) and its *edges*: one per input, where that input's gradient goes
        (the input's own node, or the input itself if a leaf), or None for an input that needs no
        gradient. The input Tensors are rebuilt from these on demand (``inputs``).
        """
        fn = _new(cls)
        datas = []
        needs = []
        edges = []
        on_device = False
        any_grad = False
        bare_array = False
        for x in inputs:
            if isinstance(x, Tensor):
                d = x.data
                if x.requires_grad:
                    needs.append(True)
                    p = x.grad_fn
                    edges.append(x if p is None else p)
                    any_grad = True
                else:
                    needs.append(False)
                    edges.append(None)
                if type(d) is not _ndarray:
                    on_device = True
            else:
                d = x
                needs.append(False)
                edges.append(None)
                if type(d) is _ndarray:
                    bare_array = True
                elif hasattr(d, "shape") and not isinstance(d, _generic):
                    on_device = bare_array = True
            datas.append(d)
        if on_device:
            fn.xp = _check_devices(cls, datas, inputs)
        out = fn.forward(*datas, **params) if params else fn.forward(*datas)
        if type(out) is not _ndarray and isinstance(out, _generic):
            out = _numpy.asarray(out)        # NumPy returns scalars for 0-d results; keep arrays
        if _state.anomaly:
            grad_mode.check_forward(fn, out)
        if any_grad and _state.enabled:
            if bare_array:                   # `inputs` could not tell it from a constant Tensor
                fn.raw_inputs = inputs
                fn.releases_more = True
            fn.datas = datas if cls.saves_input else _INPUT_NOT_SAVED
            fn._needs = needs
            fn.edges = tuple(edges)
            fn.seq = next(_sequence)         # later ops first: a valid reverse topological order
            t = _make(out, True, fn)
            if cls.saves_output:
                fn.out_data = out
            return t
        return _make(out, False, None)

    @property
    def needs(self):
        """Which inputs need a gradient (a list of bools, one per input). The one- and two-input
        fast paths (unary_op, binary_op) do not store it: an input's edge is None when it needs
        none, and the ops they serve read the edges."""
        try:
            return self._needs
        except AttributeError:
            return [e is not None for e in self.edges]

    @property
    def inputs(self):
        """The op's inputs as Tensors (numbers as given), or None once released.

        Rebuilt from what the node keeps: an input that needs a gradient is its leaf, or a Tensor
        of the saved array whose grad_fn is the node that made it (to the engine that *is* the
        input); a constant is a Tensor of its array (or the number itself)."""
        datas = self.datas
        if datas is None:
            return None
        if self.raw_inputs is not None:
            return self.raw_inputs
        return tuple(_as_input(e, d) for e, d in zip(self.edges, datas))

    @property
    def parents(self):
        """The nodes this node sends gradients to (leaves excluded)."""
        return tuple({id(p): p for p in (self.edges or ()) if isinstance(p, Function)}.values())

    # --------------------------------------------------------------- helpers
    def output_for(self, mode_is_graph: bool):
        """The op's output: the array on the fast path; under create_graph a Tensor of that array
        whose grad_fn is this node, so what backward records on it reaches this node (the
        graph is made of nodes: any Tensor with this grad_fn is the output, as far as gradients go)."""
        if not mode_is_graph:
            return self.out_data
        return _make(self.out_data, True, self)

    def release(self):
        """Drop what backward needed (retain_graph=False): a second backward is then an error."""
        if self.raw_inputs is not None:
            self.raw_inputs = None
        self.datas = None
        if self.saves_output:
            self.out_data = None

    def __repr__(self):
        return f"<{self.name}>"


def _as_input(edge, data):
    if edge is None:       # a constant: a Tensor's array (bare arrays keep raw_inputs), a number, None
        return _make(data, False, None) if hasattr(data, "shape") and not isinstance(data, _generic) else data
    if edge._is_node:      # (data is None when the op did not keep its input: saves_input)
        return _make(data, True, edge) if data is not None else None
    return edge                                  # a leaf


def _check_devices(cls, datas, inputs):
    """All Tensor inputs of one op must live on one device; return that device's namespace.

    Constant host arrays (plain NumPy arrays given where a Tensor is expected) are copied to
    the device explicitly; two Tensors on different devices are an error.
    """
    devices = {}
    for x, d in zip(inputs, datas):
        if isinstance(x, Tensor):
            devices.setdefault(backend.device_of(d), tuple(d.shape))
    if len(devices) > 1:
        detail = ", ".join(f"{shape} on {dev}" for dev, shape in devices.items())
        raise ValueError(f"{cls.__name__}: inputs are on different devices ({detail}); "
                         "move them to one device with .to('cpu') or .to('cuda') first")
    device = next(iter(devices)) if devices else None
    if device is None:                           # only constants: the first device array decides
        for d in datas:
            if hasattr(d, "shape") and not isinstance(d, _numpy.generic) and backend.device_of(d) != "cpu":
                device = "cuda"
                break
        else:
            return _numpy
    if device != "cpu":
        for i, (x, d) in enumerate(zip(inputs, datas)):
            if not isinstance(x, Tensor) and type(d) is _ndarray:
                datas[i] = backend.to_device(d, device)
    return backend.xp_for(device)


from ..tensor import Tensor  # noqa: E402  (Tensor needs Function too; import at the end)

_make = Tensor._make
_new = object.__new__
_ndarray = _numpy.ndarray
_generic = _numpy.generic
_state = grad_mode.state
_sequence = itertools.count(0, -1)     # 0, −1, −2, …: later ops sort first in the engine's heap
_INPUT_NOT_SAVED = (None,)      # the datas of a unary node whose backward needs only its output
_PY_NUMBERS = (int, float, bool)
_F32, _F64 = _numpy.dtype("float32"), _numpy.dtype("float64")


def unary_op(cls):
    """The recording function of a one-input op, for binding as a Tensor method: ``op(x)`` is
    ``cls.apply(x)``, with a fast path for a host Tensor input that skips the generic loop.

    This and :func:`binary_op` repeat ``apply``'s recording steps inline on purpose: they run once
    per op, and every helper call (even a method calling them) costs a measurable share of the
    per-op overhead (benchmarks/overhead.py). Any change to how a node is recorded
    must be made in all three.
    """
    apply = cls.apply
    f = cls.host_forward
    saves_output = cls.saves_output
    saves_input = cls.saves_input

    def op(x):
        d = x.data
        mode = _state.mode                  # 0 not recording, 1 recording, 2 anomaly detection
        if type(d) is not _ndarray or mode == 2:
            return apply(x)
        fn = _new(cls)
        u = cls.direct_forward              # a bare fused ufunc (sigmoid), float32/float64 only
        if u is not None and (d.dtype is _F32 or d.dtype is _F64):
            out = u(d)
        else:
            out = f(d) if f is not None else fn.forward(d)
        if type(out) is not _ndarray:
            out = _numpy.asarray(out)
        if mode and x.requires_grad:
            p = x.grad_fn
            fn.datas = (d,) if saves_input else _INPUT_NOT_SAVED
            fn.edges = (x if p is None else p,)
            fn.seq = next(_sequence)
            t = _new(Tensor)
            t.data = out
            t.requires_grad = True
            t.grad_fn = fn
            if saves_output:
                fn.out_data = out
            return t
        return _make(out, False, None)

    op.__name__ = op.__qualname__ = f"{cls.__name__.lower()}_op"
    op.__doc__ = cls.__doc__
    return op


def binary_op(cls, reflected=False):
    """The recording function of a two-input op, for binding as a Tensor operator: ``op(a, b)``
    is ``cls.apply(a, b)`` (``cls.apply(b, a)`` if ``reflected``: ``__radd__`` and friends), with
    a fast path for host Tensors, or a host Tensor and a Python number."""
    apply = cls.apply
    f = cls.host_forward
    saves_output = cls.saves_output

    def op(a, b):
        if reflected:
            a, b = b, a
        if type(a) is Tensor or isinstance(a, Tensor):    # (the first test is the faster)
            da, ra = a.data, a.requires_grad
            ka = type(da) is _ndarray
        else:
            if isinstance(a, _generic) and a.dtype.kind in "biuf":
                a = a.item()        # a NumPy scalar counts as a Python number: float32 stays float32
            da, ra, ka = a, False, False
            if type(a) not in _PY_NUMBERS:
                return apply(a, b)
        if type(b) is Tensor or isinstance(b, Tensor):
            db, rb = b.data, b.requires_grad
            kb = type(db) is _ndarray
        else:
            if isinstance(b, _generic) and b.dtype.kind in "biuf":
                b = b.item()        # (as PyTorch: torch.ones(2) * np.float64(2) is float32)
            db, rb, kb = b, False, False
            if type(b) not in _PY_NUMBERS:
                return apply(a, b)
        # both host arrays, or one host array and a number; anything else takes the general path
        mode = _state.mode                  # 0 not recording, 1 recording, 2 anomaly detection
        if not ((ka and (kb or type(db) in _PY_NUMBERS)) or (kb and type(da) in _PY_NUMBERS)) or mode == 2:
            return apply(a, b)
        fn = _new(cls)
        out = f(da, db) if f is not None else fn.forward(da, db)
        if type(out) is not _ndarray:
            out = _numpy.asarray(out)
        if mode and (ra or rb):
            fn.datas = (da, db)
            if ra:
                p = a.grad_fn
                ea = a if p is None else p
            else:
                ea = None
            if rb:
                p = b.grad_fn
                fn.edges = (ea, b if p is None else p)
            else:
                fn.edges = (ea, None)
            fn.seq = next(_sequence)
            t = _new(Tensor)
            t.data = out
            t.requires_grad = True
            t.grad_fn = fn
            if saves_output:
                fn.out_data = out
            return t
        return _make(out, False, None)

    op.__name__ = op.__qualname__ = f"{'r' if reflected else ''}{cls.__name__.lower()}_op"
    op.__doc__ = cls.__doc__
    return op
