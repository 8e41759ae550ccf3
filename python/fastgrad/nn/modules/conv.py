"""Conv1d, Conv2d."""


from .._alloc import register_weight_bias, reset_fan_in_uniform
from ..functional import _conv
from .module import Module

__all__ = ["Conv1d", "Conv2d"]

_PADDING_MODES = ("zeros", "reflect", "replicate", "circular")


class _ConvNd(Module):
    """Shared by Conv1d/Conv2d: torch's attributes, default init and repr."""

    _nd = 0
    _op = ""

    def __init__(self, in_channels, out_channels, kernel_size, stride=1, padding=0,
                 dilation=1, groups=1, bias=True, padding_mode="zeros", device=None,
                 dtype=None):
        super().__init__()
        nd, op = self._nd, self._op
        if not isinstance(groups, int) or groups <= 0:
            raise ValueError("groups must be a positive integer")
        if in_channels % groups != 0:
            raise ValueError("in_channels must be divisible by groups")
        if out_channels % groups != 0:
            raise ValueError("out_channels must be divisible by groups")
        if padding_mode not in _PADDING_MODES:
            raise ValueError(
                f"padding_mode must be one of {set(_PADDING_MODES)}, but got "
                f"padding_mode='{padding_mode}'"
            )
        self.in_channels = in_channels
        self.out_channels = out_channels
        self.kernel_size = _conv._tuple(op, "kernel_size", kernel_size, nd)
        self.stride = _conv._tuple(op, "stride", stride, nd)
        self.dilation = _conv._tuple(op, "dilation", dilation, nd)
        if isinstance(padding, str):
            # validates the string (and 'same' with stride 1) like torch does
            lo, hi = _conv.conv_padding(op, padding, self.kernel_size, self.stride, self.dilation)
            self.padding = padding
        else:
            self.padding = _conv._tuple(op, "padding", padding, nd)
            lo, hi = list(self.padding), list(self.padding)
        # F.pad order (last dim first) for the non-zero padding modes
        self._reversed_padding_repeated_twice = [
            p for i in reversed(range(nd)) for p in (lo[i], hi[i])
        ]
        self.transposed = False
        self.output_padding = (0,) * nd
        self.groups = groups
        self.padding_mode = padding_mode
        register_weight_bias(
            self, (out_channels, in_channels // groups) + self.kernel_size, bias, device, dtype
        )
        self.reset_parameters()

    def reset_parameters(self):
        reset_fan_in_uniform(self)

    def _conv_forward(self, input, weight, bias):
        fn = _conv.conv2d if self._nd == 2 else _conv.conv1d
        if self.padding_mode != "zeros":
            nd = self._nd
            if input.dim() not in (nd + 1, nd + 2):
                raise RuntimeError(
                    f"{self._op}: expected {nd + 1}-d or {nd + 2}-d input, got input of shape "
                    f"{_conv._shape(input)}"
                )
            x = _conv.pad_mode(input, self._reversed_padding_repeated_twice, self.padding_mode)
            return fn(x, weight, bias, self.stride, 0, self.dilation, self.groups)
        return fn(input, weight, bias, self.stride, self.padding, self.dilation, self.groups)

    def forward(self, input):
        return self._conv_forward(input, self.weight, self.bias)

    def extra_repr(self):
        nd = self._nd
        s = (
            f"{self.in_channels}, {self.out_channels}, kernel_size={self.kernel_size}, "
            f"stride={self.stride}"
        )
        if self.padding != (0,) * nd:
            s += f", padding={self.padding}"
        if self.dilation != (1,) * nd:
            s += f", dilation={self.dilation}"
        if self.output_padding != (0,) * nd:
            s += f", output_padding={self.output_padding}"
        if self.groups != 1:
            s += f", groups={self.groups}"
        if self.bias is None:
            s += ", bias=False"
        if self.padding_mode != "zeros":
            s += f", padding_mode={self.padding_mode}"
        return s


class Conv1d(_ConvNd):
    """1-d convolution over (N, C, L) or (C, L) input (torch.nn.Conv1d)."""

    _nd = 1
    _op = "conv1d"


class Conv2d(_ConvNd):
    """2-d convolution over (N, C, H, W) or (C, H, W) input (torch.nn.Conv2d)."""

    _nd = 2
    _op = "conv2d"
