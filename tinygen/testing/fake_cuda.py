"""A NumPy-backed stand-in for CuPy, so the test suite can run "on the device" without a GPU.

With ``TINYGEN_FAKE_CUDA=1`` :mod:`tinygen.backend` backs the ``"cuda"`` device with this
module. Its :class:`ndarray` wraps a private NumPy array but is *not* a NumPy array, and it
refuses, the way CuPy does, everything that would silently move device data to the host or
mix host arrays into device computations:

* ``numpy.asarray(device_array)`` (and anything that calls it: ``np.testing``, Numba, ...)
  raises ``TypeError`` with CuPy's own message;
* a ``numpy.ndarray`` operand in an operator, a ufunc or any ``xp.*`` function raises
  ``TypeError("Unsupported type <class 'numpy.ndarray'> ...")`` naming both array types;
* ``device_array[...] = host_array`` raises CuPy's ``ValueError`` ("non-scalar numpy.ndarray
  cannot be used for fill"), sequences where CuPy wants an array raise ``TypeError``.

Everything explicit works: ``xp.asarray(host)`` (host -> device copy), ``arr.get()`` /
``xp.asnumpy(arr)`` / ``arr.set(host)``, Python and NumPy *scalars* as operands, and the
implicit synchronising conversions CuPy allows (``float()``, ``int()``, ``bool()`` of size-1
arrays, ``.item()``, ``.tolist()``, ``repr``/``format``).

Like CuPy, ``numpy`` functions applied to device arrays dispatch here through
``__array_ufunc__``/``__array_function__`` (``np.exp(d)`` is a device array), reductions and
scalar indexing return 0-d device arrays rather than NumPy scalars, ``ndarray`` has no
``__index__``, ufuncs accept only ``out``/``dtype``/``casting`` keywords (no ``where=``), and
``random.default_rng()`` generators only offer the methods CuPy's ``Generator`` implements.

This is a test device: results are computed by NumPy on the host, so they are bit-for-bit
NumPy's (including the legacy ``RandomState`` streams, which real CuPy does not reproduce).
"""
from __future__ import annotations

import functools
import hashlib
import math
import os
import sys
import time
import types

import numpy as _np

IS_FAKE_CUDA = True

_IMPLICIT_MSG = ("Implicit conversion to a NumPy array is not allowed. "
                 "Please use `.get()` to construct a NumPy array explicitly.")

# Operands CuPy accepts next to its arrays: Python scalars and NumPy scalars (not 0-d arrays).
_SCALAR_TYPES = (bool, int, float, complex, _np.generic)
_DEVICE_TYPE_NAME = "tinygen.testing.fake_cuda.ndarray"


def _mix_error(obj, where):
    return TypeError(
        f"Unsupported type {type(obj)}: {where} mixes a host numpy.ndarray with device arrays "
        f"({_DEVICE_TYPE_NAME}, standing in for cupy.ndarray). CuPy refuses implicit host/device "
        "transfers: copy it to the device with xp.asarray(...), or bring device data back "
        "explicitly with .get()")


def _unsupported(obj, where, hint=""):
    return TypeError(f"Unsupported type {type(obj)}: {where} accepts device arrays and scalars only"
                     + (f" ({hint})" if hint else ""))


# ---------------------------------------------------------------------------------------------
# wrapping / unwrapping
# ---------------------------------------------------------------------------------------------

def _wrap_np(a):
    """A device array around the NumPy array ``a`` (no copy)."""
    if type(a) is not _np.ndarray:
        a = _np.asarray(a)
    obj = object.__new__(ndarray)
    obj._a = a
    return obj


def _unwrap(x, where, seen, allow_host=False):
    """Replace device arrays (also inside lists/tuples) by their NumPy data; refuse host arrays.

    ``seen`` maps ``id(numpy data) -> device array`` so that a result which *is* an input's
    data (``out=``, ``astype(copy=False)``, ``asarray``) comes back as the same device object.
    """
    t = type(x)
    if t is ndarray:
        seen[id(x._a)] = x
        return x._a
    if t is list or t is tuple:
        if not x:
            return x
        items = [_unwrap(i, where, seen, allow_host) for i in x]
        return items if t is list else tuple(items)
    if isinstance(x, _np.ndarray):
        if allow_host:
            return x
        raise _mix_error(x, where)
    if isinstance(x, ndarray):  # a subclass
        seen[id(x._a)] = x
        return x._a
    return x


def _wrap(r, seen):
    t = type(r)
    if t is _np.ndarray:
        f = seen.get(id(r))
        if f is not None and f._a is r:
            return f
        return _wrap_np(r)
    if isinstance(r, (_np.number, _np.bool_)):
        return _wrap_np(_np.asarray(r))       # CuPy returns 0-d arrays, never NumPy scalars
    if t is tuple:
        return tuple(_wrap(i, seen) for i in r)
    if t is list:
        return [_wrap(i, seen) for i in r]
    if isinstance(r, tuple) and hasattr(r, "_fields"):  # namedtuple results (slogdet, eigh, ...)
        return t(*(_wrap(i, seen) for i in r))
    if isinstance(r, _np.ndarray):
        return _wrap_np(_np.asarray(r))
    return r


def _call(fn, args, kwargs, where, allow_host=False, seen=None):
    seen = {} if seen is None else seen
    uargs = [_unwrap(a, where, seen, allow_host) for a in args]
    ukw = {k: _unwrap(v, where, seen, allow_host) for k, v in kwargs.items()}
    return _wrap(fn(*uargs, **ukw), seen)


def _scalar_or_device(x, where):
    """Operand check for ufunc inputs: device arrays and scalars, nothing else."""
    if type(x) is ndarray or isinstance(x, ndarray):
        return x._a
    if isinstance(x, _SCALAR_TYPES):
        return x
    if isinstance(x, _np.ndarray):
        raise _mix_error(x, where)
    raise _unsupported(x, where, "wrap sequences with xp.asarray(...)")


# ---------------------------------------------------------------------------------------------
# the array type
# ---------------------------------------------------------------------------------------------

class _Flags:
    __slots__ = ("c_contiguous", "f_contiguous", "owndata")

    def __init__(self, a):
        self.c_contiguous = bool(a.flags.c_contiguous)
        self.f_contiguous = bool(a.flags.f_contiguous)
        self.owndata = bool(a.flags.owndata)

    def __getitem__(self, key):
        key = {"C": "C_CONTIGUOUS", "F": "F_CONTIGUOUS"}.get(key, key)
        return getattr(self, key.lower())

    def __repr__(self):
        return (f"  C_CONTIGUOUS : {self.c_contiguous}\n  F_CONTIGUOUS : {self.f_contiguous}\n"
                f"  OWNDATA : {self.owndata}")


class _MemoryPointer:
    """What ``cupy.ndarray.data`` gives: a device pointer (here the host address)."""
    __slots__ = ("ptr", "device")

    def __init__(self, ptr, device):
        self.ptr = ptr
        self.device = device

    @property
    def device_id(self):
        return self.device.id

    def __repr__(self):
        return f"<MemoryPointer 0x{self.ptr:x} device={self.device.id}>"


class ndarray:
    """Device array stand-in: holds a private NumPy array, behaves like ``cupy.ndarray``."""

    __slots__ = ("_a", "__weakref__")
    __array_priority__ = 100
    __hash__ = None

    def __init__(self, shape, dtype=float, memptr=None, strides=None, order="C"):
        if memptr is not None or strides is not None:
            raise NotImplementedError("fake_cuda.ndarray does not support memptr/strides")
        self._a = _np.empty(shape, dtype=dtype, order=order)
        _poison(self._a)

    # -- refusing implicit host conversion ------------------------------------------------
    def __array__(self, dtype=None, copy=None):
        raise TypeError(_IMPLICIT_MSG)

    def __array_ufunc__(self, ufunc, method, *inputs, **kwargs):
        out = kwargs.get("out")
        if out is not None:
            if len(out) != 1:
                raise ValueError("The 'out' parameter must have exactly one array value")
            kwargs["out"] = out[0]
            inout = inputs + tuple(out)
        else:
            inout = inputs
        if method != "at":
            for x in inout:
                if not isinstance(x, (ndarray, _np.ndarray) + _SCALAR_TYPES):
                    return NotImplemented
        try:
            wrapper = _get_ufunc(ufunc.__name__)
        except AttributeError:
            return NotImplemented
        if method == "__call__":
            if ufunc.__name__ in _COMPARISONS:
                # CuPy's workaround for numpy/numpy#12142: NumPy scalars compared with device
                # arrays arrive as 0-d host arrays, which are taken as Python scalars
                inputs = tuple(x.item() if isinstance(x, _np.ndarray) and x.ndim == 0 else x
                               for x in inputs)
            return wrapper(*inputs, **kwargs)
        return getattr(wrapper, method)(*inputs, **kwargs)

    def __array_function__(self, func, types, args, kwargs):
        for t in types:
            if not issubclass(t, (ndarray, _np.ndarray)):
                return NotImplemented
        target = _this
        for part in func.__module__.split(".")[1:]:
            if part in ("linalg", "fft"):
                target = getattr(target, part)
        try:
            impl = getattr(target, func.__name__)
        except AttributeError:
            return NotImplemented
        if impl is func:
            return NotImplemented
        return impl(*args, **kwargs)

    # -- CuPy specific: explicit transfers, device ----------------------------------------
    def get(self, stream=None, order="C", out=None, blocking=True):
        """A host ``numpy.ndarray`` copy (CuPy's explicit device -> host transfer)."""
        if out is not None:
            if not isinstance(out, _np.ndarray):
                raise TypeError("Only numpy.ndarray can be obtained from cupy.ndarray")
            if out.dtype != self._a.dtype:
                raise TypeError(f"{out.dtype} array cannot be obtained from {self._a.dtype} array")
            if out.shape != self._a.shape:
                raise ValueError(f"Shape mismatch. Expected shape: {self._a.shape}, "
                                 f"actual shape: {out.shape}")
            _np.copyto(out, self._a)
            return out
        order = order.upper()
        if order == "A":
            order = "F" if (self._a.flags.f_contiguous and not self._a.flags.c_contiguous) else "C"
        return _np.array(self._a, order=order, copy=True)

    def set(self, arr, stream=None):
        """Copy the host array ``arr`` into this device array (CuPy's explicit host -> device)."""
        if not isinstance(arr, _np.ndarray):
            raise TypeError("Only numpy.ndarray can be set to cupy.ndarray")
        if self._a.dtype != arr.dtype:
            raise TypeError(f"{arr.dtype} array cannot be set to {self._a.dtype} array")
        if self._a.shape != arr.shape:
            raise ValueError(f"Shape mismatch. Old shape: {self._a.shape}, new shape: {arr.shape}")
        self._a[...] = arr

    @property
    def device(self):
        return _DEVICE

    @property
    def data(self):
        return _MemoryPointer(self._a.ctypes.data, _DEVICE)

    # -- attributes --------------------------------------------------------------------------
    @property
    def shape(self):
        return self._a.shape

    @shape.setter
    def shape(self, value):
        new = self._a.reshape(value)
        if self._a.size and not _np.may_share_memory(new, self._a):
            raise AttributeError("Incompatible shape for in-place modification. "
                                 "Use `.reshape()` to make a copy with the desired shape.")
        self._a = new

    ndim = property(lambda self: self._a.ndim)
    size = property(lambda self: self._a.size)
    dtype = property(lambda self: self._a.dtype)
    itemsize = property(lambda self: self._a.itemsize)
    nbytes = property(lambda self: self._a.nbytes)
    strides = property(lambda self: self._a.strides)
    flags = property(lambda self: _Flags(self._a))
    T = property(lambda self: _wrap_np(self._a.T))
    mT = property(lambda self: _wrap_np(self._a.mT))

    @property
    def real(self):
        return _wrap(self._a.real, {id(self._a): self})

    @real.setter
    def real(self, value):
        self._a.real = _scalar_or_device(value, "ndarray.real")

    @property
    def imag(self):
        return _wrap_np(self._a.imag)

    @imag.setter
    def imag(self, value):
        self._a.imag = _scalar_or_device(value, "ndarray.imag")

    # -- methods needing CuPy semantics ------------------------------------------------------
    def item(self, *args):
        return self._a.item(*args)

    def tolist(self):
        return self._a.tolist()

    def fill(self, value):
        if type(value) is ndarray:
            self._a[...] = value._a
            return
        if isinstance(value, _np.ndarray):
            if value.shape != ():
                raise ValueError("non-scalar numpy.ndarray cannot be used for fill")
            value = value.item()
        if not isinstance(value, _SCALAR_TYPES):
            raise _unsupported(value, "ndarray.fill")
        self._a.fill(value)

    def dot(self, b, out=None):
        if not isinstance(b, ndarray):
            if isinstance(b, _np.ndarray):
                raise _mix_error(b, "ndarray.dot")
            raise TypeError(f"Argument 'b' has incorrect type (expected cupy.ndarray, got "
                            f"{type(b).__name__})")
        return _call(self._a.dot, (b,), {} if out is None else {"out": out}, "ndarray.dot",
                     seen={id(self._a): self})

    def astype(self, dtype, order="K", casting=None, subok=None, copy=True):
        kw = {} if casting is None else {"casting": casting}
        r = self._a.astype(dtype, order=order, copy=copy, **kw)
        return self if r is self._a else _wrap_np(r)

    def __copy__(self):
        return self.copy()

    def __deepcopy__(self, memo):
        return self.copy()

    def __reduce__(self):
        return array, (self.get(),)

    # -- container protocol ------------------------------------------------------------------
    def __len__(self):
        if self._a.ndim == 0:
            raise TypeError("len() of unsized object")
        return self._a.shape[0]

    def __iter__(self):
        if self._a.ndim == 0:
            raise TypeError("iteration over a 0-d array")
        return (self[i] for i in range(self._a.shape[0]))

    def __getitem__(self, key):
        k, _ = _index_key(key)
        return _wrap(self._a[k], {})

    def __setitem__(self, key, value):
        k, advanced = _index_key(key)
        t = type(value)
        if t is ndarray or isinstance(value, ndarray):
            value = value._a
        elif isinstance(value, _SCALAR_TYPES):
            pass
        elif isinstance(value, _np.ndarray):
            # CuPy: basic indexing goes through fill(), which refuses non-scalar host arrays;
            # advanced (integer/boolean array) indexing converts the value with cupy.array().
            if not advanced and value.ndim != 0:
                raise ValueError("non-scalar numpy.ndarray cannot be used for fill")
        elif t is list or t is tuple:
            if not advanced:
                raise _unsupported(value, "ndarray.__setitem__ (basic indexing fills)",
                                   "wrap the values with xp.asarray(...)")
            value = _unwrap(value, "ndarray.__setitem__", {}, allow_host=True)
        else:
            raise _unsupported(value, "ndarray.__setitem__")
        self._a[k] = value

    # -- conversions (CuPy allows these, synchronising) ---------------------------------------
    def __bool__(self):
        return bool(self._a)

    def __float__(self):
        return float(self._a)

    def __int__(self):
        return int(self._a)

    def __complex__(self):
        return complex(self._a)

    # no __index__: CuPy arrays cannot be used as Python indices / range() bounds

    def __repr__(self):
        return repr(self._a)

    def __str__(self):
        return str(self._a)

    def __format__(self, spec):
        return format(self._a, spec)

    # -- unary operators ------------------------------------------------------------------------
    def __neg__(self):
        return _wrap(_np.negative(self._a), {})

    def __pos__(self):
        return self

    def __abs__(self):
        return _wrap(_np.absolute(self._a), {})

    def __invert__(self):
        return _wrap(_np.invert(self._a), {})


def _binary_operand(other, self_where):
    t = type(other)
    if t is ndarray:
        return other._a
    if isinstance(other, _SCALAR_TYPES):
        return other
    if isinstance(other, ndarray):
        return other._a
    if isinstance(other, _np.ndarray):
        raise _mix_error(other, self_where)
    return NotImplemented  # let e.g. a Tensor's reflected operator run


def _def_binary(name, uf):
    where = f"operator {name}"

    def op(self, other):
        o = _binary_operand(other, where)
        if o is NotImplemented:
            return NotImplemented
        return _wrap(uf(self._a, o), {})

    def rop(self, other):
        o = _binary_operand(other, where)
        if o is NotImplemented:
            return NotImplemented
        return _wrap(uf(o, self._a), {})

    def iop(self, other):
        o = _binary_operand(other, where)
        if o is NotImplemented:
            raise _unsupported(other, f"in-place operator {name}")
        uf(self._a, o, out=self._a)
        return self

    op.__name__, rop.__name__, iop.__name__ = f"__{name}__", f"__r{name}__", f"__i{name}__"
    setattr(ndarray, op.__name__, op)
    setattr(ndarray, rop.__name__, rop)
    setattr(ndarray, iop.__name__, iop)


for _name, _uf in [("add", _np.add), ("sub", _np.subtract), ("mul", _np.multiply),
                   ("truediv", _np.true_divide), ("floordiv", _np.floor_divide),
                   ("mod", _np.remainder), ("pow", _np.power), ("matmul", _np.matmul),
                   ("and", _np.bitwise_and), ("or", _np.bitwise_or), ("xor", _np.bitwise_xor),
                   ("lshift", _np.left_shift), ("rshift", _np.right_shift)]:
    _def_binary(_name, _uf)


def _pow(self, other, modulo=None):
    o = _binary_operand(other, "operator pow")
    if o is NotImplemented:
        return NotImplemented
    return _wrap(_np.power(self._a, o), {})


ndarray.__pow__ = _pow


def _divmod(self, other):
    o = _binary_operand(other, "operator divmod")
    return NotImplemented if o is NotImplemented else _wrap(_np.divmod(self._a, o), {})


def _rdivmod(self, other):
    o = _binary_operand(other, "operator divmod")
    return NotImplemented if o is NotImplemented else _wrap(_np.divmod(o, self._a), {})


ndarray.__divmod__ = _divmod
ndarray.__rdivmod__ = _rdivmod


_COMPARISONS = {"less", "less_equal", "equal", "not_equal", "greater", "greater_equal"}


def _def_compare(name, uf):
    where = f"operator {name}"

    def cmp(self, other):
        if isinstance(other, _np.ndarray) and other.ndim == 0:
            other = other.item()   # as CuPy's __richcmp__ does (and only for comparisons)
        o = _binary_operand(other, where)
        if o is NotImplemented:
            return NotImplemented
        return _wrap(uf(self._a, o), {})

    cmp.__name__ = f"__{name}__"
    setattr(ndarray, cmp.__name__, cmp)


for _name, _uf in [("eq", _np.equal), ("ne", _np.not_equal), ("lt", _np.less),
                   ("le", _np.less_equal), ("gt", _np.greater), ("ge", _np.greater_equal)]:
    _def_compare(_name, _uf)


def _def_method(name):
    def method(self, *args, **kwargs):
        return _call(getattr(self._a, name), args, kwargs, f"ndarray.{name}",
                     seen={id(self._a): self})

    method.__name__ = name
    method.__qualname__ = f"ndarray.{name}"
    method.__doc__ = getattr(_np.ndarray, name).__doc__
    setattr(ndarray, name, method)


# Methods cupy.ndarray shares with numpy.ndarray (results wrapped, out= honoured).
for _name in ("all", "any", "argmax", "argmin", "argpartition", "argsort", "choose", "clip",
              "compress", "conj", "conjugate", "copy", "cumprod", "cumsum", "diagonal",
              "flatten", "max", "mean", "min", "nonzero", "partition", "prod", "put", "ravel",
              "repeat", "reshape", "round", "sort", "squeeze", "std", "sum", "swapaxes", "take",
              "trace", "transpose", "var", "view"):
    _def_method(_name)


def _index_item(k):
    """(NumPy index, is_advanced) for one component of an index."""
    t = type(k)
    if t is ndarray:
        return k._a, True
    if k is None or k is Ellipsis or t is slice:
        return k, False
    if t is bool or t is _np.bool_:
        return k, True
    if isinstance(k, (int, _np.integer)):
        return k, False
    if t is list:
        # lists may hold device scalars/arrays; CuPy turns them into an index array
        return _unwrap(k, "indexing", {}, allow_host=True), True
    if isinstance(k, _np.ndarray):
        # CuPy converts host index arrays to device arrays (an implicit, but documented, copy)
        return k, True
    if isinstance(k, ndarray):
        return k._a, True
    return k, False


def _index_key(key):
    if type(key) is tuple:
        items = [_index_item(k) for k in key]
        return tuple(i for i, _ in items), any(adv for _, adv in items)
    return _index_item(key)


def _poison(a):
    """Fill "uninitialised" memory with NaN where possible, to catch reads of empty() data."""
    if a.dtype.kind in "fc":
        a.fill(_np.nan)


# ---------------------------------------------------------------------------------------------
# ufuncs
# ---------------------------------------------------------------------------------------------

class ufunc:
    """A CuPy-like ufunc around a NumPy ufunc: device arrays and scalars in, device arrays out.

    Like CuPy, the only keywords are ``out``, ``dtype`` and ``casting`` (no ``where=``).
    """

    def __init__(self, npufunc):
        self._u = npufunc
        self.__name__ = npufunc.__name__
        self.__doc__ = npufunc.__doc__

    nin = property(lambda self: self._u.nin)
    nout = property(lambda self: self._u.nout)
    nargs = property(lambda self: self._u.nargs)
    types = property(lambda self: self._u.types)
    ntypes = property(lambda self: self._u.ntypes)
    identity = property(lambda self: self._u.identity)

    def __repr__(self):
        return f"<ufunc '{self.__name__}'>"

    def __call__(self, *args, out=None, dtype=None, casting="same_kind", **kwargs):
        where = f"fake_cuda.{self.__name__}()"
        if kwargs:
            raise TypeError(f"Wrong arguments {kwargs}")
        nin = self._u.nin
        if len(args) < nin:
            raise TypeError(f"Wrong number of arguments for {self.__name__!r}. "
                            f"It must be either {nin} or {self._u.nargs} (with outputs), "
                            f"but given {len(args)}.")
        seen = {}
        inputs = [_scalar_or_device(a, where) for a in args[:nin]]
        outs = list(args[nin:])
        if out is not None:
            if outs:
                raise ValueError("cannot specify 'out' as both a positional and keyword argument")
            outs = list(out) if isinstance(out, tuple) else [out]
        uouts = []
        for o in outs:
            if not isinstance(o, ndarray):
                if isinstance(o, _np.ndarray):
                    raise _mix_error(o, where)
                raise _unsupported(o, f"{where} out=")
            seen[id(o._a)] = o
            uouts.append(o._a)
        kw = {"casting": casting}
        if dtype is not None:
            kw["dtype"] = dtype
        if uouts:
            kw["out"] = tuple(uouts)
        r = self._u(*inputs, **kw)
        if uouts and self._u.nout == 1 and not isinstance(r, tuple):
            return seen[id(uouts[0])]
        return _wrap(r, seen)

    def _require_device(self, a, method):
        if not isinstance(a, ndarray):
            if isinstance(a, _np.ndarray):
                raise _mix_error(a, f"fake_cuda.{self.__name__}.{method}()")
            raise _unsupported(a, f"fake_cuda.{self.__name__}.{method}()")

    def reduce(self, array, *args, **kwargs):
        self._require_device(array, "reduce")
        return _call(self._u.reduce, (array,) + args, kwargs, f"{self.__name__}.reduce()")

    def accumulate(self, array, *args, **kwargs):
        self._require_device(array, "accumulate")
        return _call(self._u.accumulate, (array,) + args, kwargs, f"{self.__name__}.accumulate()")

    def reduceat(self, array, indices, *args, **kwargs):
        self._require_device(array, "reduceat")
        return _call(self._u.reduceat, (array, indices) + args, kwargs,
                     f"{self.__name__}.reduceat()")

    def outer(self, A, B, **kwargs):
        where = f"fake_cuda.{self.__name__}.outer()"
        return _call(self._u.outer, (A, B), kwargs, where)

    def at(self, a, indices, b=None):
        """Unbuffered in-place operation (``cupy.add.at`` etc.); ``a`` must be a device array."""
        self._require_device(a, "at")
        idx, _ = _index_key(indices)
        if b is None:
            self._u.at(a._a, idx)
            return
        if isinstance(b, ndarray):
            b = b._a
        elif not isinstance(b, _SCALAR_TYPES + (_np.ndarray, list, tuple)):
            raise _unsupported(b, f"fake_cuda.{self.__name__}.at()")
        self._u.at(a._a, idx, b)


_UFUNCS: dict = {}


def _get_ufunc(name):
    w = _UFUNCS.get(name)
    if w is None:
        u = getattr(_np, name)
        if not isinstance(u, _np.ufunc):
            raise AttributeError(name)
        w = _UFUNCS[name] = ufunc(u)
    return w


# ---------------------------------------------------------------------------------------------
# functions of the namespace (explicit ones first, the rest through __getattr__)
# ---------------------------------------------------------------------------------------------

def asarray(a, dtype=None, order=None, *, blocking=False):
    """Device array from ``a``: the same object for a matching device array, else a copy.

    A ``numpy.ndarray`` (or lists of them) is an explicit host -> device transfer.
    """
    if isinstance(a, ndarray):
        r = _np.asarray(a._a, dtype=dtype, order=order)
        return a if r is a._a else _wrap_np(r)
    host = _unwrap(a, "asarray()", {}, allow_host=True)
    return _wrap_np(_np.array(host, dtype=dtype, order=order or "K", copy=True))


asanyarray = asarray


def array(obj, dtype=None, copy=True, order="K", subok=False, ndmin=0, *, blocking=False):
    """``cupy.array``: always a new device array for host data; copies device data unless told."""
    if isinstance(obj, ndarray):
        r = _np.array(obj._a, dtype=dtype, copy=copy, order=order, ndmin=ndmin)
        return obj if r is obj._a else _wrap_np(r)
    host = _unwrap(obj, "array()", {}, allow_host=True)
    return _wrap_np(_np.array(host, dtype=dtype, copy=True, order=order, ndmin=ndmin))


def asnumpy(a, stream=None, order="C", out=None, *, blocking=True):
    """A host NumPy array: explicit device -> host copy for device arrays."""
    if isinstance(a, ndarray):
        return a.get(stream=stream, order=order, out=out)
    r = _np.asarray(a, order=order)
    if out is not None:
        out[...] = r
        return out
    return r


def get_array_module(*args):
    for a in args:
        if isinstance(a, ndarray):
            return _this
    return _np


def fuse(*args, **kwargs):
    """``cupy.fuse`` stand-in: the function runs unfused."""
    if len(args) == 1 and callable(args[0]) and not kwargs:
        return args[0]
    return lambda f: f


def is_available():
    return True


def save(file, arr, allow_pickle=None):
    _np.save(file, asnumpy(arr), **({} if allow_pickle is None else {"allow_pickle": allow_pickle}))


def savez(file, *args, **kwds):
    _np.savez(file, *[asnumpy(a) for a in args], **{k: asnumpy(v) for k, v in kwds.items()})


def savez_compressed(file, *args, **kwds):
    _np.savez_compressed(file, *[asnumpy(a) for a in args],
                         **{k: asnumpy(v) for k, v in kwds.items()})


class _NpzFile:
    def __init__(self, npz):
        self.npz = npz

    def __getitem__(self, key):
        return asarray(self.npz[key])

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    def close(self):
        self.npz.close()

    @property
    def files(self):
        return self.npz.files


def load(file, mmap_mode=None, allow_pickle=None):
    kw = {} if allow_pickle is None else {"allow_pickle": allow_pickle}
    r = _np.load(file, mmap_mode=mmap_mode, **kw)
    if isinstance(r, _np.ndarray):
        return asarray(r)
    if hasattr(r, "files"):
        return _NpzFile(r)
    return r


class _MemoryPool:
    def used_bytes(self):
        return 0

    def total_bytes(self):
        return 0

    def free_bytes(self):
        return 0

    def n_free_blocks(self):
        return 0

    def free_all_blocks(self, stream=None):
        pass

    def set_limit(self, size=None, fraction=None):
        pass

    def get_limit(self):
        return 0


_MEMPOOL = _MemoryPool()
_PINNED_MEMPOOL = _MemoryPool()


def get_default_memory_pool():
    return _MEMPOOL


def get_default_pinned_memory_pool():
    return _PINNED_MEMPOOL


# numpy names CuPy does not provide (keep code that needs them off the device path)
_DENY = {
    "errstate": "CuPy has no errstate (cupyx.errstate only covers linalg); guard the values instead",
    "seterr": "CuPy has no seterr", "geterr": "CuPy has no geterr",
    "seterrcall": "CuPy has no seterrcall", "geterrcall": "CuPy has no geterrcall",
    "frompyfunc": "Python-level ufuncs cannot run on the device",
    "vectorize": "cupy.vectorize JIT-compiles a restricted Python subset; not emulated",
    "nditer": "CuPy has no nditer", "nested_iters": "CuPy has no nested_iters",
    "set_printoptions": "use numpy.set_printoptions", "get_printoptions": "use numpy",
    "printoptions": "use numpy.printoptions", "memmap": "CuPy has no memmap",
    "fromiter": "build on the host and xp.asarray(...) it",
}

# functions whose first argument is legitimately a sequence, a shape or not an array at all
_SEQ_FIRST = {
    "array", "asarray", "asanyarray", "zeros", "ones", "empty", "full", "concatenate", "concat",
    "stack", "vstack", "hstack", "dstack", "column_stack", "row_stack", "block", "einsum",
    "einsum_path", "result_type", "can_cast", "promote_types", "min_scalar_type", "common_type",
    "indices", "ravel_multi_index", "broadcast_shapes", "ix_", "select", "lexsort", "isscalar",
    "ndim", "shape", "size", "iterable", "fromfunction", "frombuffer", "fromstring", "issubdtype",
    "isdtype", "dtype", "arange", "linspace", "logspace", "geomspace", "eye", "identity", "tri",
    "multi_dot", "fftfreq", "rfftfreq", "mask_indices", "tril_indices", "triu_indices",
    "diag_indices", "broadcast_arrays", "meshgrid", "atleast_1d", "atleast_2d", "atleast_3d",
    "apply_along_axis", "apply_over_axes", "piecewise",
}
_EMPTY_FUNCS = {"empty", "empty_like"}
# NumPy returns Python scalars here, CuPy 0-d device arrays
_ARRAY_RESULT = {"allclose", "array_equal", "array_equiv", "count_nonzero"}


def _make_function(npfn, name, qual):
    where = f"{qual}.{name}()"
    seq_ok = name in _SEQ_FIRST
    poison = name in _EMPTY_FUNCS
    as_array = name in _ARRAY_RESULT

    @functools.wraps(npfn)
    def f(*args, **kwargs):
        if args and not seq_ok and type(args[0]) in (list, tuple):
            raise _unsupported(args[0], where,
                               "CuPy functions take device arrays, not Python sequences: "
                               "wrap it with xp.asarray(...)")
        r = _call(npfn, args, kwargs, where)
        if poison:
            _poison(r._a)
        elif as_array and isinstance(r, (bool, int)):
            r = _wrap_np(_np.asarray(r))
        return r

    f.__module__ = qual
    return f


def _resolve(name, npmod, qual, module):
    if name.startswith("_"):
        raise AttributeError(f"module {qual!r} has no attribute {name!r}")
    if name in _DENY and _DENY[name] is not None:
        raise AttributeError(f"module {qual!r} (CuPy stand-in) has no attribute {name!r}: "
                             f"{_DENY[name]}")
    try:
        obj = getattr(npmod, name)
    except AttributeError:
        raise AttributeError(f"module {qual!r} (CuPy stand-in) has no attribute {name!r}") from None
    if isinstance(obj, _np.ufunc):
        return _get_ufunc(name) if npmod is _np else ufunc(obj)
    if isinstance(obj, type):
        return obj          # dtypes, finfo/iinfo, abstract scalar types, exceptions
    if isinstance(obj, types.ModuleType):
        raise AttributeError(f"module {qual!r} (CuPy stand-in) has no submodule {name!r}")
    if callable(obj):
        return _make_function(obj, name, qual)
    return obj              # constants


def _module_getattr(module, npmod, qual, name):
    obj = _resolve(name, npmod, qual, module)
    module.__dict__[name] = obj      # resolve once
    return obj


def __getattr__(name):
    return _module_getattr(_this, _np, __name__, name)


def __dir__():
    names = set(globals()) | {n for n in dir(_np) if not n.startswith("_")}
    return sorted(names - {n for n, why in _DENY.items() if why is not None})


# constants and dtypes (what cupy re-exports from numpy)
newaxis = None
pi = _np.pi
e = _np.e
inf = _np.inf
nan = _np.nan
euler_gamma = _np.euler_gamma
dtype = _np.dtype
finfo = _np.finfo
iinfo = _np.iinfo
bool_ = _np.bool_
int8, int16, int32, int64 = _np.int8, _np.int16, _np.int32, _np.int64
uint8, uint16, uint32, uint64 = _np.uint8, _np.uint16, _np.uint32, _np.uint64
float16, float32, float64 = _np.float16, _np.float32, _np.float64
complex64, complex128 = _np.complex64, _np.complex128
intp, uintp = _np.intp, _np.uintp
int_ = _np.int_
generic, number, integer, floating, complexfloating = (_np.generic, _np.number, _np.integer,
                                                       _np.floating, _np.complexfloating)
signedinteger, unsignedinteger, inexact = _np.signedinteger, _np.unsignedinteger, _np.inexact


# ---------------------------------------------------------------------------------------------
# submodules
# ---------------------------------------------------------------------------------------------

def _submodule(name, doc):
    mod = types.ModuleType(f"{__name__}.{name}", doc)
    sys.modules[mod.__name__] = mod
    return mod


linalg = _submodule("linalg", "numpy.linalg on device arrays (cupy.linalg stand-in)")
linalg.__getattr__ = functools.partial(_module_getattr, linalg, _np.linalg, linalg.__name__)
linalg.LinAlgError = _np.linalg.LinAlgError

fft = _submodule("fft", "numpy.fft on device arrays (cupy.fft stand-in)")
fft.__getattr__ = functools.partial(_module_getattr, fft, _np.fft, fft.__name__)


# -- special (cupyx.scipy.special stand-in) -----------------------------------------------------

def _lgamma(x):
    try:
        return math.lgamma(x)
    except (ValueError, OverflowError):
        return math.inf


def _make_special(name, pyfn):
    elementwise = _np.frompyfunc(pyfn, 1, 1)
    where = f"special.{name}()"

    def f(x, out=None):
        a = _np.asarray(_scalar_or_device(x, where))
        if a.dtype.kind == "c":
            raise TypeError(f"{where} does not support complex input")
        rdt = a.dtype if a.dtype.kind == "f" and a.dtype.itemsize >= 4 else (
            _np.dtype(_np.float32) if a.dtype == _np.float16 else _np.dtype(_np.float64))
        r = _np.asarray(elementwise(a.astype(_np.float64)), dtype=_np.float64).astype(rdt)
        if out is not None:
            if not isinstance(out, ndarray):
                raise _unsupported(out, f"{where} out=")
            out._a[...] = r
            return out
        return _wrap_np(r)

    f.__name__ = name
    f.__doc__ = f"Elementwise ``{name}`` on device arrays (cupyx.scipy.special.{name} stand-in)."
    return f


special = _submodule("special", "cupyx.scipy.special stand-in (exact, elementwise via math)")
special.erf = _make_special("erf", math.erf)
special.erfc = _make_special("erfc", math.erfc)
special.gammaln = _make_special("gammaln", _lgamma)
special.ndtr = _make_special("ndtr", lambda x: 0.5 * math.erfc(-x / math.sqrt(2.0)))


def _expit(x):
    if x >= 0:
        return 1.0 / (1.0 + math.exp(-x))
    z = math.exp(x)
    return z / (1.0 + z)


def _logit(p):
    if p == 0.0:
        return -math.inf
    if p == 1.0:
        return math.inf
    if not 0.0 < p < 1.0:
        return math.nan
    return math.log(p / (1.0 - p))


special.expit = _make_special("expit", _expit)
special.logit = _make_special("logit", _logit)


# -- testing (cupy.testing stand-in) -------------------------------------------------------------

testing = _submodule("testing", "cupy.testing stand-in: NumPy assertions taking device or host arrays")


def _host(x):
    return x.get() if isinstance(x, ndarray) else x


def _make_assert(name):
    npfn = getattr(_np.testing, name)

    @functools.wraps(npfn)
    def f(actual, desired, *args, **kwargs):
        return npfn(_host(actual), _host(desired), *args, **kwargs)

    return f


for _name in ("assert_allclose", "assert_array_equal", "assert_array_almost_equal",
              "assert_array_less", "assert_array_max_ulp", "assert_array_almost_equal_nulp"):
    setattr(testing, _name, _make_assert(_name))


# -- cuda (cupy.cuda stand-in) -------------------------------------------------------------------

cuda = _submodule("cuda", "cupy.cuda stand-in: one device, synchronous no-op streams and events")


class _Device:
    """The single fake CUDA device (id 0)."""
    compute_capability = "90"

    def __init__(self, device=None):
        device = 0 if device is None else int(device)
        if device != 0:
            raise RuntimeError(f"cudaErrorInvalidDevice: invalid device ordinal ({device}); "
                               "the fake CUDA backend has exactly one device")
        self.id = 0

    def use(self):
        pass

    def synchronize(self):
        pass

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        return False

    def __int__(self):
        return self.id

    def __eq__(self, other):
        return isinstance(other, _Device) and other.id == self.id

    def __hash__(self):
        return hash(("fake_cuda.Device", self.id))

    @property
    def mem_info(self):
        total = 16 << 30
        return total, total

    def __repr__(self):
        return f"<CUDA Device {self.id}>"


_DEVICE = _Device(0)


class _Event:
    def __init__(self, block=False, disable_timing=False, interprocess=False):
        self._t = None
        self.disable_timing = disable_timing

    def record(self, stream=None):
        self._t = time.perf_counter()

    def synchronize(self):
        pass

    @property
    def done(self):
        return True


class _Stream:
    null = None  # set below

    def __init__(self, null=False, non_blocking=False, ptds=False):
        self.ptr = 0 if null else id(self)

    def synchronize(self):
        pass

    def use(self):
        return self

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        return False

    def record(self, event=None):
        event = _Event() if event is None else event
        event.record(self)
        return event

    def wait_event(self, event):
        pass

    @property
    def done(self):
        return True


_Stream.null = _Stream(null=True)


def _get_elapsed_time(start_event, end_event):
    """Milliseconds between two recorded events."""
    if start_event._t is None or end_event._t is None:
        raise RuntimeError("cudaErrorInvalidResourceHandle: event not recorded")
    return (end_event._t - start_event._t) * 1000.0


runtime = types.ModuleType(f"{cuda.__name__}.runtime", "cupy.cuda.runtime stand-in")
sys.modules[runtime.__name__] = runtime
runtime.getDeviceCount = lambda: 1
runtime.getDevice = lambda: 0
runtime.setDevice = lambda device: _Device(device) and None
runtime.deviceSynchronize = lambda: None
runtime.memGetInfo = lambda: _DEVICE.mem_info
runtime.runtimeGetVersion = lambda: 12000
runtime.driverGetVersion = lambda: 12000
runtime.is_hip = False
runtime.getDeviceProperties = lambda device: {
    "name": b"tinygen fake CUDA device", "totalGlobalMem": _DEVICE.mem_info[1],
    "major": 9, "minor": 0, "multiProcessorCount": 1}

cuda.Device = _Device
cuda.Stream = _Stream
cuda.Event = _Event
cuda.runtime = runtime
cuda.get_elapsed_time = _get_elapsed_time
cuda.get_current_stream = lambda device=None: _Stream.null
cuda.get_device_id = lambda: 0
cuda.is_available = lambda: True
cuda.get_default_memory_pool = get_default_memory_pool
cuda.MemoryPointer = _MemoryPointer


# -- random (cupy.random stand-in) -------------------------------------------------------------

random = _submodule("random", "cupy.random stand-in: NumPy generators, device-array results")


def _rnd_param(x, where):
    t = type(x)
    if t is ndarray or isinstance(x, ndarray):
        return x._a
    if isinstance(x, _np.ndarray):
        raise _mix_error(x, where)
    if t is list or t is tuple:
        return _unwrap(x, where, {})
    return x


def _np_seed(seed):
    if seed is None:
        return None
    if isinstance(seed, _np.ndarray):          # CuPy hashes array seeds
        seed = int(hashlib.md5(seed).hexdigest()[:16], 16)
    seed = int(seed)
    if seed < 0:
        raise ValueError("Seed must be between 0 and 2**64 - 1")
    if seed < 2 ** 32:
        return seed
    return _np.array([seed & 0xFFFFFFFF, seed >> 32], dtype=_np.uint32)


def _check_float_dtype(dtype):
    dt = _np.dtype(dtype)
    if dt.char not in ("f", "d"):
        raise TypeError("cupy.random only supports float32 and float64")
    return dt


class _RandomState:
    """``cupy.random.RandomState``: NumPy's legacy generator, device results, ``dtype=`` args."""

    def __init__(self, seed=None, method=100):
        self.method = method
        self.seed(seed)

    def seed(self, seed=None):
        self._rs = _np.random.RandomState(_np_seed(seed))

    def _out(self, r, dtype):
        return _wrap_np(_np.asarray(r).astype(dtype, copy=False))

    def rand(self, *size, **kwarg):
        dtype = kwarg.pop("dtype", float)
        if kwarg:
            raise TypeError("rand() got unexpected keyword arguments %s" % ", ".join(kwarg))
        return self.random_sample(size=size, dtype=dtype)

    def randn(self, *size, **kwarg):
        dtype = kwarg.pop("dtype", float)
        if kwarg:
            raise TypeError("randn() got unexpected keyword arguments %s" % ", ".join(kwarg))
        return self.normal(size=size, dtype=dtype)

    def randint(self, low, high=None, size=None, dtype=int):
        low = int(low)
        high = None if high is None else int(high)
        return self._out(self._rs.randint(low, high, size=size, dtype=dtype), dtype)

    def random_integers(self, low, high=None, size=None):
        if high is None:
            low, high = 1, low
        return self.randint(low, int(high) + 1, size)

    def choice(self, a, size=None, replace=True, p=None):
        if a is None:
            raise ValueError("a must be 1-dimensional or an integer")
        if isinstance(a, ndarray) and a.ndim == 0:
            raise NotImplementedError("cupy.random.choice does not take a 0-d array")
        if size is None:
            raise NotImplementedError("cupy.random.choice needs an explicit size (as in CuPy)")
        a = _rnd_param(a, "random.choice()")
        p = None if p is None else _rnd_param(p, "random.choice()")
        return self._out(self._rs.choice(a, size=size, replace=replace, p=p),
                         _np.asarray(a).dtype if not isinstance(a, int) else _np.int64)

    def shuffle(self, a):
        if not isinstance(a, ndarray):
            raise TypeError("The array must be cupy.ndarray")
        if a.ndim == 0:
            raise TypeError("An array whose ndim is 0 is not supported")
        self._rs.shuffle(a._a)

    def permutation(self, a):
        if isinstance(a, (int, _np.integer)):
            return _wrap_np(self._rs.permutation(int(a)).astype(_np.int32))  # CuPy: int32
        if not isinstance(a, ndarray):
            if isinstance(a, _np.ndarray):
                raise _mix_error(a, "random.permutation()")
            raise _unsupported(a, "random.permutation()")
        return a[_wrap_np(self._rs.permutation(len(a)).astype(_np.int32))]

    def multivariate_normal(self, mean, cov, size=None, check_valid="ignore", tol=1e-08,
                            method="cholesky", dtype=float):
        where = "random.multivariate_normal()"
        r = self._rs.multivariate_normal(_rnd_param(mean, where), _rnd_param(cov, where),
                                         size=size, check_valid=check_valid, tol=tol)
        return self._out(r, dtype)

    def multinomial(self, n, pvals, size=None):
        r = self._rs.multinomial(n, _rnd_param(pvals, "random.multinomial()"), size=size)
        return self._out(r, _np.int64)


# name -> (number of NumPy positional parameters, default dtype, float32/64 only)
_RS_METHODS = {
    "beta": (3, float, False), "binomial": (3, int, False), "chisquare": (2, float, False),
    "dirichlet": (2, float, False), "exponential": (2, float, False), "f": (3, float, False),
    "gamma": (3, float, False), "geometric": (2, int, False), "gumbel": (3, float, False),
    "hypergeometric": (4, int, False), "laplace": (3, float, False),
    "logistic": (3, float, False), "lognormal": (3, float, True), "logseries": (2, int, False),
    "negative_binomial": (3, int, False), "noncentral_chisquare": (3, float, False),
    "noncentral_f": (4, float, False), "normal": (3, float, True), "pareto": (2, float, False),
    "poisson": (2, int, False), "power": (2, float, False), "rayleigh": (2, float, False),
    "standard_cauchy": (1, float, False), "standard_exponential": (1, float, False),
    "standard_gamma": (2, float, False), "standard_normal": (1, float, True),
    "standard_t": (2, float, False), "triangular": (4, float, False),
    "uniform": (3, float, True), "vonmises": (3, float, False), "wald": (3, float, False),
    "weibull": (2, float, False), "zipf": (2, int, False), "random_sample": (1, float, True),
}


def _make_rs_method(name, nparams, default_dtype, float_only):
    where = f"random.{name}()"

    def method(self, *args, **kwargs):
        dtype = kwargs.pop("dtype", default_dtype)
        if len(args) == nparams + 1:      # CuPy takes dtype positionally after size
            dtype, args = args[-1], args[:-1]
        dt = _check_float_dtype(dtype) if float_only else _np.dtype(dtype)
        uargs = [_rnd_param(a, where) for a in args]
        ukw = {k: _rnd_param(v, where) for k, v in kwargs.items()}
        return self._out(getattr(self._rs, name)(*uargs, **ukw), dt)

    method.__name__ = name
    method.__qualname__ = f"RandomState.{name}"
    return method


for _name, (_n, _dt, _fo) in _RS_METHODS.items():
    setattr(_RandomState, _name, _make_rs_method(_name, _n, _dt, _fo))


class _BitGenerator:
    """Stand-in for CuPy's cuRAND bit generators (backed by NumPy's PCG64)."""

    def __init__(self, seed=None):
        if isinstance(seed, ndarray):
            raise TypeError("seed must be an int or None")
        self._np_bitgen = _np.random.PCG64(seed)

    def random_raw(self, size=None, output=True):
        r = self._np_bitgen.random_raw(size, output)
        return None if r is None else _wrap_np(_np.asarray(r))


class _XORWOW(_BitGenerator):
    pass


class _MRG32k3a(_BitGenerator):
    pass


class _Philox4x3210(_BitGenerator):
    pass


class _Generator:
    """``cupy.random.Generator``: only the methods CuPy implements.

    CuPy's Generator has no ``normal``, ``uniform``, ``choice``, ``permutation``, ``shuffle``,
    ``binomial``...: use ``standard_normal() * scale + loc``, ``random() * (b - a) + a``, or the
    legacy ``xp.random.RandomState`` / module-level functions, which have them.
    """

    _METHODS = ("random", "integers", "standard_normal", "standard_exponential", "exponential",
                "poisson", "beta", "gamma", "standard_gamma")

    def __init__(self, bit_generator):
        if not isinstance(bit_generator, _BitGenerator):
            raise TypeError("bit_generator must be a cupy.random.BitGenerator")
        self.bit_generator = bit_generator
        self._g = _np.random.Generator(bit_generator._np_bitgen)

    def __getattr__(self, name):
        if not name.startswith("_") and hasattr(_np.random.Generator, name):
            raise AttributeError(
                f"'Generator' object has no attribute {name!r}: CuPy's Generator only implements "
                f"{', '.join(self._METHODS)}. Use standard_normal()*scale+loc / random()*(b-a)+a, "
                "or xp.random.RandomState and the module-level xp.random functions")
        raise AttributeError(f"'Generator' object has no attribute {name!r}")

    @staticmethod
    def _finish(r, dtype, out):
        r = _np.asarray(r).astype(dtype, copy=False)
        if out is None:
            return _wrap_np(r)
        if not isinstance(out, ndarray):
            raise _unsupported(out, "Generator out=")
        if out.dtype != r.dtype:
            raise TypeError(f"Supplied output array has the wrong type. Expected {r.dtype.name}, "
                            f"got {out.dtype.name}")
        out._a[...] = r
        return out

    @staticmethod
    def _size(size, out):
        return out.shape if (size is None and out is not None) else size

    def random(self, size=None, dtype=_np.float64, out=None):
        dt = _check_float_dtype(dtype)
        return self._finish(self._g.random(self._size(size, out), dtype=dt), dt, out)

    def integers(self, low, high=None, size=None, dtype=_np.int64, endpoint=False):
        low = int(low)
        high = None if high is None else int(high)
        return self._finish(self._g.integers(low, high, size=size, dtype=dtype,
                                             endpoint=endpoint), dtype, None)

    def standard_normal(self, size=None, dtype=_np.float64, out=None):
        dt = _np.dtype(dtype)
        if dt.char not in ("f", "d"):
            raise TypeError(f"Unsupported dtype {dt.name} for standard_normal")
        return self._finish(self._g.standard_normal(self._size(size, out), dtype=dt), dt, out)

    def standard_exponential(self, size=None, dtype=_np.float64, method="inv", out=None):
        if method == "zig":
            raise NotImplementedError("Ziggurat method is not supported")
        dt = _check_float_dtype(dtype)
        r = self._g.standard_exponential(self._size(size, out), dtype=dt, method="inv")
        return self._finish(r, dt, out)

    def exponential(self, scale=1.0, size=None):
        return self.standard_exponential(size) * scale

    def poisson(self, lam=1.0, size=None):
        return self._finish(self._g.poisson(float(lam), size), _np.int64, None)

    def beta(self, a, b, size=None, dtype=_np.float64):
        return self._finish(self._g.beta(float(a), float(b), size), dtype, None)

    def gamma(self, shape, scale=1.0, size=None):
        y = self.standard_gamma(shape, size)
        y *= scale
        return y

    def standard_gamma(self, shape, size=None, dtype=_np.float64, out=None):
        dt = _check_float_dtype(dtype)
        if not isinstance(shape, (ndarray, float, int)):
            raise ValueError("shape is required to be a cupy.ndarray or a scalar")
        shape = _rnd_param(shape, "Generator.standard_gamma()")
        r = self._g.standard_gamma(shape, self._size(size, out))
        return self._finish(r, dt, out)


def _default_rng(seed=None):
    if isinstance(seed, _Generator):
        return seed
    if isinstance(seed, _BitGenerator):
        return _Generator(seed)
    return _Generator(_XORWOW(seed))


_random_state = None


def _get_random_state():
    global _random_state
    if _random_state is None:
        env = os.getenv("CUPY_SEED")
        _random_state = _RandomState(None if env is None else int(env))
    return _random_state


def _set_random_state(rs):
    global _random_state
    if not isinstance(rs, _RandomState):
        raise TypeError(f"Random state must be an instance of RandomState. Actual: {type(rs)}")
    _random_state = rs


def _reset_states():
    global _random_state
    _random_state = None


def _seed(seed=None):
    _get_random_state().seed(seed)


def _global(name):
    def f(*args, **kwargs):
        return getattr(_get_random_state(), name)(*args, **kwargs)

    f.__name__ = name
    f.__qualname__ = name
    f.__module__ = random.__name__
    return f


for _name in list(_RS_METHODS) + ["rand", "randn", "randint", "random_integers", "choice",
                                  "shuffle", "permutation", "multivariate_normal", "multinomial"]:
    setattr(random, _name, _global(_name))
random.random = random.ranf = random.sample = _global("random_sample")
random.seed = _seed
random.bytes = _np.random.bytes
random.RandomState = _RandomState
random.Generator = _Generator
random.BitGenerator = _BitGenerator
random.XORWOW = _XORWOW
random.MRG32k3a = _MRG32k3a
random.Philox4x3210 = _Philox4x3210
random.default_rng = _default_rng
random.get_random_state = _get_random_state
random.set_random_state = _set_random_state
random.reset_states = _reset_states

_this = sys.modules[__name__]

del _name, _uf, _n, _dt, _fo
