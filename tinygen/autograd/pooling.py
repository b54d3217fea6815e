"""Pooling and upsampling on NCHW tensors: max_pool2d, avg_pool2d, upsample_nearest.

Windows are visited by their kH·kW offsets (i, j): the offset-(i, j) element of every window is
the strided slice x_pad[:, :, i::sH, j::sW] (of the output's size), so each op is kH·kW
vectorised array operations on any device, and the adjoints are the same slices, added back.

    max_pool2d:       y = max over the window;  ∂L/∂x: g routed to the arg-max of its window
                      (a window's first maximum, so exactly one element per window gets it).
    avg_pool2d:       y = (1/(kH·kW)) Σ window  (zero padding counted, as PyTorch's default);
                      ∂L/∂x: g/(kH·kW) spread over the window.
    upsample_nearest: y[.., h·s + a, w·s + b] = x[.., h, w];  ∂L/∂x: g summed over each s×s block.

Each backward is linear in g and is itself a Function whose backward is the forward gather
again (scatter ↔ gather), so second derivatives work.
"""
from __future__ import annotations

from .. import backend
from .conv import conv_out_size, pair
from .dual import is_tensor
from .function import Function


class _Geometry:
    """Window geometry of one pooling call."""

    def __init__(self, op, x_shape, kernel_size, stride, padding):
        if len(x_shape) != 4:
            raise ValueError(f"{op}: input must be 4-D (N, C, H, W), got shape {tuple(x_shape)}")
        self.kh, self.kw = pair(kernel_size, "kernel_size", op, 1)
        self.sh, self.sw = pair(stride if stride is not None else kernel_size, "stride", op, 1)
        self.ph, self.pw = pair(padding, "padding", op, 0)
        if 2 * self.ph > self.kh or 2 * self.pw > self.kw:
            raise ValueError(f"{op}: padding {padding} must be at most half the kernel size {kernel_size}")
        n, c, h, w = x_shape
        self.x_shape = tuple(x_shape)
        self.ho = conv_out_size(h, self.kh, self.sh, self.ph)
        self.wo = conv_out_size(w, self.kw, self.sw, self.pw)
        if self.ho < 1 or self.wo < 1:
            raise ValueError(f"{op}: kernel {kernel_size} is larger than the padded input "
                             f"({h + 2 * self.ph}, {w + 2 * self.pw}) (input {tuple(x_shape)})")

    @property
    def out_shape(self):
        return self.x_shape[:2] + (self.ho, self.wo)

    def offsets(self):
        for i in range(self.kh):
            for j in range(self.kw):
                yield i * self.kw + j, (slice(None), slice(None),
                                        slice(i, i + self.sh * (self.ho - 1) + 1, self.sh),
                                        slice(j, j + self.sw * (self.wo - 1) + 1, self.sw))

    def pad(self, x, value=0.0):
        if not (self.ph or self.pw):
            return x
        xp = backend.get_array_module(x)
        return xp.pad(x, ((0, 0), (0, 0), (self.ph, self.ph), (self.pw, self.pw)), constant_values=value)

    def crop(self, xpad):
        if not (self.ph or self.pw):
            return xpad
        h, w = self.x_shape[2:]
        return xpad[:, :, self.ph:self.ph + h, self.pw:self.pw + w]

    def padded_zeros(self, dtype, xp):
        n, c, h, w = self.x_shape
        return xp.zeros((n, c, h + 2 * self.ph, w + 2 * self.pw), dtype=dtype)


# --------------------------------------------------------------------------- max pooling
def _max_scatter(g, geo, arg):
    """zeros like x with g[n, c, ho, wo] added at the arg-max of window (ho, wo)."""
    xp = backend.get_array_module(g)
    out = geo.padded_zeros(g.dtype, xp)
    for k, sl in geo.offsets():
        out[sl] += xp.where(arg == k, g, 0)
    return geo.crop(out)


def _max_gather(gx, geo, arg):
    """The adjoint of _max_scatter: out[n, c, ho, wo] = gx at the arg-max of window (ho, wo)."""
    xp = backend.get_array_module(gx)
    gp = geo.pad(gx)
    out = xp.zeros(geo.out_shape, dtype=gx.dtype)
    for k, sl in geo.offsets():
        out += xp.where(arg == k, gp[sl], 0)
    return out


class MaxPool2d(Function):
    """y = max over each kH×kW window (padding counts as −∞).
    ∂L/∂x = g routed to each window's arg-max (summed where windows overlap)."""

    def forward(self, x, kernel_size, stride=None, padding=0):
        geo = self.geo = _Geometry("max_pool2d", x.shape, kernel_size, stride, padding)
        xp = self.xp
        xpad = geo.pad(x, -xp.inf) if x.dtype.kind == "f" else geo.pad(x, x.min() if x.size else 0)
        best = arg = None
        for k, sl in geo.offsets():
            v = xpad[sl]
            if best is None:
                best = v.copy()
                arg = xp.zeros(v.shape, dtype=xp.int32)
            else:
                better = v > best
                best = xp.where(better, v, best)
                arg = xp.where(better, xp.int32(k), arg)
        self.arg = arg
        return best

    def backward(self, g, y, x):
        if is_tensor(g):
            return MaxPool2dScatter.apply(g, geo=self.geo, arg=self.arg)
        return _max_scatter(g, self.geo, self.arg)


class MaxPool2dScatter(Function):
    """y = g scattered to the saved arg-max positions (the backward of max_pool2d).
    ∂L/∂g = gg gathered at the same positions."""

    def forward(self, g, geo, arg):
        self.geo, self.arg = geo, arg
        return _max_scatter(g, geo, arg)

    def backward(self, gg, y, g):
        if is_tensor(gg):
            return MaxPool2dGather.apply(gg, geo=self.geo, arg=self.arg)
        return _max_gather(gg, self.geo, self.arg)


class MaxPool2dGather(Function):
    """y = x at the saved arg-max positions.    ∂L/∂x = g scattered back to them."""

    def forward(self, x, geo, arg):
        self.geo, self.arg = geo, arg
        return _max_gather(x, geo, arg)

    def backward(self, g, y, x):
        if is_tensor(g):
            return MaxPool2dScatter.apply(g, geo=self.geo, arg=self.arg)
        return _max_scatter(g, self.geo, self.arg)


# --------------------------------------------------------------------------- average pooling
def _avg_pool(x, geo):
    xp = backend.get_array_module(x)
    xpad = geo.pad(x)
    out = xp.zeros(geo.out_shape, dtype=x.dtype)
    for _, sl in geo.offsets():
        out += xpad[sl]
    out *= 1.0 / (geo.kh * geo.kw)
    return out


def _avg_pool_adjoint(g, geo):
    xp = backend.get_array_module(g)
    out = geo.padded_zeros(g.dtype, xp)
    gs = g * (1.0 / (geo.kh * geo.kw))
    for _, sl in geo.offsets():
        out[sl] += gs
    return geo.crop(out)


class AvgPool2d(Function):
    """y = mean over each kH×kW window (zero padding included in the count, as PyTorch's default).
    ∂L/∂x = g/(kH·kW) added to every element of its window."""

    def forward(self, x, kernel_size, stride=None, padding=0):
        self.geo = _Geometry("avg_pool2d", x.shape, kernel_size, stride, padding)
        return _avg_pool(x, self.geo)

    def backward(self, g, y, x):
        if is_tensor(g):
            return AvgPool2dAdjoint.apply(g, geo=self.geo)
        return _avg_pool_adjoint(g, self.geo)


class AvgPool2dAdjoint(Function):
    """y = the adjoint of avg_pool2d applied to g.    ∂L/∂g = avg_pool2d(gg)."""

    def forward(self, g, geo):
        self.geo = geo
        return _avg_pool_adjoint(g, geo)

    def backward(self, gg, y, g):
        if is_tensor(gg):
            return _AvgPool2dGeo.apply(gg, geo=self.geo)
        return _avg_pool(gg, self.geo)


class _AvgPool2dGeo(AvgPool2d):
    """avg_pool2d with a ready geometry (the adjoint's adjoint)."""

    def forward(self, x, geo):
        self.geo = geo
        return _avg_pool(x, geo)


# --------------------------------------------------------------------------- upsampling
class UpsampleNearest(Function):
    """y[n, c, h·sH + a, w·sW + b] = x[n, c, h, w]   (0 ≤ a < sH, 0 ≤ b < sW).
    ∂L/∂x = g summed over each sH×sW block (reshape + sum: differentiable again)."""

    def forward(self, x, scale_factor=2):
        if x.ndim != 4:
            raise ValueError(f"upsample_nearest: input must be 4-D (N, C, H, W), got shape {x.shape}")
        self.sh, self.sw = pair(scale_factor, "scale_factor", "upsample_nearest", 1)
        n, c, h, w = x.shape
        xp = self.xp
        y = xp.broadcast_to(x[:, :, :, None, :, None], (n, c, h, self.sh, w, self.sw))
        return y.reshape(n, c, h * self.sh, w * self.sw)

    def backward(self, g, y, x):
        n, c, h, w = x.shape
        return g.reshape((n, c, h, self.sh, w, self.sw)).sum(axis=(3, 5))
