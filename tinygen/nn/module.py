"""Modules: objects that own parameters, buffers and submodules, and know their names.

A :class:`Module` registers every :class:`Parameter`, buffer and submodule assigned to one of its
attributes, so a whole model can be walked by name (``encoder.0.weight``), saved and restored
through a state dict, switched between training and evaluation, and moved between devices and
dtypes, as in PyTorch::

    class MLP(Module):
        def __init__(self):
            super().__init__()
            self.fc1 = Linear(2, 16)     # a submodule: its parameters become fc1.weight, fc1.bias
            self.fc2 = Linear(16, 1)
        def forward(self, x):
            return self.fc2(self.fc1(x).relu())

Moving a module (``to``) replaces each parameter's ``.data`` in place: the Parameter objects keep
their identity, so an optimizer built before the move still updates the moved parameters.
"""
from __future__ import annotations

from collections import OrderedDict, namedtuple

from .. import backend
from ..autograd import grad_mode
from ..tensor import Tensor, as_dtype, _parse_to_args

__all__ = ["Parameter", "Module", "Sequential", "ModuleList", "ModuleDict"]


# ------------------------------------------------------------------------------- Parameter
class Parameter(Tensor):
    """A leaf Tensor that a Module registers as a learnable parameter.

    ``Parameter(data, requires_grad=True)``: ``data`` is a Tensor (its array is shared, not
    copied, and it stays on its device, as in PyTorch), a NumPy/CuPy array (its dtype is kept;
    a host array goes to the default device, as ``tg.tensor`` does), a list or a number.
    """

    __slots__ = ()

    def __init__(self, data=None, requires_grad: bool = True):
        if data is None:
            data = backend.numpy.empty((0,), dtype="float32")
        device = None
        if isinstance(data, Tensor):
            data = data.data           # share the array (same device); the new object is a fresh leaf
            device = backend.device_of(data)
        super().__init__(data, requires_grad=requires_grad, device=device)

    def __repr__(self):
        return "Parameter containing:\n" + super().__repr__()

    def __deepcopy__(self, memo):
        """A new Parameter with copied data (and gradient), as ``copy.deepcopy`` of a torch Parameter."""
        import copy
        if id(self) in memo:
            return memo[id(self)]
        out = Parameter(Tensor._make(self.data.copy(), False, None), self.requires_grad)
        memo[id(self)] = out
        if self._grad is not None:
            out._grad = Tensor._make(self._grad.data.copy(), False, None)
        return out

    def __reduce_ex__(self, protocol):   # pragma: no cover - pickling is not how tinygen saves
        return (Parameter, (self.data, self.requires_grad))


_IncompatibleKeys = namedtuple("IncompatibleKeys", ["missing_keys", "unexpected_keys"])


def _convert_array(arr, device, dtype):
    """``arr`` on ``device`` with ``dtype`` (floating-point arrays only change dtype)."""
    if dtype is not None and arr.dtype.kind == "f" and arr.dtype != dtype:
        arr = arr.astype(dtype)
    if device is not None and backend.device_of(arr) != device:
        arr = backend.to_device(arr, device)
    return arr


def _shape_str(shape):
    return "(" + ", ".join(str(int(s)) for s in shape) + ("," if len(shape) == 1 else "") + ")"


# ------------------------------------------------------------------------------- Module
class Module:
    """Base class of all layers and models. Subclasses call ``super().__init__()`` first and
    define ``forward``; calling the module runs ``forward``."""

    training: bool

    def __init__(self):
        object.__setattr__(self, "training", True)
        object.__setattr__(self, "_parameters", OrderedDict())
        object.__setattr__(self, "_buffers", OrderedDict())
        object.__setattr__(self, "_non_persistent_buffers", set())
        object.__setattr__(self, "_modules", OrderedDict())

    def forward(self, *args, **kwargs):
        raise NotImplementedError(f"{type(self).__name__} has no forward() method")

    def __call__(self, *args, **kwargs):
        return self.forward(*args, **kwargs)

    # ------------------------------------------------------------------ registration
    def _check_init(self, what):
        if "_parameters" not in self.__dict__:
            raise AttributeError(f"cannot assign {what} before Module.__init__() call "
                                 f"(call super().__init__() first in {type(self).__name__}.__init__)")

    def register_parameter(self, name: str, param):
        """Register ``param`` (a Parameter, or None for an absent one such as ``bias=False``)."""
        self._check_init("parameter")
        self._check_name(name, "parameter")
        if name in self.__dict__ and name not in self._parameters:
            raise KeyError(f"attribute '{name}' already exists")
        if param is not None and not isinstance(param, Parameter):
            raise TypeError(f"cannot assign '{type(param).__name__}' object to parameter '{name}' "
                            "(tinygen.nn.Parameter or None required)")
        self._buffers.pop(name, None)
        self._modules.pop(name, None)
        self._parameters[name] = param

    def register_buffer(self, name: str, tensor, persistent: bool = True):
        """Register a Tensor that is state but not a parameter (e.g. BatchNorm's running_mean).

        Persistent buffers are part of ``state_dict()``; ``persistent=False`` ones are not.
        """
        self._check_init("buffer")
        self._check_name(name, "buffer")
        if name in self.__dict__ and name not in self._buffers:
            raise KeyError(f"attribute '{name}' already exists")
        if tensor is not None and not isinstance(tensor, Tensor):
            raise TypeError(f"cannot assign '{type(tensor).__name__}' object to buffer '{name}' "
                            "(a Tensor or None required)")
        self._parameters.pop(name, None)
        self._modules.pop(name, None)
        self._buffers[name] = tensor
        if persistent:
            self._non_persistent_buffers.discard(name)
        else:
            self._non_persistent_buffers.add(name)

    def add_module(self, name: str, module):
        """Register ``module`` (or None) as a submodule called ``name``."""
        self._check_init("module")
        self._check_name(name, "module")
        if module is not None and not isinstance(module, Module):
            raise TypeError(f"{type(module).__name__} is not a Module subclass")
        if name in self.__dict__ and name not in self._modules:
            raise KeyError(f"attribute '{name}' already exists")
        self._parameters.pop(name, None)
        self._buffers.pop(name, None)
        self._modules[name] = module

    register_module = add_module

    @staticmethod
    def _check_name(name, what):
        if not isinstance(name, str):
            raise TypeError(f"{what} name should be a string, got {type(name).__name__}")
        if name == "" or "." in name:
            raise KeyError(f"{what} name can't be empty or contain '.', got {name!r}")

    def __setattr__(self, name, value):
        d = self.__dict__
        if isinstance(value, Parameter):
            self._check_init("parameters")
            d.pop(name, None)
            self.register_parameter(name, value)
            return
        params = d.get("_parameters")
        if params is not None and name in params:
            if value is not None:
                raise TypeError(f"cannot assign '{type(value).__name__}' as parameter '{name}' "
                                "(tinygen.nn.Parameter or None expected)")
            params[name] = None
            return
        if isinstance(value, Module):
            self._check_init("submodules")
            d.pop(name, None)
            self.add_module(name, value)
            return
        modules = d.get("_modules")
        if modules is not None and name in modules:
            if value is not None:
                raise TypeError(f"cannot assign '{type(value).__name__}' as child module '{name}' "
                                "(a Module or None expected)")
            modules[name] = None
            return
        buffers = d.get("_buffers")
        if buffers is not None and name in buffers:
            if value is not None and not isinstance(value, Tensor):
                raise TypeError(f"cannot assign '{type(value).__name__}' as buffer '{name}' "
                                "(a Tensor or None expected)")
            buffers[name] = value
            return
        object.__setattr__(self, name, value)

    def __getattr__(self, name):
        # Only called when normal lookup fails: parameters, buffers and submodules live in dicts.
        d = self.__dict__
        for store in ("_parameters", "_buffers", "_modules"):
            s = d.get(store)
            if s is not None and name in s:
                return s[name]
        raise AttributeError(f"'{type(self).__name__}' object has no attribute '{name}'")

    def __delattr__(self, name):
        for store in ("_parameters", "_buffers", "_modules"):
            s = self.__dict__.get(store)
            if s is not None and name in s:
                del s[name]
                self._non_persistent_buffers.discard(name)
                return
        object.__delattr__(self, name)

    def __dir__(self):
        return sorted(set(super().__dir__()) | set(self._parameters) | set(self._buffers) | set(self._modules))

    # ------------------------------------------------------------------ iteration
    def named_modules(self, memo=None, prefix: str = "", remove_duplicate: bool = True):
        """``(dotted name, module)`` for this module (name ``""``) and every descendant, once each."""
        if memo is None:
            memo = set()
        if remove_duplicate:
            if id(self) in memo:
                return
            memo.add(id(self))
        yield prefix, self
        for name, m in self._modules.items():
            if m is None:
                continue
            sub = prefix + ("." if prefix else "") + name
            yield from m.named_modules(memo, sub, remove_duplicate)

    def modules(self):
        for _, m in self.named_modules():
            yield m

    def named_children(self):
        seen = set()
        for name, m in self._modules.items():
            if m is not None and id(m) not in seen:
                seen.add(id(m))
                yield name, m

    def children(self):
        for _, m in self.named_children():
            yield m

    def _named_members(self, store, prefix, recurse, remove_duplicate=True):
        seen = set()
        mods = self.named_modules(prefix=prefix, remove_duplicate=remove_duplicate) if recurse \
            else [(prefix, self)]
        for mod_prefix, m in mods:
            for name, v in getattr(m, store).items():
                if v is None:
                    continue
                if remove_duplicate:
                    if id(v) in seen:
                        continue
                    seen.add(id(v))
                yield mod_prefix + ("." if mod_prefix else "") + name, v

    def named_parameters(self, prefix: str = "", recurse: bool = True, remove_duplicate: bool = True):
        """``(dotted name, Parameter)`` pairs, PyTorch's names (``encoder.0.weight``); shared ones once."""
        yield from self._named_members("_parameters", prefix, recurse, remove_duplicate)

    def parameters(self, recurse: bool = True):
        for _, p in self.named_parameters(recurse=recurse):
            yield p

    def named_buffers(self, prefix: str = "", recurse: bool = True, remove_duplicate: bool = True):
        yield from self._named_members("_buffers", prefix, recurse, remove_duplicate)

    def buffers(self, recurse: bool = True):
        for _, b in self.named_buffers(recurse=recurse):
            yield b

    def num_parameters(self, only_trainable: bool = False) -> int:
        """Total number of scalar parameters (shared parameters counted once)."""
        return sum(int(p.size) for p in self.parameters() if p.requires_grad or not only_trainable)

    def get_submodule(self, target: str):
        if target == "":
            return self
        mod = self
        for item in target.split("."):
            sub = mod._modules.get(item) if isinstance(mod, Module) else None
            if sub is None:
                raise AttributeError(f"{type(mod).__name__} has no submodule '{item}' (looking up '{target}')")
            mod = sub
        return mod

    def get_parameter(self, target: str):
        mod_path, _, name = target.rpartition(".")
        mod = self.get_submodule(mod_path)
        if name not in mod._parameters:
            raise AttributeError(f"{type(mod).__name__} has no parameter '{name}' (looking up '{target}')")
        return mod._parameters[name]

    # ------------------------------------------------------------------ state dict
    def state_dict(self, destination=None, prefix: str = "", keep_vars: bool = False):
        """An ordered dict ``name -> Tensor`` of every parameter and persistent buffer.

        The Tensors share memory with the module's (detached unless ``keep_vars=True``), as in
        PyTorch; ``tg.save(model.state_dict(), path)`` writes a checkpoint.
        """
        if destination is None:
            destination = OrderedDict()
        self._save_to_state_dict(destination, prefix, keep_vars)
        for name, m in self._modules.items():
            if m is not None:
                m.state_dict(destination=destination, prefix=prefix + name + ".", keep_vars=keep_vars)
        return destination

    def _save_to_state_dict(self, destination, prefix, keep_vars):
        for name, p in self._parameters.items():
            if p is not None:
                destination[prefix + name] = p if keep_vars else Tensor._make(p.data, False, None)
        for name, b in self._buffers.items():
            if b is not None and name not in self._non_persistent_buffers:
                destination[prefix + name] = b if keep_vars else Tensor._make(b.data, False, None)

    def load_state_dict(self, state_dict, strict: bool = True):
        """Copy parameters and buffers from ``state_dict`` (values: Tensors or arrays) in place.

        Values are converted to each parameter's dtype and device, as PyTorch's ``copy_`` does.
        With ``strict=True`` missing and unexpected keys are an error; a shape mismatch always is.
        Returns ``(missing_keys, unexpected_keys)``.
        """
        if not hasattr(state_dict, "keys"):
            raise TypeError(f"Expected state_dict to be dict-like, got {type(state_dict).__name__}")
        missing, unexpected, errors = [], [], []
        expected = set()

        def load(module, prefix):
            module._load_from_state_dict(state_dict, prefix, missing, errors, expected)
            for name, child in module._modules.items():
                if child is not None:
                    load(child, prefix + name + ".")

        with grad_mode.no_grad():
            load(self, "")
        unexpected.extend(k for k in state_dict.keys() if k not in expected)
        msgs = []
        if strict:
            if missing:
                msgs.append("Missing key(s) in state_dict: " + ", ".join(f'"{k}"' for k in missing) + ".")
            if unexpected:
                msgs.append("Unexpected key(s) in state_dict: " + ", ".join(f'"{k}"' for k in unexpected) + ".")
        msgs.extend(errors)
        if msgs:
            raise RuntimeError(f"Error(s) in loading state_dict for {type(self).__name__}:\n\t"
                               + "\n\t".join(msgs))
        return _IncompatibleKeys(missing, unexpected)

    def _load_from_state_dict(self, state_dict, prefix, missing, errors, expected):
        """Load this module's own parameters and persistent buffers (not its children's)."""
        local = [(n, p) for n, p in self._parameters.items() if p is not None]
        local += [(n, b) for n, b in self._buffers.items()
                  if b is not None and n not in self._non_persistent_buffers]
        for name, t in local:
            key = prefix + name
            if key not in state_dict:
                missing.append(key)
                continue
            expected.add(key)
            value = state_dict[key]
            arr = value.data if isinstance(value, Tensor) else value
            if not hasattr(arr, "shape"):
                try:
                    arr = backend.numpy.asarray(arr)
                except Exception:
                    errors.append(f"value for {key} is a {type(value).__name__}, not a Tensor or array")
                    continue
            if tuple(arr.shape) != tuple(t.shape):
                errors.append(f"size mismatch for {key}: copying a param with shape {_shape_str(arr.shape)} "
                              f"from checkpoint, the shape in current model is {_shape_str(t.shape)}.")
                continue
            try:
                src = backend.to_device(arr, t.device)
                t.data[...] = src.astype(t.dtype, copy=False)
            except Exception as exc:
                errors.append(f"While copying the parameter named \"{key}\", whose dimensions in the model "
                              f"are {_shape_str(t.shape)} and whose dimensions in the checkpoint are "
                              f"{_shape_str(arr.shape)}, an exception occurred: {exc!r}.")
        # keys under this prefix that name one of this module's direct entries are handled above;
        # everything else is judged by the caller (children claim their own keys).

    # ------------------------------------------------------------------ modes and grads
    def train(self, mode: bool = True):
        """Set training mode (Dropout drops, BatchNorm uses batch statistics) here and below."""
        if not isinstance(mode, bool):
            raise ValueError("training mode is expected to be boolean")
        for m in self.modules():
            object.__setattr__(m, "training", mode)
        return self

    def eval(self):
        """Evaluation mode: same as ``train(False)``."""
        return self.train(False)

    def requires_grad_(self, requires_grad: bool = True):
        for p in self.parameters():
            p.requires_grad_(requires_grad)
        return self

    def zero_grad(self, set_to_none: bool = True):
        """Clear every parameter's gradient (``None`` by default, as PyTorch)."""
        for p in self.parameters():
            if p.grad is None:
                continue
            if set_to_none:
                p.grad = None
            else:
                g = p.grad
                if g.grad_fn is not None:
                    p.grad = Tensor._make(backend.get_array_module(g.data).zeros_like(g.data), False, None)
                else:
                    g.data[...] = 0

    def apply(self, fn):
        """Call ``fn`` on every submodule (children first) and then on this module; returns self."""
        for m in self.children():
            m.apply(fn)
        fn(self)
        return self

    # ------------------------------------------------------------------ devices and dtypes
    def to(self, *args, **kwargs):
        """``to(device)``, ``to(dtype)``, ``to(device, dtype)``: move parameters and buffers in place.

        Floating-point parameters and buffers take the dtype (integer buffers such as
        ``num_batches_tracked`` keep theirs). Parameter objects keep their identity; their
        ``.data`` (and ``.grad``) are replaced.
        """
        device, dtype = _parse_to_args(args, dict(kwargs))
        if dtype is not None and dtype.kind != "f":
            raise TypeError(f"Module.to only accepts floating point dtypes, but got desired dtype={dtype}")
        return self._apply_arrays(lambda a: _convert_array(a, device, dtype))

    def _apply_arrays(self, fn):
        seen = set()
        for m in self.modules():
            for store in (m._parameters, m._buffers):
                for t in store.values():
                    if t is None or id(t) in seen:
                        continue
                    seen.add(id(t))
                    new = fn(t.data)
                    if new is not t.data:
                        t.data = new
                    g = t._grad
                    if g is not None:
                        ng = fn(g.data)
                        if ng is not g.data:
                            t._grad = Tensor._make(ng, False, None)
        return self

    def float(self):
        return self.to(as_dtype("float32"))

    def double(self):
        return self.to(as_dtype("float64"))

    def half(self):
        return self.to(as_dtype("float16"))

    def cpu(self):
        return self.to("cpu")

    def cuda(self, device=None):
        return self.to("cuda")

    # ------------------------------------------------------------------ printing
    def extra_repr(self) -> str:
        """The text inside the parentheses of this module's repr (layers override it)."""
        return ""

    def _get_name(self):
        return type(self).__name__

    def __repr__(self):
        extra = self.extra_repr()
        lines = extra.split("\n") if extra else []
        for name, m in self._modules.items():
            mod_str = _add_indent(repr(m), 2)
            lines.append(f"({name}): {mod_str}")
        main = self._get_name() + "("
        if lines:
            if len(lines) == 1 and not self._modules:
                main += lines[0]
            else:
                main += "\n  " + "\n  ".join(lines) + "\n"
        return main + ")"


def _add_indent(s, n):
    parts = s.split("\n")
    if len(parts) == 1:
        return s
    return parts[0] + "\n" + "\n".join(" " * n + line for line in parts[1:])


# ------------------------------------------------------------------------------- containers
class Sequential(Module):
    """Modules applied one after another. ``Sequential(m1, m2, ...)`` or ``Sequential(OrderedDict)``;
    names are ``"0"``, ``"1"``, ... (or the dict's keys)."""

    def __init__(self, *args):
        super().__init__()
        if len(args) == 1 and isinstance(args[0], (OrderedDict, dict)):
            for name, m in args[0].items():
                self.add_module(name, m)
        else:
            for i, m in enumerate(args):
                self.add_module(str(i), m)

    def _index(self, idx):
        n = len(self)
        if not -n <= idx < n:
            raise IndexError(f"index {idx} is out of range for {type(self).__name__} of length {n}")
        return idx % n

    def __getitem__(self, idx):
        if isinstance(idx, slice):
            return type(self)(OrderedDict(list(self._modules.items())[idx]))
        return list(self._modules.values())[self._index(idx)]

    def __setitem__(self, idx, module):
        key = list(self._modules.keys())[self._index(idx)]
        self.add_module(key, module)

    def __delitem__(self, idx):
        keys = list(self._modules.keys())
        if isinstance(idx, slice):
            for k in keys[idx]:
                del self._modules[k]
        else:
            del self._modules[keys[self._index(idx)]]
        # renumber so that names stay 0..n-1, as PyTorch does
        items = list(self._modules.values())
        self._modules.clear()
        for i, m in enumerate(items):
            self._modules[str(i)] = m

    def __len__(self):
        return len(self._modules)

    def __iter__(self):
        return iter(self._modules.values())

    def __add__(self, other):
        if not isinstance(other, Sequential):
            return NotImplemented
        return Sequential(*self, *other)

    def append(self, module):
        self.add_module(str(len(self)), module)
        return self

    def extend(self, modules):
        for m in modules:
            self.append(m)
        return self

    def insert(self, index, module):
        items = list(self._modules.values())
        n = len(items)
        if not -n <= index <= n:
            raise IndexError(f"index {index} is out of range for insert into a Sequential of length {n}")
        items.insert(index % (n + 1) if index < 0 else index, module)
        self._modules.clear()
        for i, m in enumerate(items):
            self.add_module(str(i), m)
        return self

    def forward(self, x):
        for m in self._modules.values():
            x = m(x)
        return x


class ModuleList(Module):
    """A list of modules, registered as ``"0"``, ``"1"``, ... (no forward of its own)."""

    def __init__(self, modules=None):
        super().__init__()
        if modules is not None:
            self.extend(modules)

    def _index(self, idx):
        n = len(self)
        if not -n <= idx < n:
            raise IndexError(f"index {idx} is out of range for ModuleList of length {n}")
        return idx % n

    def __getitem__(self, idx):
        if isinstance(idx, slice):
            return ModuleList(list(self._modules.values())[idx])
        return self._modules[str(self._index(idx))]

    def __setitem__(self, idx, module):
        self.add_module(str(self._index(idx)), module)

    def __delitem__(self, idx):
        items = list(self._modules.values())
        if isinstance(idx, slice):
            del items[idx]
        else:
            del items[self._index(idx)]
        self._modules.clear()
        for i, m in enumerate(items):
            self._modules[str(i)] = m

    def __len__(self):
        return len(self._modules)

    def __iter__(self):
        return iter(self._modules.values())

    def __iadd__(self, modules):
        return self.extend(modules)

    def append(self, module):
        self.add_module(str(len(self)), module)
        return self

    def extend(self, modules):
        for m in modules:
            self.append(m)
        return self

    def insert(self, index, module):
        items = list(self._modules.values())
        items.insert(index, module)
        self._modules.clear()
        for i, m in enumerate(items):
            self.add_module(str(i), m)

    def forward(self, *args, **kwargs):
        raise NotImplementedError("ModuleList has no forward(): iterate over it and call its modules")


class ModuleDict(Module):
    """A dict of modules; keys are the submodule names."""

    def __init__(self, modules=None):
        super().__init__()
        if modules is not None:
            self.update(modules)

    def __getitem__(self, key):
        return self._modules[key]

    def __setitem__(self, key, module):
        self.add_module(key, module)

    def __delitem__(self, key):
        del self._modules[key]

    def __len__(self):
        return len(self._modules)

    def __iter__(self):
        return iter(self._modules)

    def __contains__(self, key):
        return key in self._modules

    def keys(self):
        return self._modules.keys()

    def values(self):
        return self._modules.values()

    def items(self):
        return self._modules.items()

    def pop(self, key):
        m = self._modules[key]
        del self._modules[key]
        return m

    def clear(self):
        self._modules.clear()

    def update(self, modules):
        items = modules.items() if hasattr(modules, "items") else modules
        for k, m in items:
            self[k] = m

    def forward(self, *args, **kwargs):
        raise NotImplementedError("ModuleDict has no forward(): look up a module and call it")
