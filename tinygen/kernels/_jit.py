"""Lazy Numba compilation, the fused/NumPy switch, dispatch, and the kernel status table.

Nothing here imports Numba at import time: ``import tinygen.kernels`` costs a few
milliseconds. Kernels are ordinary Python functions decorated with :func:`kernel` (or
:func:`helper` for scalar device functions they call); the decorator records them, and the
first call compiles them with ``numba.njit(cache=True)``, timing the compile (or the load from
Numba's on-disk cache) so that :func:`kernel_status` can report it.

Kernel sources use ``prange`` from this module. Outside Numba it is plain ``range``; when a
kernel is compiled, ``prange`` and every :func:`helper` it names are swapped for their Numba
counterparts in a private copy of the kernel's globals (the module itself is not modified).

Which implementation runs (:func:`select_impl`):

* NumPy arrays, Numba importable, fused kernels enabled  ->  ``"numba"``
* CuPy arrays, fused kernels enabled                      ->  ``"cupy"`` (ElementwiseKernel/RawKernel)
* the test stand-in device (``xp.IS_FAKE_CUDA``)          ->  ``"reference"`` with that ``xp``
* anything else (disabled, no Numba, other dtypes)        ->  ``"reference"``

Fused kernels are on by default; ``TINYGEN_KERNELS=numpy`` (or ``reference``/``off``/``0``) in
the environment turns them off, and :func:`use_fused` switches them at run time.
"""
from __future__ import annotations

import hashlib
import os
import threading
import time
import types

import numpy

from .. import parallel as _parallel
from ..backend import get_array_module

prange = range            # replaced by numba.prange in compiled kernels

_MIN_NUMBA = (0, 59)
PARALLEL_MIN_SIZE = 32768  # parallel kernels on smaller arrays run on the calling thread alone
# Streaming kernels (a few flops per element: activations, im2col/col2im, batch-norm passes) are
# bandwidth-bound, so a second thread gains little, while every parallel region is a barrier:
# on a loaded machine, or next to OpenBLAS's spinning worker threads, one region was measured to
# stall for 4-16 ms (leaky_relu on 0.8M floats: 0.08 ms on one thread, 16 ms median on two).
# They go parallel only on arrays this large (64 MB of float32).
STREAMING_MIN_SIZE = 1 << 24
_FLOAT_DTYPES = (numpy.dtype(numpy.float32), numpy.dtype(numpy.float64))

# ----------------------------------------------------------------------------- the switch

_ENV_VAR = "TINYGEN_KERNELS"
_OFF_WORDS = ("numpy", "reference", "ref", "off", "0", "false", "no", "none")


def _env_default() -> bool:
    value = os.environ.get(_ENV_VAR, "").strip().lower()
    if value in ("", "fused", "numba", "on", "1", "true", "yes", "auto"):
        return True
    if value in _OFF_WORDS:
        return False
    raise ValueError(f"{_ENV_VAR}={value!r} is not understood: use 'numpy' to disable the fused "
                     f"kernels or 'fused' (the default) to enable them")


_state = {"fused": None}  # None until first read, so the environment is read lazily
_switch_listeners = []    # called after use_fused changes the switch (ufuncs.bind_direct)


def fused_enabled() -> bool:
    """True when fused kernels (Numba on the CPU, CuPy kernels on the GPU) are used."""
    if _state["fused"] is None:
        _state["fused"] = _env_default()
    return _state["fused"]


def _notify_switch():
    for listener in _switch_listeners:
        listener()


class use_fused:
    """Turn the fused kernels on or off.

    As a function call it switches for the rest of the process; as a context manager it restores
    the previous setting on exit::

        tinygen.kernels.use_fused(False)          # NumPy references from now on
        with tinygen.kernels.use_fused(True):     # fused inside the block only
            ...
    """

    def __init__(self, enabled: bool = True):
        if not isinstance(enabled, (bool, numpy.bool_)):
            raise TypeError(f"use_fused expects True or False, got {enabled!r}")
        self._previous = fused_enabled()
        _state["fused"] = bool(enabled)
        _notify_switch()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        _state["fused"] = self._previous
        _notify_switch()
        return False

    def __repr__(self):
        return f"use_fused({_state['fused']})"


# ----------------------------------------------------------------------------- numba, lazily

_numba = {"module": None, "error": None, "checked": False}
_numba_lock = threading.Lock()


def _get_numba():
    """The numba module, or None (and the reason is remembered) when it cannot be used."""
    if _numba["checked"]:
        return _numba["module"]
    with _numba_lock:
        if not _numba["checked"]:
            try:
                import numba
                version = tuple(int(p) for p in numba.__version__.split(".")[:2] if p.isdigit())
                if version < _MIN_NUMBA:
                    raise ImportError(f"numba {numba.__version__} is older than the required "
                                      f"{'.'.join(map(str, _MIN_NUMBA))}")
                _numba["module"] = numba
            except Exception as exc:  # ImportError, or numba refusing this NumPy version
                _numba["error"] = (f"{type(exc).__name__}: {exc}; install it with "
                                   f"`pip install 'numba>=0.59'`")
            _numba["checked"] = True
    return _numba["module"]


def numba_available() -> bool:
    return _get_numba() is not None


# ----------------------------------------------------------------------------- kernels

_registry: dict[str, "_Jitted"] = {}


class _Jitted:
    """A Python function compiled by Numba on first use."""

    def __init__(self, fn, *, parallel: bool, public: bool, contract: bool = False,
                 inline: bool = True, fastmath=None, streaming: bool = False,
                 min_parallel_size=None):
        self.py_func = fn
        self.name = fn.__name__
        self.parallel = parallel
        self.streaming = streaming
        self.min_parallel_size = min_parallel_size
        self.contract = contract
        self.inline = inline
        self.fastmath = set(fastmath or ())
        self.public = public
        self._dispatchers = {False: None, True: None}
        self._seen = {}          # (serial, Numba signature) -> (signature text, seconds, from_cache)
        self._hits = {False: 0, True: 0}   # Numba cache hits already accounted for, per dispatcher
        self.dep_files = set()   # source files of the helpers it calls (for cache invalidation)
        self._lock = threading.Lock()
        self.__doc__ = fn.__doc__
        self.__name__ = fn.__name__
        self.__wrapped__ = fn

    def dispatcher(self, serial: bool = False):
        """The Numba dispatcher; for a parallel kernel, ``serial=True`` gives a second one compiled
        without ``parallel`` (``prange`` is then ``range``): small arrays, and calls from
        tinygen's own worker threads (:mod:`tinygen.parallel`), never enter Numba's thread pool."""
        serial = serial and self.parallel
        disp = self._dispatchers[serial]
        if disp is None:
            nb = _get_numba()
            if nb is None:
                raise RuntimeError(f"kernel {self.name!r} needs Numba, which is unavailable: "
                                   f"{_numba['error']}")
            with self._lock:
                disp = self._dispatchers[serial]
                if disp is None:
                    disp = self._dispatchers[serial] = self._build(nb, serial)
        return disp

    def _build(self, nb, serial):
        fn = self.py_func
        glb = dict(fn.__globals__)
        for name in fn.__code__.co_names:
            value = glb.get(name)
            if isinstance(value, _Jitted):
                glb[name] = value.dispatcher()
                self.dep_files |= value.dep_files | {value.py_func.__code__.co_filename}
            elif value is range and name == "prange" and not serial:
                glb[name] = nb.prange
        clone = types.FunctionType(fn.__code__, glb, fn.__name__, fn.__defaults__, fn.__closure__)
        # Numba names its cache files after the qualified name: the serial twin needs its own
        clone.__qualname__ = fn.__qualname__ + ("_serial" if serial else "")
        clone.__module__ = fn.__module__
        clone.__doc__ = fn.__doc__
        opts = {"inline": "always"} if not self.public and self.inline else {}
        flags = self.fastmath | ({"contract"} if self.contract else set())
        if flags:
            opts["fastmath"] = flags
        # nogil: tinygen's worker threads run kernels side by side (tinygen.parallel)
        disp = nb.njit(cache=True, nogil=True, parallel=self.parallel and not serial,
                       error_model="numpy", **opts)(clone)
        if self.dep_files:
            _use_dependency_cache(disp, sorted(self.dep_files))
        return disp

    def __call__(self, *args):
        serial = False
        if self.parallel:
            if _parallel.in_worker():
                serial = True
            else:
                work = 0
                for a in args:
                    if type(a) is numpy.ndarray and a.size > work:
                        work = a.size
                threshold = self.min_parallel_size
                if threshold is None:
                    threshold = STREAMING_MIN_SIZE if self.streaming else PARALLEL_MIN_SIZE
                # below the threshold, waking Numba's worker threads costs more than the work
                serial = work < threshold or _get_numba().get_num_threads() == 1
        disp = self._dispatchers[serial] or self.dispatcher(serial)
        # Numba compiles (or loads from its cache) a new signature inside the call; a change in
        # its number of overloads is how one is noticed and recorded for kernel_status(), which
        # costs nothing on the calls that follow (a per-call signature key cost ~1.5 µs).
        known = len(disp.overloads)
        t0 = time.perf_counter()
        out = disp(*args)
        if len(disp.overloads) != known:
            self._record(disp, serial, time.perf_counter() - t0)
        return out

    def _record(self, disp, serial, seconds):
        """Note the signatures ``disp`` compiled since the last record (compile + first run time)."""
        with self._lock:
            hits = sum(disp.stats.cache_hits.values())
            from_cache = hits > self._hits[serial]
            self._hits[serial] = hits
            for sig in list(disp.overloads):
                key = (serial, sig)
                if key not in self._seen:
                    text = "(" + ", ".join(str(t) for t in sig) + ")" + (" serial" if serial and self.parallel else "")
                    self._seen[key] = (text, seconds, from_cache)

    def status(self) -> dict:
        entries = list(self._seen.values())
        return {
            "compiled": bool(entries),
            "compile_seconds": round(sum(e[1] for e in entries), 4) if entries else None,
            "from_cache": bool(entries) and all(e[2] for e in entries),
            "signatures": {e[0]: round(e[1], 4) for e in entries},
            "parallel": self.parallel,
        }


_file_hashes: dict = {}


def _file_hash(path):
    h = _file_hashes.get(path)
    if h is None:
        try:
            with open(path, "rb") as f:
                h = hashlib.sha256(f.read()).hexdigest()
        except OSError:
            h = "unreadable"
        _file_hashes[path] = h
    return h


def _use_dependency_cache(disp, files):
    """Make the on-disk cache entry of ``disp`` depend on the helpers' source files too.

    Numba keys its cache on the kernel's own file only, so editing a helper in another file
    would silently load a stale kernel. The helpers' file hashes are appended to the index key.
    If this Numba's cache internals differ from what is expected, the default cache is kept.
    """
    try:
        from numba.core.caching import FunctionCache
    except Exception:
        return
    extra = tuple(_file_hash(f) for f in files)

    class _DependencyCache(FunctionCache):
        def _index_key(self, sig, codegen):
            return tuple(super()._index_key(sig, codegen)) + (extra,)

    try:
        disp._cache = _DependencyCache(disp.py_func)
    except Exception:
        pass


def kernel(parallel: bool = True, contract: bool = False, streaming: bool = False, min_parallel_size=None):
    """Decorator: a Numba kernel, compiled lazily (``cache=True``) and listed by kernel_status().

    ``contract=True`` lets LLVM fuse a*b + c into FMA instructions (Numba's fastmath flag
    "contract" only: no reassociation, so results stay independent of the thread count).
    A parallel kernel runs on the calling thread alone when its largest array has fewer than
    ``PARALLEL_MIN_SIZE`` elements, or ``STREAMING_MIN_SIZE`` with ``streaming=True`` (for
    bandwidth-bound kernels, where the barrier of a parallel region costs more than it saves),
    or ``min_parallel_size`` when given.
    """
    def wrap(fn):
        if fn.__name__ in _registry:
            raise ValueError(f"duplicate kernel name {fn.__name__!r}")
        k = _Jitted(fn, parallel=parallel, public=True, contract=contract, streaming=streaming,
                    min_parallel_size=min_parallel_size)
        _registry[fn.__name__] = k
        return k
    return wrap


def helper(fn=None, *, inline: bool = True, fastmath=None):
    """Decorator: a function called from kernels.

    By default it is inlined into the calling kernel (Numba IR inlining, so LLVM can vectorise
    the caller's loop through it) and takes the caller's fastmath flags. ``inline=False`` makes
    it a separately compiled function, which may have its own ``fastmath`` flags (e.g.
    ``{"reassoc"}`` for a vectorised sum whose order is then fixed by the compiled code).
    """
    def wrap(f):
        return _Jitted(f, parallel=False, public=False, inline=inline, fastmath=fastmath)
    return wrap(fn) if fn is not None else wrap


# ----------------------------------------------------------------------------- dispatch

def select_impl(*arrays) -> tuple[str, object]:
    """Which implementation an op on these arrays runs, and their array namespace.

    Returns ``(impl, xp)`` with ``impl`` one of ``"numba"``, ``"cupy"``, ``"reference"``. The
    first array decides the dtype: only float32/float64 take a fused path (the others are cast
    to its dtype by the ops); anything else gets the reference.
    """
    xp = get_array_module(*arrays)
    first = arrays[0] if arrays else None
    dtype_ok = getattr(first, "dtype", None) in _FLOAT_DTYPES
    if xp is numpy:
        if dtype_ok and fused_enabled() and _get_numba() is not None:
            return "numba", xp
        return "reference", xp
    if getattr(xp, "IS_FAKE_CUDA", False):
        return "reference", xp
    if dtype_ok and fused_enabled() and getattr(xp, "__name__", "") == "cupy":
        return "cupy", xp
    return "reference", xp


_cupy_cache: dict = {}


def cupy_kernel(key, build):
    """Build a CuPy kernel once per ``key`` (``build()`` returns the kernel object)."""
    k = _cupy_cache.get(key)
    if k is None:
        k = _cupy_cache[key] = build()
    return k


# ----------------------------------------------------------------------------- status

def kernel_status() -> dict:
    """What ``tinygen info`` shows about the kernels.

    ``{"numba": {"available", "version", "reason", "threading_layer", "num_threads"},
       "fused_enabled": bool, "env": value of TINYGEN_KERNELS or None,
       "kernels": {name: {"compiled", "compile_seconds", "from_cache", "signatures", "parallel"}}}``

    ``compile_seconds`` is the first-call compile (or on-disk cache load) time summed over the
    signatures compiled so far (``signatures`` maps each one to its own time); None when the
    kernel has not run in this process.
    """
    nb = _get_numba()
    info = {"available": nb is not None, "version": None, "reason": _numba["error"],
            "threading_layer": None, "num_threads": None}
    if nb is not None:
        info["version"] = nb.__version__
        info["num_threads"] = nb.get_num_threads()
        try:
            info["threading_layer"] = nb.threading_layer()
        except ValueError:   # no parallel kernel has run yet
            info["threading_layer"] = "not yet initialised"
    return {
        "numba": info,
        "fused_enabled": fused_enabled(),
        "env": os.environ.get(_ENV_VAR),
        "kernels": {name: k.status() for name, k in sorted(_registry.items())},
    }


def check_contiguous(name, **arrays):
    for arg, a in arrays.items():
        if a is not None and not a.flags.c_contiguous:
            raise ValueError(f"{name}: {arg} must be C-contiguous to be updated in place "
                             f"(shape {a.shape}, strides {a.strides})")


def check_same_shape(name, ref_name, ref, **arrays):
    for arg, a in arrays.items():
        if a is not None and tuple(a.shape) != tuple(ref.shape):
            raise ValueError(f"{name}: {arg} has shape {tuple(a.shape)} but {ref_name} has shape "
                             f"{tuple(ref.shape)}")


def check_float(name, **arrays):
    for arg, a in arrays.items():
        if a is not None and a.dtype.kind != "f":
            raise TypeError(f"{name}: {arg} must be a floating-point array, got dtype {a.dtype}")
