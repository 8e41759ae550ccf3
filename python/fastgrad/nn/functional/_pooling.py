"""Functional max/avg/adaptive pooling (C++ kernels in csrc/ops/pool.cpp).

Every form runs on the 2-d kernels: 1-d inputs become planes of height 1 and
unbatched inputs get a batch dim of 1. Argument checks live here so that
errors name the op the caller used.
"""

from ... import _C
from ._conv import _shape, _tuple

__all__ = [
    "max_pool1d",
    "max_pool2d",
    "max_pool1d_with_indices",
    "max_pool2d_with_indices",
    "avg_pool1d",
    "avg_pool2d",
    "adaptive_avg_pool1d",
    "adaptive_avg_pool2d",
    "adaptive_max_pool1d",
    "adaptive_max_pool2d",
    "adaptive_max_pool1d_with_indices",
    "adaptive_max_pool2d_with_indices",
]


def _to_4d(op, nd, input):
    """(input as (N, C, H, W), function undoing it on a result)."""
    sp = "H, W" if nd == 2 else "L"
    if input.dim() not in (nd + 1, nd + 2):
        raise RuntimeError(
            f"{op}: expected {nd + 1}-d (C, {sp}) or {nd + 2}-d (N, C, {sp}) input, "
            f"got input of shape {_shape(input)}"
        )
    if any(s == 0 for s in input.shape[-nd:]) or (input.dim() == nd + 2 and input.shape[1] == 0):
        raise RuntimeError(
            f"{op}: expected input with non-zero channels and spatial size, got {_shape(input)}"
        )
    if not input.dtype.is_floating_point:
        raise TypeError(f"{op}: expected a floating point input, got {input.dtype.name}")
    batched = input.dim() == nd + 2
    x = input if batched else input.unsqueeze(0)
    if nd == 1:
        x = x.unsqueeze(2)

    def back(y):
        if nd == 1:
            y = y.squeeze(2)
        return y if batched else y.squeeze(0)

    return x, back


def _window(op, nd, input, kernel_size, stride, padding, dilation, ceil_mode):
    """Checked per-dim (kernel, stride, padding, dilation) lists, padded to 2-d."""
    k = _tuple(op, "kernel_size", kernel_size, nd)
    s = k if stride is None or (isinstance(stride, (list, tuple)) and len(stride) == 0) else (
        _tuple(op, "stride", stride, nd))
    p = _tuple(op, "padding", padding, nd)
    d = _tuple(op, "dilation", dilation, nd)
    if any(v <= 0 for v in k):
        raise RuntimeError(f"{op}: kernel_size must be greater than zero, got {k}")
    if any(v <= 0 for v in s):
        raise RuntimeError(f"{op}: stride must be greater than zero, got {s}")
    if any(v <= 0 for v in d):
        raise RuntimeError(f"{op}: dilation must be greater than zero, got {d}")
    if any(pi < 0 or pi > ki // 2 for pi, ki in zip(p, k)):
        raise RuntimeError(
            f"{op}: pad should be smaller than or equal to half of kernel size, but got "
            f"padding={p}, kernel_size={k}"
        )
    out = []
    for n, ki, si, pi, di in zip(input.shape[-nd:], k, s, p, d):
        span = n + 2 * pi - di * (ki - 1) - 1
        o = (span + (si - 1 if ceil_mode else 0)) // si + 1
        if ceil_mode and (o - 1) * si >= n + pi:
            o -= 1
        out.append(o)
    if any(o <= 0 for o in out):
        raise RuntimeError(
            f"{op}: output size is too small: input of shape {_shape(input)} with "
            f"kernel_size={k}, stride={s}, padding={p}, dilation={d} gives output size "
            f"{tuple(out)}"
        )
    if nd == 1:
        k, s, p, d = (1,) + k, (1,) + s, (0,) + p, (1,) + d
    return list(k), list(s), list(p), list(d)


def _max_pool(op, nd, input, kernel_size, stride, padding, dilation, ceil_mode, return_indices):
    x, back = _to_4d(op, nd, input)
    k, s, p, d = _window(op, nd, input, kernel_size, stride, padding, dilation, ceil_mode)
    y, idx = _C._max_pool2d(x, k, s, p, d, bool(ceil_mode))
    return (back(y), back(idx)) if return_indices else back(y)


def max_pool1d(input, kernel_size, stride=None, padding=0, dilation=1, ceil_mode=False,
               return_indices=False):
    return _max_pool("max_pool1d", 1, input, kernel_size, stride, padding, dilation,
                     ceil_mode, return_indices)


def max_pool2d(input, kernel_size, stride=None, padding=0, dilation=1, ceil_mode=False,
               return_indices=False):
    return _max_pool("max_pool2d", 2, input, kernel_size, stride, padding, dilation,
                     ceil_mode, return_indices)


def max_pool1d_with_indices(input, kernel_size, stride=None, padding=0, dilation=1,
                            ceil_mode=False, return_indices=True):
    return _max_pool("max_pool1d", 1, input, kernel_size, stride, padding, dilation,
                     ceil_mode, True)


def max_pool2d_with_indices(input, kernel_size, stride=None, padding=0, dilation=1,
                            ceil_mode=False, return_indices=True):
    return _max_pool("max_pool2d", 2, input, kernel_size, stride, padding, dilation,
                     ceil_mode, True)


def _avg_pool(op, nd, input, kernel_size, stride, padding, ceil_mode, count_include_pad,
              divisor_override):
    x, back = _to_4d(op, nd, input)
    k, s, p, _ = _window(op, nd, input, kernel_size, stride, padding, 1, ceil_mode)
    if divisor_override is not None and divisor_override == 0:
        raise RuntimeError(f"{op}: divisor must be not zero")
    y = _C._avg_pool2d(x, k, s, p, bool(ceil_mode), bool(count_include_pad), divisor_override)
    return back(y)


def avg_pool1d(input, kernel_size, stride=None, padding=0, ceil_mode=False,
               count_include_pad=True):
    return _avg_pool("avg_pool1d", 1, input, kernel_size, stride, padding, ceil_mode,
                     count_include_pad, None)


def avg_pool2d(input, kernel_size, stride=None, padding=0, ceil_mode=False,
               count_include_pad=True, divisor_override=None):
    return _avg_pool("avg_pool2d", 2, input, kernel_size, stride, padding, ceil_mode,
                     count_include_pad, divisor_override)


def _adaptive_size(op, nd, input, output_size):
    """Output size per dim; None entries keep the input's size."""
    if isinstance(output_size, (list, tuple)):
        if len(output_size) == 1 and nd > 1:
            output_size = tuple(output_size) * nd
        if len(output_size) != nd:
            raise RuntimeError(f"{op}: expected output_size of {nd} values, got {output_size!r}")
        sizes = [input.shape[-nd + i] if v is None else v for i, v in enumerate(output_size)]
    else:
        sizes = [output_size] * nd
    if not all(isinstance(v, int) and not isinstance(v, bool) and v >= 0 for v in sizes):
        raise RuntimeError(
            f"{op}: expected output_size to be non-negative ints (or None), got {output_size!r}"
        )
    return [1] + sizes if nd == 1 else sizes


def _adaptive(op, nd, input, output_size):
    x, back = _to_4d(op, nd, input)
    return x, back, _adaptive_size(op, nd, input, output_size)


def adaptive_avg_pool1d(input, output_size):
    x, back, size = _adaptive("adaptive_avg_pool1d", 1, input, output_size)
    return back(_C._adaptive_avg_pool2d(x, size))


def adaptive_avg_pool2d(input, output_size):
    x, back, size = _adaptive("adaptive_avg_pool2d", 2, input, output_size)
    return back(_C._adaptive_avg_pool2d(x, size))


def _adaptive_max(op, nd, input, output_size, return_indices):
    x, back, size = _adaptive(op, nd, input, output_size)
    y, idx = _C._adaptive_max_pool2d(x, size)
    return (back(y), back(idx)) if return_indices else back(y)


def adaptive_max_pool1d(input, output_size, return_indices=False):
    return _adaptive_max("adaptive_max_pool1d", 1, input, output_size, return_indices)


def adaptive_max_pool2d(input, output_size, return_indices=False):
    return _adaptive_max("adaptive_max_pool2d", 2, input, output_size, return_indices)


def adaptive_max_pool1d_with_indices(input, output_size, return_indices=True):
    return _adaptive_max("adaptive_max_pool1d", 1, input, output_size, True)


def adaptive_max_pool2d_with_indices(input, output_size, return_indices=True):
    return _adaptive_max("adaptive_max_pool2d", 2, input, output_size, True)
