"""The Tensor: an array, and how it was made.

A Tensor wraps a NumPy (CPU) or CuPy (GPU) array in ``.data``. When an op runs on Tensors that
require grad, it records a node (``.grad_fn``, a :class:`~tinygen.autograd.function.Function`)
holding its inputs; ``backward()`` walks these nodes in reverse topological order and applies
each op's chain rule. Leaves (tensors made by the user) accumulate ``.grad``; intermediate
tensors do not, unless a hook asks for it.

dtype rule (documented, as in NumPy 2 / PyTorch): a Python number in an op takes the Tensor's
dtype, and so does a NumPy scalar (``x * np.float64(0.5)`` stays float32, as in PyTorch, where
NumPy 2 alone would promote); float32 with float64 gives float64; an integer Tensor with a float Tensor gives the float
dtype. Gradients always have the dtype of the tensor they belong to.
"""
from __future__ import annotations

import numbers

import numpy as np

from . import backend
from .autograd import grad_mode

float16 = np.dtype("float16")
float32 = np.dtype("float32")
float64 = np.dtype("float64")
int32 = np.dtype("int32")
int64 = np.dtype("int64")
uint8 = np.dtype("uint8")
bool_ = np.dtype("bool")

_DTYPE_ALIASES = {"float": float32, "double": float64, "long": int64, "int": int64, "half": float16,
                  "bool": bool_}


def as_dtype(dtype):
    """NumPy dtypes, their names ("float64") and tinygen aliases → numpy.dtype."""
    if dtype is None:
        return None
    if isinstance(dtype, str) and dtype in _DTYPE_ALIASES:
        return _DTYPE_ALIASES[dtype]
    try:
        return np.dtype(dtype)
    except TypeError as exc:
        raise TypeError(f"unknown dtype {dtype!r}: use a NumPy dtype, its name, or tg.float32/tg.float64/tg.int64") from exc


def _is_float(dt) -> bool:
    return dt.kind == "f"


class Tensor:
    """A multi-dimensional array with reverse-mode automatic differentiation.

    ``Tensor(data, requires_grad=False, dtype=None, device=None)``: ``data`` may be a Tensor,
    a NumPy/CuPy array (its dtype is kept), a nested list or a number (floats become float32,
    integers int64, booleans bool).
    """

    # .grad and hooks are rare on the tensors ops make: they live in the instance dict only
    # when set (class defaults below), so recording an op stores three fields, not five.
    __slots__ = ("data", "requires_grad", "grad_fn", "__dict__", "__weakref__")
    __array_ufunc__ = None  # make `ndarray <op> Tensor` defer to Tensor's reflected operators
    _is_node = False        # a graph edge that ends here ends at a leaf (Function._is_node is True)
    _grad = None            # the gradient (``.grad``), set by backward on leaves
    _hooks = None           # hooks registered on a leaf (a non-leaf's go to its grad_fn)

    def __init__(self, data, requires_grad: bool = False, dtype=None, device=None):
        dtype = as_dtype(dtype)
        if isinstance(data, Tensor):
            data = data.data
        if device is not None:
            device = backend.normalize_device(device)
        arr = _to_array(data, dtype, device)
        self.data = arr
        self.grad_fn = None
        self.requires_grad = False
        if requires_grad:
            self.requires_grad_(True)

    @classmethod
    def _make(cls, data, requires_grad, grad_fn):
        """Fast internal constructor: wraps an array without checks or copies."""
        t = cls.__new__(cls)
        t.data = data
        t.requires_grad = requires_grad
        t.grad_fn = grad_fn
        return t

    # ------------------------------------------------------------ attributes
    @property
    def shape(self):
        return self.data.shape

    @property
    def ndim(self):
        return self.data.ndim

    @property
    def dtype(self):
        return self.data.dtype

    @property
    def size(self):
        return self.data.size

    def numel(self):
        return self.data.size

    def dim(self):
        return self.data.ndim

    @property
    def device(self):
        return backend.device_of(self.data)

    @property
    def is_leaf(self):
        return self.grad_fn is None

    @property
    def grad(self):
        return self._grad

    @grad.setter
    def grad(self, value):
        if value is not None:
            if not isinstance(value, Tensor):
                value = Tensor(value, dtype=self.dtype)
            if value.shape != self.shape:
                raise ValueError(f"assigned grad has shape {value.shape}, but the tensor has shape {self.shape}")
            if value.device != self.device:
                raise ValueError(f"assigned grad is on {value.device}, but the tensor is on {self.device}")
        self._grad = value

    def requires_grad_(self, requires_grad: bool = True):
        if requires_grad and not _is_float(self.data.dtype):
            raise TypeError(f"only floating-point tensors can require gradients; this one has dtype {self.dtype} "
                            "(integer tensors are for indices and labels: convert with .float() first)")
        if not self.is_leaf and not requires_grad:
            raise RuntimeError("requires_grad can only be turned off on leaf tensors; use .detach()")
        self.requires_grad = bool(requires_grad)
        return self

    def __len__(self):
        if self.data.ndim == 0:
            raise TypeError("len() of a 0-d tensor")
        return self.data.shape[0]

    def __repr__(self):
        extra = ""
        if self.grad_fn is not None:
            extra = f", grad_fn=<{self.grad_fn.name}>"
        elif self.requires_grad:
            extra = ", requires_grad=True"
        dev = "" if self.device == "cpu" else f", device='{self.device}'"
        body = np.array2string(backend.to_numpy(self.data), separator=", ", precision=4, threshold=50,
                               prefix="tensor(")
        return f"tensor({body}, dtype={self.dtype}{dev}{extra})"

    def __bool__(self):
        if self.data.size != 1:
            raise ValueError(f"the truth value of a tensor with {self.data.size} elements is ambiguous; "
                             "use .any() or .all()")
        return bool(self.data)

    def __float__(self):
        return float(self.item())

    def __int__(self):
        return int(self.item())

    def __index__(self):
        if self.data.dtype.kind not in "iu" or self.data.size != 1:
            raise TypeError("only integer tensors of one element can be used as an index")
        return int(self.item())

    __hash__ = object.__hash__

    # ------------------------------------------------------------ conversion
    def numpy(self):
        """A host NumPy array (a copy from the GPU; shares memory on the CPU, like PyTorch)."""
        if self.requires_grad and grad_mode.state.enabled and self.grad_fn is not None:
            pass  # allowed (PyTorch refuses; reading values of non-leaves is common in a teaching library)
        return backend.to_numpy(self.data)

    def item(self):
        if self.data.size != 1:
            raise ValueError(f"item(): only one-element tensors can be converted to a Python number, "
                             f"this one has shape {self.shape}")
        return self.data.reshape(()).item() if hasattr(self.data, "item") else float(self.data)

    def tolist(self):
        return backend.to_numpy(self.data).tolist()

    def detach(self):
        """The same data, cut from the graph (no copy)."""
        return Tensor._make(self.data, False, None)

    def clone(self):
        return _ops.Copy.apply(self)

    def to(self, *args, **kwargs):
        """``t.to("cuda")``, ``t.to(tg.float64)``, ``t.to(device=..., dtype=...)``. Differentiable."""
        device, dtype = _parse_to_args(args, kwargs)
        out = self
        if dtype is not None and dtype != self.dtype:
            out = out.astype(dtype)
        if device is not None and device != out.device:
            out = _ops.ToDevice.apply(out, device=device)
        return out

    def cpu(self):
        return self.to("cpu")

    def cuda(self):
        return self.to("cuda")

    def astype(self, dtype):
        dtype = as_dtype(dtype)
        if dtype == self.dtype:
            return self
        if self.requires_grad and not _is_float(dtype):
            return Tensor._make(self.data.astype(dtype), False, None)
        return _ops.Cast.apply(self, dtype=dtype)

    def float(self):
        return self.astype(float32)

    def double(self):
        return self.astype(float64)

    def long(self):
        return self.astype(int64)

    def type(self, dtype):
        return self.astype(dtype)

    # ------------------------------------------------------------ autograd
    def backward(self, grad=None, retain_graph: bool = False, create_graph: bool = False):
        """Accumulate d(self)/d(leaf) into every leaf's ``.grad`` (``grad`` defaults to 1 for scalars)."""
        from .autograd.engine import run_backward
        run_backward((self,), (grad,), retain_graph=retain_graph or create_graph, create_graph=create_graph)

    def register_hook(self, fn):
        """``fn(grad) -> Tensor or None`` runs when this tensor's gradient is computed; a return value replaces it."""
        if not self.requires_grad:
            raise RuntimeError("cannot register a hook on a tensor that does not require grad")
        if self.grad_fn is None:
            if self._hooks is None:
                self._hooks = []
            self._hooks.append(fn)
            hooks = self._hooks
        else:
            _function.hooked_nodes.add(self.grad_fn)
            if self.grad_fn.hooks is None:
                self.grad_fn.hooks = []
            self.grad_fn.hooks.append(fn)
            hooks = self.grad_fn.hooks
        return _RemovableHandle(hooks, fn)

    def retain_grad(self):
        """Keep ``.grad`` on a non-leaf tensor after backward."""
        if self.grad_fn is None or getattr(self.grad_fn, "retains_grad", False):
            return
        self.grad_fn.retains_grad = True
        import weakref
        ref = weakref.ref(self)

        def _store(g):
            t = ref()
            if t is not None:
                t._grad = g.detach() if t._grad is None else Tensor._make(t._grad.data + g.data, False, None)
        self.register_hook(_store)

    # ------------------------------------------------------------ in-place helpers (leaves under no_grad)
    def _check_inplace(self, what):
        if self.requires_grad and grad_mode.state.enabled:
            raise RuntimeError(f"{what}: a tensor that requires grad can only be modified in place under "
                               "tg.no_grad() (e.g. in an optimizer step or an initialiser)")
        if self.grad_fn is not None:
            raise RuntimeError(f"{what}: in-place changes are allowed on leaf tensors only")

    def zero_(self):
        self._check_inplace("zero_")
        self.data[...] = 0
        return self

    def fill_(self, value):
        self._check_inplace("fill_")
        self.data[...] = value
        return self

    def copy_(self, src):
        self._check_inplace("copy_")
        src = src.data if isinstance(src, Tensor) else src
        xp = backend.get_array_module(self.data)
        self.data[...] = xp.asarray(src, dtype=self.data.dtype) if backend.device_of(src) == self.device \
            else backend.to_device(src, self.device).astype(self.data.dtype)
        return self

    def add_(self, other, alpha=1.0):
        self._check_inplace("add_")
        other = other.data if isinstance(other, Tensor) else other
        self.data += alpha * other if alpha != 1.0 else other
        return self

    def sub_(self, other):
        return self.add_(other, alpha=-1.0)

    def mul_(self, other):
        self._check_inplace("mul_")
        self.data *= other.data if isinstance(other, Tensor) else other
        return self

    def uniform_(self, low=0.0, high=1.0):
        self._check_inplace("uniform_")
        from .random import uniform_array
        self.data[...] = uniform_array(self.shape, low, high, self.dtype, self.device)
        return self

    def normal_(self, mean=0.0, std=1.0):
        self._check_inplace("normal_")
        from .random import normal_array
        self.data[...] = normal_array(self.shape, self.dtype, self.device) * std + mean
        return self

    # ------------------------------------------------------------ arithmetic
    # + − × ÷ @ (and their reflected forms), unary minus and abs() are bound after the class, at the
    # end of this module: each is its op's recording function (autograd.function.binary_op).
    def __pow__(self, other):
        if isinstance(other, numbers.Number):
            return _ops.PowScalar.apply(self, exponent=other)
        return _ops.Pow.apply(self, other)

    def __rpow__(self, other):
        return _ops.Pow.apply(other, self)

    def __pos__(self):
        return self

    # comparisons: no gradient, boolean tensors
    def _compare(self, other, op):
        o = other.data if isinstance(other, Tensor) else other
        return Tensor._make(op(self.data, o), False, None)

    def __lt__(self, other):
        return self._compare(other, lambda a, b: a < b)

    def __le__(self, other):
        return self._compare(other, lambda a, b: a <= b)

    def __gt__(self, other):
        return self._compare(other, lambda a, b: a > b)

    def __ge__(self, other):
        return self._compare(other, lambda a, b: a >= b)

    def __eq__(self, other):
        return self._compare(other, lambda a, b: a == b)

    def __ne__(self, other):
        return self._compare(other, lambda a, b: a != b)

    def __invert__(self):
        return Tensor._make(~self.data, False, None)

    def __and__(self, other):
        return self._compare(other, lambda a, b: a & b)

    def __or__(self, other):
        return self._compare(other, lambda a, b: a | b)

    def eq(self, other):
        return self == other

    # ------------------------------------------------------------ element-wise math
    # exp, log, sqrt, sin, cos, tanh, sigmoid, relu and abs are bound at the end of this module.
    def square(self):
        return _mul(self, self)

    def clip(self, min=None, max=None):
        return _ops.Clip.apply(self, lo=min, hi=max)

    clamp = clip

    # ------------------------------------------------------------ reductions
    def sum(self, axis=None, keepdims=False, *, dim=None, keepdim=None):
        axis, keepdims = _axis_args(axis, keepdims, dim, keepdim)
        return _ops.Sum.apply(self, axis=axis, keepdims=keepdims)

    def mean(self, axis=None, keepdims=False, *, dim=None, keepdim=None):
        axis, keepdims = _axis_args(axis, keepdims, dim, keepdim)
        return _ops.Mean.apply(self, axis=axis, keepdims=keepdims)

    def var(self, axis=None, keepdims=False, ddof=0, *, dim=None, keepdim=None, unbiased=None):
        axis, keepdims = _axis_args(axis, keepdims, dim, keepdim)
        if unbiased is not None:
            ddof = 1 if unbiased else 0
        return _ops.var(self, axis, keepdims, ddof)

    def std(self, axis=None, keepdims=False, ddof=0, *, dim=None, keepdim=None, unbiased=None):
        return self.var(axis, keepdims, ddof, dim=dim, keepdim=keepdim, unbiased=unbiased).sqrt()

    def max(self, axis=None, keepdims=False, *, dim=None, keepdim=None):
        axis, keepdims = _axis_args(axis, keepdims, dim, keepdim)
        return _ops.Max.apply(self, axis=axis, keepdims=keepdims)

    def min(self, axis=None, keepdims=False, *, dim=None, keepdim=None):
        axis, keepdims = _axis_args(axis, keepdims, dim, keepdim)
        return _ops.Min.apply(self, axis=axis, keepdims=keepdims)

    def argmax(self, axis=None, keepdims=False, *, dim=None, keepdim=None):
        axis, keepdims = _axis_args(axis, keepdims, dim, keepdim)
        xp = backend.get_array_module(self.data)
        out = xp.argmax(self.data, axis=axis)
        if keepdims and axis is not None:
            out = xp.expand_dims(out, axis)
        return Tensor._make(out, False, None)

    def argmin(self, axis=None, keepdims=False, *, dim=None, keepdim=None):
        axis, keepdims = _axis_args(axis, keepdims, dim, keepdim)
        xp = backend.get_array_module(self.data)
        out = xp.argmin(self.data, axis=axis)
        if keepdims and axis is not None:
            out = xp.expand_dims(out, axis)
        return Tensor._make(out, False, None)

    def any(self):
        return Tensor._make(self.data.any(), False, None)

    def all(self):
        return Tensor._make(self.data.all(), False, None)

    # ------------------------------------------------------------ shapes
    def reshape(self, *shape):
        shape = _shape_args(shape)
        if shape == self.data.shape:
            return self
        return _ops.Reshape.apply(self, shape=shape)

    view = reshape

    def flatten(self, start_dim=0, end_dim=-1):
        nd = self.ndim
        if nd == 0:
            return self.reshape(1)
        s, e = start_dim % nd, end_dim % nd
        shape = self.shape
        size = 1
        for d in shape[s:e + 1]:
            size *= d
        return self.reshape(shape[:s] + (size,) + shape[e + 1:])

    def transpose(self, *axes):
        """``t.transpose(a, b)`` swaps axes a and b (PyTorch); with no argument it reverses all (NumPy)."""
        nd = self.ndim
        if len(axes) == 0:
            perm = tuple(range(nd - 1, -1, -1))
        elif len(axes) == 2 and all(isinstance(a, int) for a in axes):
            a, b = axes[0] % nd, axes[1] % nd
            perm = list(range(nd))
            perm[a], perm[b] = perm[b], perm[a]
            perm = tuple(perm)
        else:
            raise TypeError("transpose(a, b) swaps two axes; use permute(*axes) for a full permutation")
        return _ops.Permute.apply(self, axes=perm)

    swapaxes = transpose

    def permute(self, *axes):
        axes = _shape_args(axes)
        if len(axes) != self.ndim or sorted(a % max(self.ndim, 1) for a in axes) != list(range(self.ndim)):
            raise ValueError(f"permute: axes {axes} are not a permutation of {self.ndim} dimensions "
                             f"(tensor shape {self.shape})")
        return _ops.Permute.apply(self, axes=tuple(a % self.ndim for a in axes))

    @property
    def T(self):
        return _ops.Permute.apply(self, axes=tuple(range(self.ndim - 1, -1, -1)))

    @property
    def mT(self):
        return self.transpose(-1, -2)

    def squeeze(self, axis=None, *, dim=None):
        axis = dim if dim is not None else axis
        shape = self.shape
        if axis is None:
            new = tuple(s for s in shape if s != 1)
        else:
            axes = (axis,) if isinstance(axis, int) else tuple(axis)
            axes = {a % self.ndim for a in axes}
            new = tuple(s for i, s in enumerate(shape) if not (i in axes and s == 1))
        return self.reshape(new)

    def unsqueeze(self, axis=None, *, dim=None):
        axis = dim if dim is not None else axis
        nd = self.ndim + 1
        if not -nd <= axis < nd:
            raise ValueError(f"unsqueeze: axis {axis} out of range for a result with {nd} dimensions")
        axis %= nd
        shape = list(self.shape)
        shape.insert(axis, 1)
        return self.reshape(tuple(shape))

    def expand(self, *shape):
        shape = _shape_args(shape)
        shape = tuple(s if s != -1 else self.shape[i - (len(shape) - self.ndim)] for i, s in enumerate(shape))
        return _ops.BroadcastTo.apply(self, shape=shape)

    broadcast_to = expand

    def __getitem__(self, index):
        return _ops.GetItem.apply(self, index=_normalize_index(index))

    def __setitem__(self, index, value):
        self._check_inplace("__setitem__")
        self.data[_normalize_index(index)] = value.data if isinstance(value, Tensor) else value

    def __iter__(self):
        for i in range(len(self)):
            yield self[i]


class _RemovableHandle:
    def __init__(self, hooks, fn):
        self._hooks, self._fn = hooks, fn

    def remove(self):
        if self._fn in self._hooks:
            self._hooks.remove(self._fn)


# ---------------------------------------------------------------- helpers
def _to_array(data, dtype, device):
    """Build the backing array: NumPy arrays keep their dtype; Python floats become float32."""
    dev = device
    if backend.device_of(data) != "cpu" and hasattr(data, "shape"):
        arr = data if dtype is None else data.astype(dtype, copy=False)
        return backend.to_device(arr, dev) if dev is not None else arr
    if isinstance(data, np.ndarray):
        arr = data if dtype is None else data.astype(dtype, copy=False)
    elif isinstance(data, np.generic):
        arr = np.asarray(data, dtype=dtype)
    else:
        if dtype is None:
            arr = np.asarray(data)
            if arr.dtype.kind == "f":
                arr = arr.astype(float32, copy=False)
            elif arr.dtype.kind in "iu":
                arr = arr.astype(int64, copy=False)
            elif arr.dtype.kind not in "b":
                raise TypeError(f"Tensor: cannot make a tensor from {type(data).__name__} with dtype {arr.dtype}")
        else:
            arr = np.asarray(data, dtype=dtype)
    if dev is None:
        dev = backend.get_default_device()
    if dev != "cpu":
        arr = backend.to_device(arr, dev)
    return arr


def _axis_args(axis, keepdims, dim, keepdim):
    if dim is not None:
        axis = dim
    if keepdim is not None:
        keepdims = keepdim
    if isinstance(axis, list):
        axis = tuple(axis)
    return axis, bool(keepdims)


def _shape_args(shape):
    if len(shape) == 1 and isinstance(shape[0], (tuple, list)):
        shape = shape[0]
    return tuple(int(s) for s in shape)


def _normalize_index(index):
    """Tensors inside an index become arrays; lists become integer arrays."""
    if isinstance(index, tuple):
        return tuple(_normalize_index_item(i) for i in index)
    return _normalize_index_item(index)


def _normalize_index_item(i):
    if isinstance(i, Tensor):
        return i.data
    if isinstance(i, list):
        return np.asarray(i)
    return i


def _parse_to_args(args, kwargs):
    device = kwargs.pop("device", None)
    dtype = kwargs.pop("dtype", None)
    if kwargs:
        raise TypeError(f"to(): unexpected arguments {sorted(kwargs)}")
    for a in args:
        if isinstance(a, str) and (a in ("cpu", "cuda", "gpu") or a.startswith("cuda:")):
            device = a
        else:
            dtype = a
    if device is not None:
        device = backend.normalize_device(device)
    return device, as_dtype(dtype)


from .autograd import ops as _ops  # noqa: E402  (ops subclass Function, which needs Tensor)
from .autograd.function import binary_op as _binary_op, unary_op as _unary_op  # noqa: E402
from .autograd import function as _function  # noqa: E402

# Operators and element-wise methods are bound straight to their op's recording function (one
# Python call per op, not two; see tinygen.autograd.function.binary_op). Each carries its op's
# formula as the docstring: help(Tensor.tanh) shows "y = tanh x.    ∂L/∂x = g · (1 − y²).".
Tensor.__add__ = _binary_op(_ops.Add)
Tensor.__radd__ = _binary_op(_ops.Add, reflected=True)
Tensor.__sub__ = _binary_op(_ops.Sub)
Tensor.__rsub__ = _binary_op(_ops.Sub, reflected=True)
Tensor.__mul__ = _binary_op(_ops.Mul)
Tensor.__rmul__ = _binary_op(_ops.Mul, reflected=True)
Tensor.__truediv__ = _binary_op(_ops.Div)
Tensor.__rtruediv__ = _binary_op(_ops.Div, reflected=True)
Tensor.__matmul__ = _binary_op(_ops.MatMul)
Tensor.__rmatmul__ = _binary_op(_ops.MatMul, reflected=True)
Tensor.__neg__ = _unary_op(_ops.Neg)
Tensor.__abs__ = _unary_op(_ops.Abs)
Tensor.exp = _unary_op(_ops.Exp)
Tensor.log = _unary_op(_ops.Log)
Tensor.sqrt = _unary_op(_ops.Sqrt)
Tensor.sin = _unary_op(_ops.Sin)
Tensor.cos = _unary_op(_ops.Cos)
Tensor.tanh = _unary_op(_ops.Tanh)
Tensor.sigmoid = _unary_op(_ops.Sigmoid)
Tensor.relu = _unary_op(_ops.Relu)
Tensor.abs = Tensor.__abs__
_mul = Tensor.__mul__
