"""2-D convolution and transposed convolution (NCHW), PyTorch's arguments and initialisation."""
from __future__ import annotations

import math

from . import init
from ._util import F, empty_param, pair
from .module import Module


class _ConvNd(Module):
    _transposed = False

    def __init__(self, in_channels, out_channels, kernel_size, stride, padding, dilation, groups, bias,
                 padding_mode, output_padding, device, dtype):
        super().__init__()
        if groups <= 0:
            raise ValueError("groups must be a positive integer")
        if in_channels % groups != 0:
            raise ValueError("in_channels must be divisible by groups")
        if out_channels % groups != 0:
            raise ValueError("out_channels must be divisible by groups")
        if int(groups) != 1 or pair(dilation, "dilation") != (1, 1):
            raise NotImplementedError(f"{type(self).__name__}: groups={groups} and dilation={dilation} are not "
                                      "supported (tinygen.functional convolutions take groups=1, dilation=1)")
        if padding_mode != "zeros":
            raise NotImplementedError(f"padding_mode={padding_mode!r}: only 'zeros' is supported")
        self.in_channels = int(in_channels)
        self.out_channels = int(out_channels)
        self.kernel_size = pair(kernel_size, "kernel_size")
        self.stride = pair(stride, "stride")
        self.dilation = pair(dilation, "dilation")
        if isinstance(padding, str):
            if padding not in ("same", "valid"):
                raise ValueError(f"Invalid padding string {padding!r}, should be one of 'valid', 'same'")
            if padding == "same":
                if self._transposed:
                    raise ValueError("padding='same' is not supported for transposed convolutions")
                if self.stride != (1, 1):
                    raise ValueError("padding='same' is not supported for strided convolutions")
                eff = [d * (k - 1) for d, k in zip(self.dilation, self.kernel_size)]
                if any(e % 2 for e in eff):
                    raise NotImplementedError("padding='same' needs an odd effective kernel size here "
                                              f"(kernel_size={self.kernel_size}, dilation={self.dilation})")
                padding = tuple(e // 2 for e in eff)
            else:
                padding = (0, 0)
        self.padding = pair(padding, "padding")
        self.output_padding = pair(output_padding, "output_padding")
        self.groups = int(groups)
        self.padding_mode = padding_mode
        kh, kw = self.kernel_size
        if self._transposed:
            shape = (self.in_channels, self.out_channels // self.groups, kh, kw)
        else:
            shape = (self.out_channels, self.in_channels // self.groups, kh, kw)
        self.weight = empty_param(shape, dtype, device)
        if bias:
            self.bias = empty_param((self.out_channels,), dtype, device)
        else:
            self.register_parameter("bias", None)
        self.reset_parameters()

    def reset_parameters(self):
        # kaiming_uniform_(a=√5) gives U(−1/√fan_in, 1/√fan_in); fan_in = weight.shape[1]·kH·kW
        # (for a transposed convolution that is out_channels/groups·kH·kW, as in PyTorch).
        init.kaiming_uniform_(self.weight, a=math.sqrt(5))
        if self.bias is not None:
            fan_in, _ = init._calculate_fan_in_and_fan_out(self.weight)
            if fan_in != 0:
                bound = 1 / math.sqrt(fan_in)
                init.uniform_(self.bias, -bound, bound)

    def extra_repr(self):
        s = f"{self.in_channels}, {self.out_channels}, kernel_size={self.kernel_size}, stride={self.stride}"
        if self.padding != (0, 0):
            s += f", padding={self.padding}"
        if self.dilation != (1, 1):
            s += f", dilation={self.dilation}"
        if self.output_padding != (0, 0):
            s += f", output_padding={self.output_padding}"
        if self.groups != 1:
            s += f", groups={self.groups}"
        if self.bias is None:
            s += ", bias=False"
        return s


class Conv2d(_ConvNd):
    """2-D convolution over (N, C_in, H, W) with weight (C_out, C_in/groups, kH, kW)."""

    def __init__(self, in_channels, out_channels, kernel_size, stride=1, padding=0, dilation=1, groups=1,
                 bias=True, padding_mode="zeros", device=None, dtype=None):
        super().__init__(in_channels, out_channels, kernel_size, stride, padding, dilation, groups, bias,
                         padding_mode, 0, device, dtype)

    def forward(self, x):
        return F().conv2d(x, self.weight, self.bias, stride=self.stride, padding=self.padding)


class ConvTranspose2d(_ConvNd):
    """Transposed 2-D convolution with weight (C_in, C_out/groups, kH, kW);
    output size (H − 1)·stride − 2·padding + dilation·(k − 1) + output_padding + 1."""

    _transposed = True

    def __init__(self, in_channels, out_channels, kernel_size, stride=1, padding=0, output_padding=0,
                 groups=1, bias=True, dilation=1, padding_mode="zeros", device=None, dtype=None):
        super().__init__(in_channels, out_channels, kernel_size, stride, padding, dilation, groups, bias,
                         padding_mode, output_padding, device, dtype)
        for op, s, d in zip(self.output_padding, self.stride, self.dilation):
            if op >= s and op >= d:
                raise ValueError(f"output_padding {self.output_padding} must be smaller than either stride "
                                 f"{self.stride} or dilation {self.dilation}")

    def forward(self, x):
        return F().conv_transpose2d(x, self.weight, self.bias, stride=self.stride, padding=self.padding,
                                    output_padding=self.output_padding)
