"""2-D convolution and transposed convolution (NCHW, PyTorch weight layouts).

conv2d by im2col + one GEMM (im2col/col2im are the kernels package's: a Numba kernel on the
CPU, a CuPy kernel on the GPU, the array reference elsewhere). With K = C_in·kH·kW and
L = N·H_out·W_out,

    cols = im2col(x)                  (K, L)     column (n, ho, wo) holds the patch under it
    y    = W₂ cols                    (C_out, L) W₂ = w.reshape(C_out, K), then to NCHW

and the three adjoints are one GEMM each:

    ∂L/∂x = col2im(W₂ᵀ g₂)            = conv_transpose2d(g, w)          g₂ = g as (C_out, L)
    ∂L/∂w = g₂ colsᵀ                  = weight_grad(x, g)  (a Function of its own)
    ∂L/∂b = Σ_{n,h,w} g

conv_transpose2d(x, w) is the adjoint of conv2d(·, w) with respect to its input (same weight
array: (C_in, C_out, kH, kW) for the transpose is (C_out', C_in', kH, kW) for the conv), so

    conv_transpose2d:  y = col2im(W₂ᵀ x₂),  ∂L/∂x = conv2d(g, w),  ∂L/∂w = weight_grad(g, x).

Double backward (WGAN-GP penalties through convolutional critics): the three ops — Conv2d,
ConvTranspose2d, Conv2dWeightGrad — have backwards written with each other's ``apply``
(under create_graph) or array functions (fast path), so every derivative is again made of
convolutions. weight_grad(x, g) is bilinear; its adjoints are
    ∂/∂x ⟨G, weight_grad(x, g)⟩ = conv_transpose2d(g, G),   ∂/∂g = conv2d(x, G).
"""
from __future__ import annotations

from .. import backend
from ..kernels import col2im, im2col
from .dual import is_tensor
from .function import Function


# --------------------------------------------------------------------------- arguments
def pair(v, name, op, minimum=0):
    """An int or a pair of ints → (h, w), checked to be ≥ ``minimum``."""
    if isinstance(v, (tuple, list)):
        if len(v) != 2:
            raise ValueError(f"{op}: {name} must be an int or a pair of ints, got {v!r}")
        h, w = v
    else:
        h = w = v
    try:
        h, w = int(h), int(w)
    except (TypeError, ValueError):
        raise TypeError(f"{op}: {name} must be an int or a pair of ints, got {v!r}") from None
    if h < minimum or w < minimum:
        raise ValueError(f"{op}: {name} must be >= {minimum}, got {v!r}")
    return h, w


def conv_out_size(size, k, s, p):
    return (size + 2 * p - k) // s + 1


def _to_cl(a):
    """(N, C, H, W) → (C, N·H·W) contiguous."""
    n, c, h, w = a.shape
    return a.transpose(1, 0, 2, 3).reshape(c, n * h * w)


def _from_cl(a2, n, h, w):
    """(C, N·H·W) → (N, C, H, W) contiguous."""
    c = a2.shape[0]
    xp = backend.get_array_module(a2)
    return xp.ascontiguousarray(a2.reshape(c, n, h, w).transpose(1, 0, 2, 3))


# --------------------------------------------------------------------------- array versions
def conv2d_array(x, w, b, stride, padding, return_cols=False):
    (sh, sw), (ph, pw) = stride, padding
    n, _, h, wd = x.shape
    c_out, _, kh, kw = w.shape
    ho, wo = conv_out_size(h, kh, sh, ph), conv_out_size(wd, kw, sw, pw)
    cols = im2col(x, kh, kw, (sh, sw), (ph, pw))
    y2 = w.reshape(c_out, -1) @ cols
    if b is not None:
        y2 += b.reshape(c_out, 1)
    y = _from_cl(y2, n, ho, wo)
    return (y, cols) if return_cols else y


def conv_transpose2d_array(x, w, b, stride, padding, out_hw):
    (sh, sw), (ph, pw) = stride, padding
    n, c_in, h, wd = x.shape
    _, c_out, kh, kw = w.shape
    cols = w.reshape(c_in, -1).T @ _to_cl(x)
    y = col2im(cols, (n, c_out) + tuple(out_hw), kh, kw, (sh, sw), (ph, pw))
    if b is not None:
        y += b.reshape(1, c_out, 1, 1)
    return y


def conv2d_weight_grad_array(x, g, kernel_size, stride, padding):
    (kh, kw), (sh, sw), (ph, pw) = kernel_size, stride, padding
    cols = im2col(x, kh, kw, (sh, sw), (ph, pw))
    gw = _to_cl(g) @ cols.T
    return gw.reshape(g.shape[1], x.shape[1], kh, kw)


# --------------------------------------------------------------------------- dispatch (array or Tensor)
def _conv2d_any(x, w, stride, padding):
    if is_tensor(x) or is_tensor(w):
        return Conv2d.apply(x, w, None, stride=stride, padding=padding)
    return conv2d_array(x, w, None, stride, padding)


def _conv_t_any(x, w, stride, padding, out_hw):
    if is_tensor(x) or is_tensor(w):
        return ConvTranspose2d.apply(x, w, None, stride=stride, padding=padding, output_size=out_hw)
    return conv_transpose2d_array(x, w, None, stride, padding, out_hw)


def _wgrad_any(x, g, kernel_size, stride, padding):
    if is_tensor(x) or is_tensor(g):
        return Conv2dWeightGrad.apply(x, g, kernel_size=kernel_size, stride=stride, padding=padding)
    return conv2d_weight_grad_array(x, g, kernel_size, stride, padding)


def _bias_grad(g):
    return g.sum(axis=(0, 2, 3))


# --------------------------------------------------------------------------- checks
def _check_conv(op, x, w, b, stride, padding, transposed):
    if x.ndim != 4:
        raise ValueError(f"{op}: input must be 4-D (N, C, H, W), got shape {x.shape}")
    if w.ndim != 4:
        layout = "(C_in, C_out, kH, kW)" if transposed else "(C_out, C_in, kH, kW)"
        raise ValueError(f"{op}: weight must be 4-D {layout}, got shape {w.shape}")
    w_in = w.shape[0] if transposed else w.shape[1]
    if x.shape[1] != w_in:
        raise ValueError(f"{op}: input has {x.shape[1]} channels but weight expects {w_in} "
                         f"(input {x.shape}, weight {w.shape})")
    c_out = w.shape[1] if transposed else w.shape[0]
    if b is not None and tuple(b.shape) != (c_out,):
        raise ValueError(f"{op}: bias must have shape ({c_out},), got {b.shape} (weight {w.shape})")
    if not transposed:
        (sh, sw), (ph, pw) = stride, padding
        kh, kw = w.shape[2:]
        if x.shape[2] + 2 * ph < kh or x.shape[3] + 2 * pw < kw:
            raise ValueError(f"{op}: kernel ({kh}, {kw}) is larger than the padded input "
                             f"({x.shape[2] + 2 * ph}, {x.shape[3] + 2 * pw}) (input {x.shape}, padding {padding})")


# --------------------------------------------------------------------------- Functions
class Conv2d(Function):
    """y = conv2d(x, w) + b   (cross-correlation, as PyTorch).
    ∂L/∂x = conv_transpose2d(g, w),  ∂L/∂w = weight_grad(x, g),  ∂L/∂b = Σ_{n,h,w} g."""

    def forward(self, x, w, b=None, stride=(1, 1), padding=(0, 0)):
        _check_conv("conv2d", x, w, b, stride, padding, transposed=False)
        self.stride, self.padding = stride, padding
        y, cols = conv2d_array(x, w, b, stride, padding, return_cols=True)
        # the columns are kept for the weight gradient (one GEMM, no second im2col); they are
        # freed with the node, or right away when nothing records it (no_grad, constants)
        self.cols = cols
        return y

    def backward(self, g, y, x, w, b=None):
        nx, nw, nb = (list(self.needs) + [False])[:3]
        gx = _conv_t_any(g, w, self.stride, self.padding, tuple(x.shape[2:])) if nx else None
        gw = None
        if nw:
            if not is_tensor(g) and not is_tensor(x) and self.cols is not None:
                gw = (_to_cl(g) @ self.cols.T).reshape(w.shape)
            else:
                gw = _wgrad_any(x, g, tuple(w.shape[2:]), self.stride, self.padding)
        gb = _bias_grad(g) if nb else None
        return gx, gw, gb

    def release(self):
        super().release()
        self.cols = None


class ConvTranspose2d(Function):
    """y = conv_transpose2d(x, w) + b: the adjoint of conv2d(·, w), scattered by col2im.
    ∂L/∂x = conv2d(g, w),  ∂L/∂w = weight_grad(g, x),  ∂L/∂b = Σ_{n,h,w} g.

    ``output_size`` (H_out, W_out) fixes the output; the public function derives it from
    ``output_padding``: H_out = (H − 1)·s − 2p + kH + output_padding."""

    def forward(self, x, w, b=None, stride=(1, 1), padding=(0, 0), output_size=None):
        _check_conv("conv_transpose2d", x, w, b, stride, padding, transposed=True)
        (sh, sw), (ph, pw) = stride, padding
        kh, kw = w.shape[2:]
        if output_size is None:
            output_size = ((x.shape[2] - 1) * sh - 2 * ph + kh, (x.shape[3] - 1) * sw - 2 * pw + kw)
        ho, wo = output_size
        if ho < 1 or wo < 1:
            raise ValueError(f"conv_transpose2d: the output would be {ho}x{wo} (input {x.shape}, weight {w.shape}, "
                             f"stride {stride}, padding {padding}); reduce the padding")
        if conv_out_size(ho, kh, sh, ph) != x.shape[2] or conv_out_size(wo, kw, sw, pw) != x.shape[3]:
            raise ValueError(f"conv_transpose2d: output size {output_size} does not match input {x.shape} with "
                             f"kernel ({kh}, {kw}), stride {stride}, padding {padding}")
        self.stride, self.padding, self.out_hw = stride, padding, (ho, wo)
        return conv_transpose2d_array(x, w, b, stride, padding, (ho, wo))

    def backward(self, g, y, x, w, b=None):
        nx, nw, nb = (list(self.needs) + [False])[:3]
        gx = _conv2d_any(g, w, self.stride, self.padding) if nx else None
        gw = _wgrad_any(g, x, tuple(w.shape[2:]), self.stride, self.padding) if nw else None
        gb = _bias_grad(g) if nb else None
        return gx, gw, gb


class Conv2dWeightGrad(Function):
    """gw = ∂⟨g, conv2d(x, w)⟩/∂w = g₂ im2col(x)ᵀ   (bilinear in x and g).
    Adjoints for upstream G (shape of w):  ∂/∂x = conv_transpose2d(g, G),  ∂/∂g = conv2d(x, G)."""

    def forward(self, x, g, kernel_size, stride, padding):
        self.kernel_size, self.stride, self.padding = kernel_size, stride, padding
        return conv2d_weight_grad_array(x, g, kernel_size, stride, padding)

    def backward(self, gg, y, x, g):
        nx, ng = self.needs
        dx = _conv_t_any(g, gg, self.stride, self.padding, tuple(x.shape[2:])) if nx else None
        dg = _conv2d_any(x, gg, self.stride, self.padding) if ng else None
        return dx, dg
