"""Loss functions, each written out with its formula and its gradient next to the code.

``import tinygen.losses as L``. Every loss takes ``reduction="mean" | "sum" | "none"`` with
PyTorch's meaning: ``"none"`` returns the per-element losses, ``"sum"`` their sum, ``"mean"``
their average over *all* elements -- except :func:`kl_normal` and :func:`kl_normal_normal`,
which sum over the last axis (the latent dimensions) first and then average over the batch.

Conventions
-----------
* The first argument (prediction, logits, ...) is a Tensor (an array is wrapped as a constant).
  Targets and labels may be Tensors or arrays; an array or number target takes the prediction's
  dtype and device. A target that is a Tensor requiring grad receives a gradient too.
* Shapes must match exactly where two arguments are compared element by element: a (N,)
  prediction against a (N, 1) target would silently broadcast to (N, N) in NumPy, so it raises
  a ValueError naming the loss and both shapes instead. (Documented exceptions: ``logvar`` of
  :func:`gaussian_nll`, the prior parameters of :func:`kl_normal_normal` and ``pos_weight`` may
  broadcast *to* the prediction's shape, never beyond it.)
* Everything is numerically stable for any finite input in float32 and float64: logs of
  sigmoids and softmaxes go through log-sum-exp forms, never through ``log(sigmoid(x))``.
* BCE-with-logits (without ``pos_weight``) and MSE run as one fused graph node whose forward
  and backward call :mod:`tinygen.kernels` (Numba on the CPU, CuPy kernels on the GPU; host
  arrays under ``FUSED_MIN_SIZE`` elements use the kernels' NumPy references, which beat a
  parallel launch there). Their backward is also written with the dual helpers, so
  ``create_graph=True`` (gradient penalties, Hessian-vector products) differentiates through
  them exactly like the plain composite form, which the tests use as the oracle.
  ``with tinygen.losses.use_fused(False):`` selects that composite form.
"""
from __future__ import annotations

import math
import numbers

import numpy as np

from . import backend
from .autograd import grad_mode
from .autograd.dual import exp, is_tensor, sigmoid, where, xp_of
from .autograd.function import Function
from .tensor import Tensor

__all__ = ["mse", "bce", "bce_with_logits", "cross_entropy", "gaussian_nll", "kl_normal",
           "kl_normal_normal", "gan_d_loss", "gan_g_loss", "wgan_d_loss", "wgan_g_loss",
           "gradient_penalty", "hinge_d_loss", "hinge_g_loss", "use_fused"]

LOG_2PI = math.log(2.0 * math.pi)
_REDUCTIONS = ("mean", "sum", "none")
_BCE_LOG_CLAMP = -100.0          # PyTorch's clamp of log p and log(1 − p) in binary_cross_entropy
_BCE_GRAD_EPS = 1e-12            # PyTorch's floor of p(1 − p) in its gradient
_INF = float("inf")
_GP_TINY = 1e-12                 # ‖∇‖ = sqrt(Σ∇² + tiny): finite gradient at ∇ = 0


# ============================================================================ input helpers

def _check_reduction(loss, reduction):
    if reduction not in _REDUCTIONS:
        raise ValueError(f"{loss}: reduction must be one of 'mean', 'sum', 'none'; got {reduction!r}")


def _input(x, loss, arg):
    """The prediction-like argument as a floating-point Tensor."""
    t = x if isinstance(x, Tensor) else Tensor(x)
    if t.dtype.kind != "f":
        raise TypeError(f"{loss}: {arg} must be floating-point, got dtype {t.dtype}")
    return t


def _like(x, ref, loss, arg):
    """A second operand: a Tensor is kept; an array or number takes ``ref``'s dtype and device."""
    if isinstance(x, Tensor):
        if x.dtype.kind != "f":
            raise TypeError(f"{loss}: {arg} must be floating-point, got dtype {x.dtype} "
                            f"(convert it with .float())")
        return x
    if isinstance(x, (bool, np.bool_)) or (hasattr(x, "dtype") and x.dtype.kind == "b"):
        raise TypeError(f"{loss}: {arg} must be floating-point, got a boolean (convert it to 0./1.)")
    return Tensor(x, dtype=ref.dtype, device=ref.device)


def _same_shape(loss, a, an, b, bn):
    if tuple(a.shape) != tuple(b.shape):
        raise ValueError(f"{loss}: {an} has shape {tuple(a.shape)} but {bn} has shape {tuple(b.shape)}; "
                         f"they must match exactly (no broadcasting; e.g. reshape {bn} to {tuple(a.shape)})")


def _broadcasts_to(loss, a, an, ref, refn):
    """``a`` must broadcast to ``ref``'s shape without enlarging it."""
    try:
        out = np.broadcast_shapes(tuple(a.shape), tuple(ref.shape))
    except ValueError:
        out = None
    if out != tuple(ref.shape):
        raise ValueError(f"{loss}: {an} has shape {tuple(a.shape)}, which does not broadcast to the shape "
                         f"{tuple(ref.shape)} of {refn}")


def _check_unit_interval(loss, t, arg):
    """Values of ``t`` in [0, 1] (NaN is reported too: it fails both comparisons)."""
    d = t.data
    if d.size == 0:
        return
    xp = backend.get_array_module(d)
    lo, hi = xp.min(d), xp.max(d)              # two streaming reductions, no temporaries
    if bool(lo >= 0) and bool(hi <= 1):
        return
    bad = ~((d >= 0) & (d <= 1))
    first = backend.to_numpy(d[bad].reshape(-1)[:1])[0]
    raise ValueError(f"{loss}: {arg} values must lie in [0, 1]; found {float(first)!r} "
                     f"(range [{float(xp.nanmin(d)):g}, {float(xp.nanmax(d)):g}], shape {tuple(d.shape)})")


def _reduce(loss, reduction):
    if reduction == "mean":
        return loss.mean()
    if reduction == "sum":
        return loss.sum()
    return loss


def _full(ref, value):
    """A constant array of ``ref``'s shape, dtype and device filled with ``value``."""
    xp = backend.get_array_module(ref.data)
    return xp.full(ref.shape, value, dtype=ref.dtype)


def _F():
    from . import functional
    return functional


# ============================================================================ small private ops

def _expm1(a):
    """eˣ − 1 on arrays (``xp.expm1``) and Tensors (the differentiable :class:`_Expm1`)."""
    if is_tensor(a):
        return _Expm1.apply(a)
    return xp_of(a).expm1(a)


class _Expm1(Function):
    """y = eˣ − 1, accurate for small x.    ∂L/∂x = g · eˣ."""

    def forward(self, x):
        return self.xp.expm1(x)

    def backward(self, g, y, x):
        return g * exp(x)


class _ExpM1MinusX(Function):
    """y = eᵛ − 1 − v  (≥ 0, = 0 only at v = 0), computed as expm1(v) − v.

    This is the log-variance part of every Gaussian KL. Written naively as exp(v) − 1 − v it
    cancels catastrophically for small v and can come out *negative* in float32; expm1(v) ≥ v
    holds after rounding, so this form is never negative.
    ∂L/∂v = g · (eᵛ − 1) = g · expm1(v).
    """

    def forward(self, v):
        return self.xp.expm1(v) - v

    def backward(self, g, y, v):
        return g * _expm1(v)


def _expm1_minus_x(v):
    return _ExpM1MinusX.apply(v)


# ============================================================================ fused kernels

_kernel_module = []


def _kernels():
    """The tinygen.kernels module (imported once), or None when it is unavailable."""
    if not _kernel_module:
        try:
            from . import kernels
            ok = all(hasattr(kernels, n) for n in ("bce_logits_forward", "bce_logits_backward",
                                                    "mse_forward", "mse_backward"))
        except ImportError:  # pragma: no cover - a broken install
            kernels, ok = None, False
        _kernel_module.append(kernels if ok else None)
    return _kernel_module[0]


_fused_state = {"on": True}


class use_fused:
    """Run BCE-with-logits and MSE as one fused node (True, the default) or as plain Tensor ops.

    A function call switches for the rest of the process; as a context manager it restores the
    previous setting on exit::

        with tinygen.losses.use_fused(False):    # the composite reference form
            loss = L.bce_with_logits(x, z)

    (``tinygen.kernels.use_fused(False)`` is different: the single fused node stays, but the
    kernels run their NumPy references instead of Numba/CuPy.)
    """

    def __init__(self, enabled: bool = True):
        self._previous = _fused_state["on"]
        _fused_state["on"] = bool(enabled)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        _fused_state["on"] = self._previous
        return False


def _fusable(*tensors):
    if not _fused_state["on"]:
        return False
    dt = tensors[0].dtype
    if dt not in (np.float32, np.float64) or any(t.dtype != dt for t in tensors):
        return False
    return _kernels() is not None


def _scale(reduction, n):
    return 1.0 / n if reduction == "mean" else 1.0


# Below this many elements the fused node calls the kernels' NumPy references instead of the
# parallel Numba kernels: a parallel launch costs more than the whole loss on small arrays
# (measured: benchmarks/losses_bench.py). CuPy arrays always go through the dispatcher.
FUSED_MIN_SIZE = 1 << 14


def _small_or_fused(x, name):
    """The kernel entry point ``name`` for this array: the dispatcher, or for a small host array
    its NumPy reference (``<name>_ref``: the same formula, no parallel launch)."""
    if type(x) is np.ndarray and x.size < FUSED_MIN_SIZE:
        from .kernels import losses as kernel_losses
        return getattr(kernel_losses, name + "_ref")
    return getattr(_kernels(), name)


class _BCEWithLogitsFused(Function):
    """BCE-with-logits as one node (any reduction).

    ℓᵢ = max(xᵢ, 0) − xᵢ·zᵢ + log1p(e^{−|xᵢ|});   L = s·Σᵢ ℓᵢ with s = 1/n ("mean"), 1 ("sum");
    L = ℓ for "none".
    ∂L/∂xᵢ = gᵢ·s·(σ(xᵢ) − zᵢ),   ∂L/∂zᵢ = −gᵢ·s·xᵢ     (g: the upstream gradient, a scalar
    unless "none").
    Fast path: ``kernels.bce_logits_forward``/``_backward`` (one pass each; Numba sums in float64).
    Under create_graph the same formulas are built from Tensor ops (σ is differentiable), so
    second derivatives are exact.
    """

    def forward(self, x, z, reduction="mean", check_targets=None):
        """``check_targets``: the (Tensor) target to name in a ValueError if some of its values
        lie outside [0, 1]; the fused kernel counts them in its pass over the data."""
        self.scale = _scale(reduction, x.size)
        f = _small_or_fused(x, "bce_logits_forward")
        if check_targets is None:
            return f(x, z, reduction)
        count = np.zeros(1, np.int64)
        if f.__name__.endswith("_ref"):
            _check_unit_interval("bce_with_logits", check_targets, "target")
            return f(x, z, reduction)
        out = f(x, z, reduction, count_outside=count)
        if count[0]:
            _check_unit_interval("bce_with_logits", check_targets, "target")   # raises, naming a value
        return out

    def backward(self, g, y, x, z):
        nx, nz = self.needs
        s = self.scale
        gs = g * s if s != 1.0 else g
        if is_tensor(g):
            gx = gs * (sigmoid(x) - z) if nx else None
            gz = -(gs * x) if nz else None
            return gx, gz
        gx = _small_or_fused(x, "bce_logits_backward")(x, z, g, s) if nx else None
        gz = -(x * gs) if nz else None
        return gx, gz


class _MSEFused(Function):
    """Squared error as one node (any reduction).

    ℓᵢ = (xᵢ − yᵢ)²;   L = s·Σᵢ ℓᵢ with s = 1/n ("mean"), 1 ("sum");  L = ℓ for "none".
    ∂L/∂xᵢ = 2·gᵢ·s·(xᵢ − yᵢ),   ∂L/∂yᵢ = −∂L/∂xᵢ.
    Fast path: ``kernels.mse_forward``/``_backward``; under create_graph, Tensor ops.
    """

    def forward(self, x, t, reduction="mean"):
        self.scale = _scale(reduction, x.size)
        return _small_or_fused(x, "mse_forward")(x, t, reduction)

    def backward(self, g, y, x, t):
        nx, nt = self.needs
        s = self.scale
        if is_tensor(g):
            d = (x - t) * (g * (2 * s))
            return (d if nx else None), (-d if nt else None)
        gx = _small_or_fused(x, "mse_backward")(x, t, g, s)
        return (gx if nx else None), (-gx if nt else None)


# ============================================================================ regression

def mse(pred, target, reduction="mean"):
    """Mean squared error.

    ℓᵢ = (xᵢ − yᵢ)²           (x = pred, y = target; same shape)
    ∂ℓᵢ/∂xᵢ = 2(xᵢ − yᵢ),     ∂ℓᵢ/∂yᵢ = −2(xᵢ − yᵢ)

    "mean": (1/n) Σᵢ ℓᵢ over all n elements (PyTorch's ``mse_loss``); "sum": Σᵢ ℓᵢ; "none": ℓ.
    Zero exactly at x = y, symmetric in x and y. "mean"/"sum" run fused (see module docstring).
    """
    _check_reduction("mse", reduction)
    x = _input(pred, "mse", "pred")
    y = _like(target, x, "mse", "target")
    _same_shape("mse", x, "pred", y, "target")
    if x.size > 0 and _fusable(x, y):
        return _MSEFused.apply(x, y, reduction=reduction)
    d = x - y
    return _reduce(d * d, reduction)


def gaussian_nll(x, mean, logvar, reduction="mean"):
    """Negative log-likelihood of x under N(mean, exp(logvar)), per element, constant included.

    ℓᵢ = ½ · (log 2π + vᵢ + (xᵢ − μᵢ)² · e^{−vᵢ})        (μ = mean, v = logvar)
    ∂ℓ/∂μ = −(x − μ)·e^{−v},   ∂ℓ/∂x = (x − μ)·e^{−v},   ∂ℓ/∂v = ½·(1 − (x − μ)²·e^{−v})

    "sum" is a true negative log-likelihood in nats. The log-variance parametrization needs no
    clamping: e^{−v} is finite for v ∈ [−30, 20] even in float32 (e³⁰ ≈ 1.1e13), so is every
    term above. ℓ is minimized over μ at μ = x (gradient 0 there) and over v at e^v = (x − μ)².
    ``x`` and ``mean`` have the same shape; ``logvar`` has it too or broadcasts to it (e.g. one
    learned log-variance per feature, shape (D,), or a scalar).
    """
    _check_reduction("gaussian_nll", reduction)
    mu = _input(mean, "gaussian_nll", "mean")
    xt = _like(x, mu, "gaussian_nll", "x")
    v = _like(logvar, mu, "gaussian_nll", "logvar")
    _same_shape("gaussian_nll", xt, "x", mu, "mean")
    _broadcasts_to("gaussian_nll", v, "logvar", xt, "x")
    d = xt - mu
    loss = 0.5 * (LOG_2PI + v + d * d * (-v).exp())
    return _reduce(loss, reduction)


# ============================================================================ binary cross-entropy

class _BCE(Function):
    """Binary cross-entropy on probabilities, logs clamped at −100 as PyTorch does.

    ℓ = −[z · max(log p, −100) + (1 − z) · max(log(1 − p), −100)]
    ∂ℓ/∂p = (p − z) / max(p(1 − p), 1e-12)       (PyTorch's formula: the exact derivative of ℓ
                                                 wherever p(1 − p) ≥ 1e-12, finite at p ∈ {0, 1})
    ∂ℓ/∂z = max(log(1 − p), −100) − max(log p, −100)
    """

    def forward(self, p, z):
        xp = self.xp
        with np.errstate(divide="ignore"):
            lp = xp.maximum(xp.log(p), _BCE_LOG_CLAMP)
            l1p = xp.maximum(xp.log1p(-p), _BCE_LOG_CLAMP)
        return -(z * lp + (1 - z) * l1p)

    def backward(self, g, y, p, z):
        np_, nz = self.needs
        pd = p.data if is_tensor(p) else p
        gp = gz = None
        if np_:
            q = p * (1 - p)
            ok = (pd * (1 - pd)) >= _BCE_GRAD_EPS
            gp = g * (p - z) / where(ok, q, _BCE_GRAD_EPS)
        if nz:
            gz = g * (_clamped_log(p, pd, True) - _clamped_log(p, pd, False))
        return gp, gz


def _clamped_log(p, pd, one_minus):
    """max(log p, −100) (or of 1 − p), on arrays or Tensors; no NaN gradient where clamped."""
    xp = backend.get_array_module(pd)
    q = 1 - pd if one_minus else pd
    with np.errstate(divide="ignore"):
        ok = xp.log(q) > _BCE_LOG_CLAMP
    if not is_tensor(p):
        with np.errstate(divide="ignore"):
            return xp.maximum(xp.log1p(-pd) if one_minus else xp.log(pd), _BCE_LOG_CLAMP)
    arg = (1 - p) if one_minus else p
    safe = where(ok, arg, 1.0)                 # log of 1 where clamped: no 0 · (1/0) in backward
    return where(ok, safe.log(), _BCE_LOG_CLAMP)


def bce(prob, target, reduction="mean"):
    """Binary cross-entropy on probabilities p ∈ [0, 1] with targets z ∈ [0, 1].

    ℓ = −[z · log p + (1 − z) · log(1 − p)],   each log clamped to ≥ −100 (as PyTorch), so
    p ∈ {0, 1} gives a finite loss (at most 100) instead of inf.
    ∂ℓ/∂p = (p − z) / (p(1 − p))   (denominator floored at 1e-12, as PyTorch),
    ∂ℓ/∂z = log(1 − p) − log p.
    Prefer :func:`bce_with_logits` on logits: computing p = σ(x) first loses everything beyond
    |x| ≈ 17 (float64) or 9 (float32) to rounding. Values outside [0, 1] raise ValueError.
    """
    _check_reduction("bce", reduction)
    p = _input(prob, "bce", "prob")
    z = _like(target, p, "bce", "target")
    _same_shape("bce", p, "prob", z, "target")
    _check_unit_interval("bce", p, "prob")
    _check_unit_interval("bce", z, "target")
    return _reduce(_BCE.apply(p, z), reduction)


def _bce_with_logits_plain(x, z, pos_weight=None):
    """Element-wise BCE-with-logits from Tensor ops (the reference form; smooth everywhere).

    ℓ = z·softplus(−x) + (1 − z)·softplus(x) = max(x,0) − x·z + log1p(e^{−|x|});  with pos_weight w:
    ℓ = w·z·softplus(−x) + (1 − z)·softplus(x).  softplus is log-sum-exp stable, and this form
    (unlike relu(x) − x·z + softplus(−|x|)) has the right gradient σ(x) − z at x = 0 too.
    """
    F = _F()
    # threshold=inf: the exact softplus everywhere (PyTorch's default threshold of 20 returns x
    # itself above it, a relative error of ~e^{-20}/20 that a float64 BCE should not have)
    pos = z * F.softplus(-x, threshold=_INF)
    if pos_weight is not None:
        pos = pos * pos_weight
    return pos + (1 - z) * F.softplus(x, threshold=_INF)


def _bce_with_logits(x, z, reduction, pos_weight=None, check=False):
    """Targets checked to lie in [0, 1] only with ``check`` (the GAN losses build their own);
    the fused node checks them in its own pass over the data."""
    if pos_weight is None and x.size > 0 and _fusable(x, z):
        return _BCEWithLogitsFused.apply(x, z, reduction=reduction, check_targets=z if check else None)
    if check:
        _check_unit_interval("bce_with_logits", z, "target")
    return _reduce(_bce_with_logits_plain(x, z, pos_weight), reduction)


def bce_with_logits(logits, target, reduction="mean", pos_weight=None):
    """Binary cross-entropy on logits x with targets z ∈ [0, 1]: BCE(σ(x), z) without computing σ(x).

    ℓ = −[z · log σ(x) + (1 − z) · log(1 − σ(x))]
      = max(x, 0) − x·z + log1p(e^{−|x|})          (stable for every finite x: e^{−|x|} ≤ 1)
      = z·softplus(−x) + (1 − z)·softplus(x)
    ∂ℓ/∂x = σ(x) − z,     ∂ℓ/∂z = −x.

    ``pos_weight`` w (as PyTorch; broadcast over the last axis, e.g. one weight per class)
    multiplies the positive term: ℓ = w·z·softplus(−x) + (1 − z)·softplus(x), so
    ∂ℓ/∂x = (1 − z) − (w·z + 1 − z)·σ(−x).
    "mean"/"sum" without pos_weight run as one fused node (see module docstring).
    Targets outside [0, 1] raise ValueError.
    """
    _check_reduction("bce_with_logits", reduction)
    x = _input(logits, "bce_with_logits", "logits")
    z = _like(target, x, "bce_with_logits", "target")
    _same_shape("bce_with_logits", x, "logits", z, "target")
    w = None
    if pos_weight is not None:
        w = _like(pos_weight, x, "bce_with_logits", "pos_weight")
        _broadcasts_to("bce_with_logits", w, "pos_weight", x, "logits")
    return _bce_with_logits(x, z, reduction, w, check=True)


# ============================================================================ cross-entropy

def cross_entropy(logits, labels, reduction="mean", label_smoothing=0.0):
    """Softmax cross-entropy with integer class labels.

    logits x: (N, C) or (N, C, d₁, ...) (class axis 1, as PyTorch) or unbatched (C,);
    labels y: integer class indices in [0, C) of shape (N,) / (N, d₁, ...) / ().
    With log pₖ = log_softmax(x)ₖ = xₖ − log Σⱼ e^{xⱼ} (log-sum-exp, stable for any finite x):

    ℓ = −Σₖ qₖ · log pₖ,   q = (1 − ε)·onehot(y) + ε/C       (ε = label_smoothing)
      = −(1 − ε)·log p_y − (ε/C)·Σₖ log pₖ
    ∂ℓ/∂xₖ = pₖ − qₖ           (softmax minus the smoothed one-hot target)

    "mean" averages over N (and d₁, ...), "sum" sums, "none" has the labels' shape.
    Non-integer labels raise TypeError; labels outside [0, C) raise ValueError.
    """
    _check_reduction("cross_entropy", reduction)
    x = _input(logits, "cross_entropy", "logits")
    if not isinstance(label_smoothing, numbers.Real) or not 0.0 <= float(label_smoothing) <= 1.0:
        raise ValueError(f"cross_entropy: label_smoothing must be a number in [0, 1], got {label_smoothing!r}")
    lab = labels.data if isinstance(labels, Tensor) else labels
    if not hasattr(lab, "dtype"):
        lab = np.asarray(lab)
    if lab.dtype.kind not in "iu":
        raise TypeError(f"cross_entropy: labels must be integer class indices, got dtype {lab.dtype} "
                        f"(shape {tuple(lab.shape)}); for soft/probability targets use a one-hot "
                        f"formulation, for float-valued indices convert with .astype(int64)")
    if x.ndim == 0:
        raise ValueError("cross_entropy: logits must have a class axis, got a 0-d tensor")
    unbatched = x.ndim == 1
    if unbatched:
        x = x.reshape(1, x.shape[0])
        lab = lab.reshape((1,) + tuple(lab.shape))
    n, c = x.shape[0], x.shape[1]
    expected = (n,) + tuple(x.shape[2:])
    if tuple(lab.shape) != expected:
        shown = (c,) if unbatched else tuple(x.shape)
        lab_shown = tuple(lab.shape[1:]) if unbatched else tuple(lab.shape)
        raise ValueError(f"cross_entropy: logits of shape {shown} need labels of shape "
                         f"{expected[1:] if unbatched else expected}, got labels of shape {lab_shown}")
    xp = backend.get_array_module(x.data)
    lab = backend.to_device(lab, x.device) if backend.device_of(lab) != x.device else lab
    if lab.size:
        lo, hi = int(lab.min()), int(lab.max())
        if lo < 0 or hi >= c:
            bad = lo if lo < 0 else hi
            raise ValueError(f"cross_entropy: label {bad} is out of range for {c} classes "
                             f"(labels must lie in [0, {c}); logits shape {tuple(x.shape)})")
    logp = _F().log_softmax(x, axis=1)
    # move the class axis last and gather log p at the label of every position
    if x.ndim > 2:
        logp_last = logp.permute(0, *range(2, x.ndim), 1)
    else:
        logp_last = logp
    flat = logp_last.reshape(-1, c)
    rows = xp.arange(flat.shape[0])
    picked = flat[rows, lab.reshape(-1).astype(xp.int64, copy=False)]
    loss = -picked.reshape(tuple(lab.shape))
    eps = float(label_smoothing)
    if eps > 0.0:
        smooth = -logp.sum(axis=1) / c
        loss = loss * (1.0 - eps) + smooth * eps
    if unbatched:
        loss = loss.reshape(())
    return _reduce(loss, reduction)


# ============================================================================ Gaussian KL

def _kl_reduce(per_dim, reduction):
    """Σ over the last axis, then mean/sum over the batch ("none": per-example, shape[:-1])."""
    per_example = per_dim.sum(axis=-1)
    if reduction == "none":
        return per_example
    return per_example.mean() if reduction == "mean" else per_example.sum()


def kl_normal(mu, logvar, reduction="mean"):
    """KL(N(μ, diag e^v) ‖ N(0, I)) per example, summed over the last (latent) axis.

    KL = ½ Σⱼ (e^{vⱼ} + μⱼ² − 1 − vⱼ) = ½ Σⱼ (μⱼ² + [expm1(vⱼ) − vⱼ])
    ∂KL/∂μⱼ = μⱼ,     ∂KL/∂vⱼ = ½ (e^{vⱼ} − 1)

    Each term is ≥ 0 and KL = 0 exactly at μ = 0, v = 0; expm1(v) − v keeps that true after
    rounding (e^v − 1 − v computed directly can be slightly negative in float32). Finite for
    v ∈ [−30, 20] in float32 and float64. "none": shape mu.shape[:-1]; "mean": averaged over the
    batch (all leading axes); "sum": summed over everything -- the VAE's KL term.
    """
    _check_reduction("kl_normal", reduction)
    m = _input(mu, "kl_normal", "mu")
    v = _like(logvar, m, "kl_normal", "logvar")
    _same_shape("kl_normal", m, "mu", v, "logvar")
    if m.ndim == 0:
        raise ValueError("kl_normal: mu needs at least one axis (the latent dimensions), got a 0-d tensor")
    per_dim = 0.5 * (m * m + _expm1_minus_x(v))
    return _kl_reduce(per_dim, reduction)


def kl_normal_normal(mu1, logvar1, mu2, logvar2, reduction="mean"):
    """KL(N(μ₁, diag e^{v₁}) ‖ N(μ₂, diag e^{v₂})) per example, summed over the last axis.

    KL = ½ Σⱼ (v₂ − v₁ + (e^{v₁} + (μ₁ − μ₂)²)·e^{−v₂} − 1)
       = ½ Σⱼ ([expm1(δ) − δ] + (μ₁ − μ₂)²·e^{−v₂}),        δ = v₁ − v₂
    ∂KL/∂μ₁ = (μ₁ − μ₂)·e^{−v₂} = −∂KL/∂μ₂
    ∂KL/∂v₁ = ½ (e^{δ} − 1)
    ∂KL/∂v₂ = ½ (1 − e^{δ} − (μ₁ − μ₂)²·e^{−v₂})

    Both bracketed terms are ≥ 0 after rounding, KL = 0 at q = p, and at μ₂ = 0, v₂ = 0 this is
    exactly :func:`kl_normal`. Working with δ = v₁ − v₂ avoids forming e^{v₁}/e^{v₂}, finite for
    v ∈ [−30, 20]. ``mu1``/``logvar1`` have one shape; ``mu2``/``logvar2`` have it or broadcast
    to it (e.g. a learned prior of shape (D,)).
    """
    _check_reduction("kl_normal_normal", reduction)
    m1 = _input(mu1, "kl_normal_normal", "mu1")
    v1 = _like(logvar1, m1, "kl_normal_normal", "logvar1")
    m2 = _like(mu2, m1, "kl_normal_normal", "mu2")
    v2 = _like(logvar2, m1, "kl_normal_normal", "logvar2")
    _same_shape("kl_normal_normal", m1, "mu1", v1, "logvar1")
    _broadcasts_to("kl_normal_normal", m2, "mu2", m1, "mu1")
    _broadcasts_to("kl_normal_normal", v2, "logvar2", m1, "mu1")
    if m1.ndim == 0:
        raise ValueError("kl_normal_normal: mu1 needs at least one axis (the latent dimensions), got a 0-d tensor")
    d = m1 - m2
    per_dim = 0.5 * (_expm1_minus_x(v1 - v2) + d * d * (-v2).exp())
    return _kl_reduce(per_dim, reduction)


# ============================================================================ GAN losses

def _pair_none(loss, real, fake):
    if tuple(real.shape) != tuple(fake.shape):
        raise ValueError(f"{loss}: reduction='none' adds the real and fake terms element-wise, so they need "
                         f"one shape; got real {tuple(real.shape)} and fake {tuple(fake.shape)} "
                         f"(use 'mean' or 'sum' for batches of different sizes)")


def gan_d_loss(real_logits, fake_logits, label_smoothing=0.0, reduction="mean"):
    """Discriminator loss of the original GAN, on logits (D(x) = σ(logit)).

    L_D = BCE(real, 1 − s) + BCE(fake, 0)        (s = label_smoothing; each term reduced, then added)
        = [(1 − s)·softplus(−r) + s·softplus(r)] + softplus(f)
    ∂/∂r = σ(r) − (1 − s),    ∂/∂f = σ(f)

    One-sided label smoothing (Salimans et al. 2016): only the real target moves, to 1 − s; fake
    targets stay 0. "none" returns the element-wise sum of the two terms (same shapes needed).
    """
    _check_reduction("gan_d_loss", reduction)
    r = _input(real_logits, "gan_d_loss", "real_logits")
    f = _like(fake_logits, r, "gan_d_loss", "fake_logits")
    if not isinstance(label_smoothing, numbers.Real) or not 0.0 <= float(label_smoothing) < 1.0:
        raise ValueError(f"gan_d_loss: label_smoothing must be a number in [0, 1), got {label_smoothing!r}")
    if reduction == "none":
        _pair_none("gan_d_loss", r, f)
    real_term = _bce_with_logits(r, _full(r, 1.0 - float(label_smoothing)), reduction)
    fake_term = _bce_with_logits(f, _full(f, 0.0), reduction)
    return real_term + fake_term


def gan_g_loss(fake_logits, saturating=False, reduction="mean"):
    """Generator loss of the original GAN, on the discriminator's logits f = logit D(G(z)).

    non-saturating (default):  L_G = BCE(f, 1) = −log D(G(z)) = softplus(−f),   ∂/∂f = σ(f) − 1
    saturating (minimax):      L_G = log(1 − D(G(z))) = −BCE(f, 0) = −softplus(f),   ∂/∂f = −σ(f)

    The saturating form's gradient vanishes when D confidently rejects fakes (f ≪ 0), which is
    exactly early in training; the non-saturating form has gradient ≈ −1 there.
    """
    _check_reduction("gan_g_loss", reduction)
    f = _input(fake_logits, "gan_g_loss", "fake_logits")
    if saturating:
        return -_bce_with_logits(f, _full(f, 0.0), reduction)
    return _bce_with_logits(f, _full(f, 1.0), reduction)


def wgan_d_loss(real_scores, fake_scores, reduction="mean"):
    """Wasserstein critic loss: L_D = mean(C(fake)) − mean(C(real)).

    ∂L/∂fᵢ = 1/n_f,   ∂L/∂rᵢ = −1/n_r  ("mean"); ±1 for "sum"; "none": f − r element-wise.
    Unbounded below by design: constrain the critic (gradient_penalty, weight clipping).
    """
    _check_reduction("wgan_d_loss", reduction)
    r = _input(real_scores, "wgan_d_loss", "real_scores")
    f = _like(fake_scores, r, "wgan_d_loss", "fake_scores")
    if reduction == "none":
        _pair_none("wgan_d_loss", r, f)
        return f - r
    return _reduce(f, reduction) - _reduce(r, reduction)


def wgan_g_loss(fake_scores, reduction="mean"):
    """Wasserstein generator loss: L_G = −mean(C(fake)).    ∂L/∂fᵢ = −1/n."""
    _check_reduction("wgan_g_loss", reduction)
    f = _input(fake_scores, "wgan_g_loss", "fake_scores")
    return _reduce(-f, reduction)


def hinge_d_loss(real_scores, fake_scores, reduction="mean"):
    """Hinge discriminator loss (Lim & Ye 2017; SN-GAN, BigGAN).

    L_D = mean(relu(1 − r)) + mean(relu(1 + f))
    ∂/∂rᵢ = −[rᵢ < 1]/n_r,   ∂/∂fᵢ = [fᵢ > −1]/n_f      (0 at the kinks, as relu)
    Zero once real scores are ≥ 1 and fake scores ≤ −1. "none": element-wise sum (same shapes).
    """
    _check_reduction("hinge_d_loss", reduction)
    r = _input(real_scores, "hinge_d_loss", "real_scores")
    f = _like(fake_scores, r, "hinge_d_loss", "fake_scores")
    if reduction == "none":
        _pair_none("hinge_d_loss", r, f)
    return _reduce((1 - r).relu(), reduction) + _reduce((1 + f).relu(), reduction)


def hinge_g_loss(fake_scores, reduction="mean"):
    """Hinge generator loss: L_G = −mean(D(G(z))).    ∂L/∂fᵢ = −1/n."""
    _check_reduction("hinge_g_loss", reduction)
    f = _input(fake_scores, "hinge_g_loss", "fake_scores")
    return _reduce(-f, reduction)


def gradient_penalty(critic, real, fake, weight=1.0, reduction="mean"):
    """WGAN-GP gradient penalty (Gulrajani et al. 2017), *raw* by default: multiply by λ yourself.

    x̂ = ε·x + (1 − ε)·x̃,   ε ~ U[0, 1] per example (from ``tinygen.random.generator``)
    ‖∇‖ₙ = sqrt(Σ_{features} (∂C(x̂)/∂x̂ₙ)² + 1e-12)       (per example n)
    GP = weight · mean_n (‖∇‖ₙ − 1)²

    ∇ comes from ``tg.grad(critic(x̂).sum(), x̂, create_graph=True)``, so GP is differentiable
    with respect to the critic's parameters (its gradient involves second derivatives of the
    critic). x̂ is a fresh leaf: real and fake are treated as constants, as in the paper's code.
    The 1e-12 inside the root keeps the gradient finite where ∇ = 0 (a plain ‖·‖ has a 0/0
    there); it shifts ‖∇‖ by at most 5e-13 relative near the target norm 1.

    ``weight`` defaults to 1.0, i.e. the raw penalty, as PyTorch users expect; the paper's
    λ = 10 is ``weight=10.0`` (or ``10 * gradient_penalty(...)``). "none": per-example
    (‖∇‖ₙ − 1)² · weight, shape (N,).
    """
    _check_reduction("gradient_penalty", reduction)
    if not callable(critic):
        raise TypeError(f"gradient_penalty: critic must be callable (a module or function), got {type(critic).__name__}")
    x = _input(real, "gradient_penalty", "real")
    xf = _like(fake, x, "gradient_penalty", "fake")
    _same_shape("gradient_penalty", x, "real", xf, "fake")
    if x.ndim == 0:
        raise ValueError("gradient_penalty: real needs a batch axis, got a 0-d tensor")
    from . import random as _random
    from .autograd.engine import grad as _grad
    n = x.shape[0]
    # ε ~ U[0, 1) per example; Generator.random exists on NumPy's and CuPy's generators alike
    eps = _random.generator(x.device).random((n,) + (1,) * (x.ndim - 1)).astype(x.dtype, copy=False)
    xhat_data = eps * x.data + (1 - eps) * xf.data
    xhat = Tensor._make(xhat_data.astype(x.dtype, copy=False), False, None).requires_grad_(True)
    build_graph = grad_mode.is_grad_enabled()
    with grad_mode.enable_grad():      # ∇ needs the critic's graph even under tg.no_grad()
        out = critic(xhat)
        if not isinstance(out, Tensor):
            raise TypeError(f"gradient_penalty: critic must return a Tensor, got {type(out).__name__}")
        if out.requires_grad:
            (g,) = _grad(out.sum(), xhat, create_graph=build_graph, allow_unused=True)
        else:
            g = None
    if g is not None and not build_graph:
        g = g.detach()
    if g is None:      # the critic ignores its input: ∇ = 0 everywhere
        g = Tensor._make(backend.get_array_module(x.data).zeros(x.shape, dtype=x.dtype), False, None)
    g = g.reshape(n, -1)
    norm = ((g * g).sum(axis=1) + _GP_TINY).sqrt()
    pen = (norm - 1) * (norm - 1)
    if weight != 1.0:
        pen = pen * weight
    return _reduce(pen, reduction)
