"""The Optimizer base class: parameter groups, state, state dicts, and flat buffers for speed.

PyTorch's structure and names: ``param_groups`` is a list of dicts (``"params"`` plus that group's
hyperparameters, which may be changed between steps, e.g. by an lr scheduler), ``state`` maps a
parameter to its per-parameter state (``"step"``, ``"exp_avg"``, ...), and ``state_dict()`` is
``{"state": {index: {...}}, "param_groups": [{..., "params": [indices]}]}`` with parameters
numbered in group order, so ``tg.save(opt.state_dict(), path)`` writes a checkpoint and
``load_state_dict`` resumes the exact same trajectory.

Speed: the parameters of a group that share a device and dtype are packed into one contiguous
*flat buffer* (a ``_Bucket``) and each parameter's ``.data`` becomes a view into it; the state
arrays (moments, momentum buffers) are flat buffers with the same layout. A step then updates
all small parameters with a single fused kernel call over their gathered gradients, and each
large parameter with one call on its own gradient (no copy), instead of ~10 array operations per
parameter. If a parameter's ``.data`` is replaced (``module.to(...)``, or any assignment), the
next step notices (``p.data is not view``) and re-packs, carrying the state over converted to
the parameter's new dtype and device.
"""
from __future__ import annotations

import warnings
from collections import defaultdict

from .. import backend
from ..autograd import grad_mode
from ..tensor import Tensor

__all__ = ["Optimizer", "required"]


class _Required:
    def __repr__(self):
        return "<required parameter>"


required = _Required()

# Parameters with at least this many elements are updated in place by their own kernel call; the
# smaller ones are packed together so that one call updates all of them.
_LARGE = 1 << 16


def _kernels():
    """The fused optimizer kernels (tinygen.kernels), or None when that module is missing."""
    mod = _kernels.cache
    if mod is None:
        try:
            from .. import kernels as k
            if not hasattr(k, "adam_update"):
                from ..kernels import optim as k
            mod = k
        except ImportError:
            mod = False
        _kernels.cache = mod
    return mod or None


_kernels.cache = None


class _Bucket:
    """Parameters of one group sharing a device and dtype, packed into one flat buffer.

    ``flat`` holds the values; ``p.data`` is ``views[j]`` (a reshaped slice of it). ``state[name]``
    holds one state array per name with the same layout. Small parameters come first, so that
    ``[0, n_small)`` is one contiguous region updated by one kernel call.
    """

    __slots__ = ("params", "offsets", "sizes", "flat", "views", "state", "xp", "dtype", "device",
                 "n_small", "gbuf", "n_large_first")

    def __init__(self, params):
        small = [p for p in params if p.data.size < _LARGE]
        large = [p for p in params if p.data.size >= _LARGE]
        self.params = small + large
        self.n_large_first = len(small)            # index of the first large parameter
        d0 = self.params[0].data
        self.xp = backend.get_array_module(d0)
        self.dtype = d0.dtype
        self.device = backend.device_of(d0)
        self.sizes = [int(p.data.size) for p in self.params]
        self.offsets = []
        o = 0
        for n in self.sizes:
            self.offsets.append(o)
            o += n
        self.n_small = sum(self.sizes[:self.n_large_first])
        self.flat = self.xp.empty(o, dtype=self.dtype)
        self.views = []
        for p, off, n in zip(self.params, self.offsets, self.sizes):
            self.flat[off:off + n] = p.data.reshape(-1)
            v = self.flat[off:off + n].reshape(p.data.shape)
            p.data = v
            self.views.append(v)
        self.state = {}
        self.gbuf = None

    def valid(self):
        for p, v in zip(self.params, self.views):
            if p.data is not v:
                return False
        return True

    def seg(self, arr, j):
        """Parameter j's slice of a flat array (1-D, contiguous)."""
        o = self.offsets[j]
        return arr[o:o + self.sizes[j]]

    def state_array(self, name):
        a = self.state.get(name)
        if a is None:
            a = self.state[name] = self.xp.zeros(self.flat.shape, dtype=self.dtype)
        return a

    def grad_buffer(self):
        if self.gbuf is None:
            self.gbuf = self.xp.empty(self.n_small, dtype=self.dtype)
        return self.gbuf


def _as_array_like(value, like):
    """``value`` (Tensor or array) as an array with ``like``'s dtype and device."""
    arr = value.data if isinstance(value, Tensor) else value
    if not hasattr(arr, "shape"):
        arr = backend.numpy.asarray(arr)
    arr = backend.to_device(arr, backend.device_of(like))
    return arr.astype(like.dtype, copy=False)


class Optimizer:
    """Base class. Subclasses set ``_state_names(group)`` (the per-element state arrays),
    ``_advance(state, group)`` (per-parameter bookkeeping before an update; returns a key that
    must be equal across parameters for them to share one fused call) and
    ``_update(group, p, g, arrays, key)`` (one update on flat 1-D arrays, in place)."""

    def __init__(self, params, defaults):
        self.defaults = dict(defaults)
        self.param_groups = []
        self.state = defaultdict(dict)    # Parameter -> dict (views into the flat state buffers)
        self._buckets = {}                # group index -> ([ids of the group's params], [buckets])
        if isinstance(params, Tensor):
            raise TypeError("params argument given to the optimizer should be an iterable of Tensors or "
                            f"dicts, but got a Tensor of shape {tuple(params.shape)} (wrap it in a list)")
        if isinstance(params, dict):
            params = [params]
        params = list(params)
        if len(params) == 0:
            raise ValueError("optimizer got an empty parameter list")
        if not isinstance(params[0], dict):
            params = [{"params": params}]
        for group in params:
            self.add_param_group(group)

    # ------------------------------------------------------------------ groups
    def _validate(self, group):
        """Check a group's hyperparameters (subclasses extend)."""
        lr = group.get("lr")
        if lr is not None and not 0.0 <= float(lr):
            raise ValueError(f"Invalid learning rate: {lr} (must be >= 0)")
        wd = group.get("weight_decay", 0.0)
        if not 0.0 <= float(wd):
            raise ValueError(f"Invalid weight_decay value: {wd} (must be >= 0)")
        eps = group.get("eps", 0.0)
        if not 0.0 <= float(eps):
            raise ValueError(f"Invalid epsilon value: {eps} (must be >= 0)")

    def add_param_group(self, param_group):
        """Add a group: a dict with ``"params"`` and optional hyperparameters (others from the defaults)."""
        if not isinstance(param_group, dict):
            raise TypeError(f"param_group must be a dict, got {type(param_group).__name__}")
        group = dict(param_group)
        params = group.get("params")
        if isinstance(params, Tensor):
            params = [params]
        elif isinstance(params, set):
            raise TypeError("optimizer parameters need to be organized in ordered collections, but the "
                            "ordering of tensors in sets will change between runs. Please use a list instead.")
        else:
            params = list(params)
        group["params"] = params
        if not params:
            raise ValueError("optimizer got an empty parameter list")
        for i, p in enumerate(params):
            if not isinstance(p, Tensor):
                raise TypeError(f"optimizer can only optimize Tensors, but parameter {i} of the group is "
                                f"a {type(p).__name__}")
            if not p.is_leaf:
                raise ValueError(f"can't optimize a non-leaf Tensor (parameter {i} of the group, shape "
                                 f"{tuple(p.shape)}, made by {p.grad_fn.name})")
            if not p.requires_grad:
                raise ValueError(f"optimizer can only optimize Tensors that require grad: parameter {i} of "
                                 f"the group (shape {tuple(p.shape)}) has requires_grad=False")
            if p.dtype.kind != "f":
                raise TypeError(f"optimizer can only optimize floating-point Tensors, parameter {i} has "
                                f"dtype {p.dtype}")
        if len({id(p) for p in params}) != len(params):
            warnings.warn("optimizer contains a parameter group with duplicate parameters; in future, this "
                          "will cause an error", UserWarning, stacklevel=3)
            seen, uniq = set(), []
            for p in params:
                if id(p) not in seen:
                    seen.add(id(p))
                    uniq.append(p)
            group["params"] = params = uniq
        for name, default in self.defaults.items():
            if default is required and name not in group:
                raise ValueError(f"parameter group didn't specify a value of required optimization "
                                 f"parameter {name}")
            group.setdefault(name, default)
        existing = {id(p) for g in self.param_groups for p in g["params"]}
        if existing & {id(p) for p in params}:
            raise ValueError("some parameters appear in more than one parameter group")
        self._validate(group)
        self.param_groups.append(group)

    # ------------------------------------------------------------------ grads
    def zero_grad(self, set_to_none: bool = True):
        """Clear the gradients of all optimized parameters (``None`` by default, as PyTorch)."""
        for group in self.param_groups:
            for p in group["params"]:
                if p.grad is None:
                    continue
                if set_to_none:
                    p.grad = None
                else:
                    g = p.grad
                    if g.grad_fn is not None or g.requires_grad:
                        p.grad = Tensor._make(backend.get_array_module(g.data).zeros_like(g.data), False, None)
                    else:
                        g.data[...] = 0

    # ------------------------------------------------------------------ flat buffers
    def _get_buckets(self, gi, group):
        params = group["params"]
        ids = [id(p) for p in params]
        entry = self._buckets.get(gi)
        if entry is not None and entry[0] == ids and all(b.valid() for b in entry[1]):
            return entry[1]
        buckets = self._build_buckets(params)
        self._buckets[gi] = (ids, buckets)
        return buckets

    def _build_buckets(self, params):
        """Pack ``params`` (per device and dtype) and carry their existing state over."""
        by_key = {}
        for p in params:
            by_key.setdefault((backend.device_of(p.data), p.data.dtype.str), []).append(p)
        buckets = []
        for plist in by_key.values():
            b = _Bucket(plist)
            for j, p in enumerate(b.params):
                st = self.state.get(p)
                if not st:
                    continue
                for name, val in list(st.items()):
                    if not isinstance(val, Tensor) or name == "step":
                        continue
                    arr = val.data
                    if tuple(arr.shape) != tuple(p.data.shape):
                        raise RuntimeError(f"optimizer state {name!r} has shape {tuple(arr.shape)} but its "
                                           f"parameter now has shape {tuple(p.data.shape)}; a parameter's "
                                           "shape cannot change after the optimizer has state for it")
                    seg = b.seg(b.state_array(name), j)
                    seg[...] = _as_array_like(arr, seg).reshape(-1)
                    st[name] = Tensor._make(seg.reshape(p.data.shape), False, None)
            buckets.append(b)
        return buckets

    def _state_views(self, b, j, names):
        """Fresh (zeroed) state for parameter j: views into the bucket's flat state arrays."""
        p = b.params[j]
        out = {}
        for n in names:
            seg = b.seg(b.state_array(n), j)
            seg[...] = 0                  # the segment may hold state dropped by opt.state.clear()
            out[n] = Tensor._make(seg.reshape(p.data.shape), False, None)
        return out

    # ------------------------------------------------------------------ the step
    def _state_names(self, group):                      # pragma: no cover - abstract
        raise NotImplementedError

    def _init_state(self, group):
        """The per-parameter state's scalar entries before its first update (e.g. {"step": 0})."""
        return {}

    def _advance(self, state, group):                   # pragma: no cover - abstract
        raise NotImplementedError

    def _update(self, group, p, g, arrays, key):        # pragma: no cover - abstract
        raise NotImplementedError

    def step(self, closure=None):
        """One optimization step over every parameter that has a gradient. ``closure`` (optional)
        re-evaluates the model and returns the loss, which ``step`` returns."""
        loss = None
        if closure is not None:
            with grad_mode.enable_grad():
                loss = closure()
        with grad_mode.no_grad():
            for gi, group in enumerate(self.param_groups):
                names = self._state_names(group)
                for b in self._get_buckets(gi, group):
                    self._step_bucket(group, b, names)
        return loss

    def _grad_array(self, p, dtype):
        g = p._grad.data
        if g.dtype != dtype:
            g = g.astype(dtype)
        return g

    def _step_bucket(self, group, b, names):
        params = b.params
        maximize = group.get("maximize", False)
        keys = []
        have = 0
        for j, p in enumerate(params):
            if p._grad is None:
                keys.append(None)
                continue
            have += 1
            st = self.state.get(p)
            if not st:
                st = self.state[p] = self._init_state(group)
            keys.append(self._advance(st, group))     # sees whether the state arrays existed before
            missing = [n for n in names if n not in st]
            if missing:
                st.update(self._state_views(b, j, missing))
        if have == 0:
            return
        arrays = {n: b.state_array(n) for n in names}
        uniform = have == len(params) and all(k == keys[0] for k in keys)
        if uniform:
            # small parameters: gather their gradients, one call over [0, n_small)
            if b.n_small:
                n = b.n_small
                small = params[:b.n_large_first]
                if len(small) == 1:
                    gsm = self._grad_array(small[0], b.dtype).reshape(-1)
                    if maximize:
                        gsm = -gsm
                else:
                    gsm = b.grad_buffer()
                    b.xp.concatenate([p._grad.data.reshape(-1) for p in small], out=gsm)
                    if maximize:
                        b.xp.negative(gsm, out=gsm)
                self._update(group, b.flat[:n], gsm, {k: a[:n] for k, a in arrays.items()}, keys[0])
            todo = range(b.n_large_first, len(params))
        else:
            todo = range(len(params))
        for j in todo:
            if keys[j] is None:
                continue
            g = self._grad_array(params[j], b.dtype).reshape(-1)
            if maximize:
                g = -g
            self._update(group, b.seg(b.flat, j), g, {k: b.seg(a, j) for k, a in arrays.items()}, keys[j])

    # ------------------------------------------------------------------ state dicts
    def state_dict(self):
        """``{"state": {index: {name: Tensor or number}}, "param_groups": [{..., "params": [indices]}]}``.

        The state Tensors are copies (a later step does not change a state dict already taken);
        ``"step"`` is a 0-d float32 Tensor, as in PyTorch.
        """
        index = {}
        groups = []
        for group in self.param_groups:
            packed = {k: v for k, v in group.items() if k != "params"}
            idx = []
            for p in group["params"]:
                if id(p) not in index:
                    index[id(p)] = len(index)
                idx.append(index[id(p)])
            packed["params"] = idx
            groups.append(packed)
        state = {}
        for group in self.param_groups:
            for p in group["params"]:
                st = self.state.get(p)
                if not st:
                    continue
                out = {}
                for name, val in st.items():
                    if name == "step":
                        out[name] = Tensor._make(backend.numpy.asarray(float(val), dtype="float32"), False, None)
                    elif isinstance(val, Tensor):
                        out[name] = Tensor._make(val.data.copy(), False, None)
                    else:
                        out[name] = val
                state[index[id(p)]] = out
        return {"state": state, "param_groups": groups}

    def load_state_dict(self, state_dict):
        """Restore hyperparameters and state saved by ``state_dict()`` (or loaded by ``tg.load``).

        The saved groups must match the current ones in number and sizes; state arrays are
        converted to their parameter's dtype and device.
        """
        if not isinstance(state_dict, dict) or "state" not in state_dict or "param_groups" not in state_dict:
            raise ValueError("optimizer state dict must be a dict with 'state' and 'param_groups' keys")
        saved_groups = state_dict["param_groups"]
        if len(saved_groups) != len(self.param_groups):
            raise ValueError(f"loaded state dict has {len(saved_groups)} parameter groups, but the optimizer "
                             f"has {len(self.param_groups)}")
        for i, (g, sg) in enumerate(zip(self.param_groups, saved_groups)):
            if len(g["params"]) != len(sg["params"]):
                raise ValueError(f"loaded state dict contains a parameter group that doesn't match the size of "
                                 f"optimizer's group: group {i} has {len(sg['params'])} parameters in the state "
                                 f"dict but {len(g['params'])} in the optimizer")
        id_map = {}
        for g, sg in zip(self.param_groups, saved_groups):
            for idx, p in zip(sg["params"], g["params"]):
                id_map[int(idx)] = p
        saved_state = state_dict["state"]
        new_state = {}
        for key, st in saved_state.items():
            k = int(key)
            if k not in id_map:
                raise ValueError(f"optimizer state dict has state for parameter index {k}, which no group lists")
            p = id_map[k]
            entry = {}
            for name, val in st.items():
                if name == "step":
                    entry[name] = _as_int(val)
                elif isinstance(val, Tensor) or hasattr(val, "shape"):
                    arr = val.data if isinstance(val, Tensor) else val
                    if tuple(arr.shape) != tuple(p.data.shape):
                        raise ValueError(f"optimizer state {name!r} of parameter {k} has shape {tuple(arr.shape)}, "
                                         f"but the parameter has shape {tuple(p.data.shape)}")
                    conv = _as_array_like(arr, p.data)
                    if conv is arr:
                        conv = arr.copy()
                    entry[name] = Tensor._make(conv, False, None)
                else:
                    entry[name] = val
            new_state[p] = entry
        for g, sg in zip(self.param_groups, saved_groups):
            for name, val in sg.items():
                if name != "params":
                    g[name] = tuple(val) if isinstance(val, list) else val
        self.state = defaultdict(dict, new_state)
        self._buckets = {}                        # re-pack on the next step, copying this state in

    # ------------------------------------------------------------------ printing
    def __repr__(self):
        lines = [type(self).__name__ + " ("]
        for i, group in enumerate(self.param_groups):
            lines.append(f"Parameter Group {i}")
            for k in sorted(group):
                if k != "params":
                    lines.append(f"    {k}: {group[k]}")
        lines.append(")")
        return "\n".join(lines)


def _as_int(val):
    """A step count from a number, a 0-d array or a 0-d Tensor."""
    if isinstance(val, Tensor):
        val = val.data
    if hasattr(val, "shape"):
        val = backend.to_numpy(val).reshape(()).item()
    return int(round(float(val)))
