"""Functional conv1d/conv2d (C++ kernels in csrc/ops/conv.cpp).

conv1d runs as conv2d over planes of height 1; unbatched inputs get a batch
dim of 1. Argument parsing and user-facing shape errors live here so that
messages show the shapes the caller passed.
"""

import numpy as np

from ... import _C
from ..._tensor import tensor as _tensor

__all__ = ["conv1d", "conv2d"]


def _shape(t):
    return "[" + ", ".join(str(d) for d in t.shape) + "]"


def _tuple(op, name, value, n):
    """An int or a length-n sequence of ints -> a tuple of n ints."""
    if isinstance(value, (list, tuple)):
        if len(value) == 1 and n > 1:
            value = tuple(value) * n
        if len(value) != n or not all(isinstance(v, (int, np.integer)) for v in value):
            raise RuntimeError(f"{op}: expected {name} to be an int or {n} ints, got {value!r}")
        return tuple(int(v) for v in value)
    if isinstance(value, (int, np.integer)) and not isinstance(value, bool):
        return (int(value),) * n
    raise TypeError(f"{op}: expected {name} to be an int or a tuple of {n} ints, got {value!r}")


def _same_padding(kernel, dilation):
    """torch's 'same': total d*(k-1) per dim, the odd one extra on the high side."""
    lo, hi = [], []
    for k, d in zip(kernel, dilation):
        total = d * (k - 1)
        lo.append(total // 2)
        hi.append(total - total // 2)
    return lo, hi


def conv_padding(op, padding, kernel, stride, dilation):
    """(low, high) padding per spatial dim from an int, a tuple, 'valid' or 'same'."""
    n = len(kernel)
    if isinstance(padding, str):
        if padding == "valid":
            return [0] * n, [0] * n
        if padding == "same":
            if any(s != 1 for s in stride):
                raise ValueError(f"{op}: padding='same' is not supported for strided convolutions")
            return _same_padding(kernel, dilation)
        raise ValueError(
            f"{op}: invalid padding string {padding!r}, should be one of {{'valid', 'same'}}"
        )
    pad = _tuple(op, "padding", padding, n)
    if any(p < 0 for p in pad):
        raise RuntimeError(f"{op}: negative padding is not supported, got {pad}")
    return list(pad), list(pad)


def _conv(op, nd, input, weight, bias, stride, padding, dilation, groups):
    spatial = "(H, W)" if nd == 2 else "(L)"
    sp = spatial[1:-1]
    if input.dim() not in (nd + 1, nd + 2):
        raise RuntimeError(
            f"{op}: expected {nd + 1}-d (C, {sp}) or {nd + 2}-d (N, C, {sp}) input, "
            f"got input of shape {_shape(input)}"
        )
    if weight.dim() != nd + 2:
        raise RuntimeError(
            f"{op}: expected {nd + 2}-d weight (out_channels, in_channels / groups, "
            f"{'kH, kW' if nd == 2 else 'kL'}), got {_shape(weight)}"
        )
    if not isinstance(groups, (int, np.integer)) or groups <= 0:
        raise RuntimeError(f"{op}: non-positive groups is not supported, got {groups}")
    out_ch, cin = weight.shape[0], weight.shape[1] * groups
    if out_ch % groups:
        raise RuntimeError(
            f"{op}: given groups={groups}, expected weight to be divisible by {groups} at "
            f"dimension 0, but got weight of size {_shape(weight)}"
        )
    batched = input.dim() == nd + 2
    if input.shape[1 if batched else 0] != cin:
        raise RuntimeError(
            f"{op}: expected input with {cin} channels (shape (N, {cin}, {sp}) or "
            f"({cin}, {sp})), got {_shape(input)} (weight {_shape(weight)}, groups={groups})"
        )
    if bias is not None and tuple(bias.shape) != (out_ch,):
        raise RuntimeError(f"{op}: expected bias of shape ({out_ch},), got {_shape(bias)}")
    for name, t in (("input", input), ("weight", weight), ("bias", bias)):
        if t is not None and not t.dtype.is_floating_point:
            raise TypeError(f"{op}: expected a floating point {name}, got {t.dtype.name}")
    if weight.dtype != input.dtype or (bias is not None and bias.dtype != input.dtype):
        raise RuntimeError(
            f"{op}: input ({input.dtype.name}), weight ({weight.dtype.name})"
            + ("" if bias is None else f" and bias ({bias.dtype.name})")
            + " must have the same dtype"
        )
    kernel = tuple(weight.shape[2:])
    stride = _tuple(op, "stride", stride, nd)
    dilation = _tuple(op, "dilation", dilation, nd)
    if any(s <= 0 for s in stride):
        raise RuntimeError(f"{op}: non-positive stride is not supported, got {stride}")
    if any(d <= 0 for d in dilation):
        raise RuntimeError(f"{op}: dilation must be greater than zero, got {dilation}")
    lo, hi = conv_padding(op, padding, kernel, stride, dilation)
    size = tuple(input.shape[-nd:])
    padded = tuple(s + a + b for s, a, b in zip(size, lo, hi))
    eff = tuple(d * (k - 1) + 1 for k, d in zip(kernel, dilation))
    if any(e > p for e, p in zip(eff, padded)):
        raise RuntimeError(
            f"{op}: kernel size {eff} (dilated) can't be greater than the padded input size "
            f"{padded}; input shape {_shape(input)}, weight shape {_shape(weight)}"
        )
    x = input if batched else input.unsqueeze(0)
    if nd == 1:
        x, w = x.unsqueeze(2), weight.unsqueeze(2)
        stride, dilation = (1,) + stride, (1,) + dilation
        lo, hi = [0] + lo, [0] + hi
    else:
        w = weight
    y = _C._conv2d(x, w, bias, list(stride), lo + hi, list(dilation), int(groups))
    if nd == 1:
        y = y.squeeze(2)
    return y if batched else y.squeeze(0)


def conv1d(input, weight, bias=None, stride=1, padding=0, dilation=1, groups=1):
    """1-d cross-correlation of (N, C, L) or (C, L) input, like torch.nn.functional.conv1d."""
    return _conv("conv1d", 1, input, weight, bias, stride, padding, dilation, groups)


def conv2d(input, weight, bias=None, stride=1, padding=0, dilation=1, groups=1):
    """2-d cross-correlation of (N, C, H, W) or (C, H, W) input, like torch's conv2d."""
    return _conv("conv2d", 2, input, weight, bias, stride, padding, dilation, groups)


def pad_mode(input, pads, mode):
    """Non-zero padding modes ('reflect', 'replicate', 'circular') for the last
    len(pads) // 2 dims; pads is torch's F.pad order (last dim first, low then
    high). One index_select per padded dim, so gradients flow back for free."""
    x = input
    for i in range(len(pads) // 2):
        dim = x.dim() - 1 - i
        lo, hi = pads[2 * i], pads[2 * i + 1]
        if lo == 0 and hi == 0:
            continue
        n = x.shape[dim]
        pos = np.arange(-lo, n + hi)
        if mode == "reflect":
            if lo >= n or hi >= n:
                raise RuntimeError(
                    f"reflect padding: padding ({lo}, {hi}) must be smaller than the input "
                    f"size {n} of dim {dim} (input shape {_shape(input)})"
                )
            pos = np.abs(pos)
            pos = np.where(pos >= n, 2 * (n - 1) - pos, pos)
        elif mode == "replicate":
            if n == 0:
                raise RuntimeError(f"replicate padding: dim {dim} of {_shape(input)} is empty")
            pos = np.clip(pos, 0, n - 1)
        elif mode == "circular":
            if lo > n or hi > n:
                raise RuntimeError(
                    f"circular padding: padding ({lo}, {hi}) can't exceed the input size {n} "
                    f"of dim {dim} (input shape {_shape(input)})"
                )
            pos = np.mod(pos, n)
        else:
            raise NotImplementedError(f"padding mode {mode!r} is not supported")
        x = _C.index_select(x, dim, _tensor(pos.astype(np.int64)))
    return x
