"""Tensor.__repr__ in PyTorch's format: same number formatting (integer-valued
floats as `1.`, 4 decimals, scientific for wide ranges), summarisation with
`...` beyond 1000 elements, and the dtype/device/grad suffixes."""

import math

import numpy as np

_THRESHOLD = 1000
_EDGE = 3
_LINEWIDTH = 80


class _Formatter:
    """Chooses one number format and width for every printed element."""

    def __init__(self, values, is_float):
        self.is_float = is_float
        self.int_mode = True
        self.sci_mode = False
        self.width = 1
        if not is_float:
            self.width = max((len(str(v)) for v in values), default=1)
            return
        # Like PyTorch, only nonzero finite values decide the mode and width.
        finite = [v for v in values if math.isfinite(v) and v != 0]
        self.int_mode = all(float(v).is_integer() for v in finite)
        if finite:
            mags = [abs(v) for v in finite]
            lo, hi = min(mags), max(mags)
            if self.int_mode:
                self.sci_mode = hi / lo > 1000.0 or hi > 1.0e8
            else:
                self.sci_mode = hi / lo > 1000.0 or hi > 1.0e8 or lo < 1.0e-4
        for v in finite:
            if self.sci_mode:
                w = len(f"{v:.4e}")
            elif self.int_mode:
                w = len(f"{v:.0f}") + 1
            else:
                w = len(f"{v:.4f}")
            self.width = max(self.width, w)

    def _fmt(self, v):
        if not self.is_float:
            return str(v)
        if self.sci_mode:
            return f"{v:.4e}"
        if self.int_mode:
            return f"{v:.0f}" + ("" if math.isinf(v) or math.isnan(v) else ".")
        return f"{v:.4f}"

    def __call__(self, v):
        return self._fmt(v).rjust(self.width)


def _collect(arr, summarize):
    """The values that will be printed (edges only when summarising)."""
    if arr.ndim == 0:
        return [arr.item()]
    if summarize and arr.shape[0] > 2 * _EDGE:
        parts = [arr[:_EDGE], arr[-_EDGE:]]
    else:
        parts = [arr]
    out = []
    for p in parts:
        if p.ndim == 1:
            out.extend(p.tolist())
        else:
            for sub in p:
                out.extend(_collect(sub, summarize))
    return out


def _format(arr, fmt, indent, summarize):
    if arr.ndim == 0:
        return fmt(arr.item())
    if arr.ndim == 1:
        items = arr.tolist()
        if summarize and len(items) > 2 * _EDGE:
            strs = [fmt(v) for v in items[:_EDGE]] + [" ..."] + [fmt(v) for v in items[-_EDGE:]]
        else:
            strs = [fmt(v) for v in items]
        # Wrap long rows like PyTorch (elements per line by width).
        per_line = max(1, (_LINEWIDTH - indent) // (fmt.width + 2))
        lines = [", ".join(strs[i : i + per_line]) for i in range(0, len(strs), per_line)]
        return "[" + (",\n" + " " * (indent + 1)).join(lines) + "]"
    n = arr.shape[0]
    if summarize and n > 2 * _EDGE:
        rows = [_format(arr[i], fmt, indent + 1, summarize) for i in range(_EDGE)]
        rows += ["..."]
        rows += [_format(arr[i], fmt, indent + 1, summarize) for i in range(n - _EDGE, n)]
    else:
        rows = [_format(arr[i], fmt, indent + 1, summarize) for i in range(n)]
    sep = "," + "\n" * (arr.ndim - 1) + " " * (indent + 1)
    return "[" + sep.join(rows) + "]"


def tensor_repr(t):
    from . import _C
    from ._tensor import _numpy  # printing is not a data read the tracer warns about

    prefix = "tensor("
    suffixes = []
    default_float = _C.get_default_dtype()
    dt = t.dtype
    shown = t.cpu().detach()
    if dt == _C.dtype.bfloat16:  # numpy has no bfloat16: show its exact float32 values
        shown = shown._to_dtype(_C.dtype.float32)
    arr = _numpy(shown)
    if t.numel() == 0 and t.dim() != 1 or (t.numel() == 0 and tuple(t.shape) != (0,)):
        body = "[]"
        suffixes.append(f"size={tuple(t.shape)}")
    elif t.numel() == 0:
        body = "[]"
    else:
        is_float = dt.is_floating_point
        summarize = t.numel() > _THRESHOLD
        if dt == _C.dtype.bool:
            arr = arr.astype(object)
            vals = _collect(arr, summarize)
            fmt = _Formatter([str(bool(v)) for v in vals], False)
            fmt._fmt = lambda v: str(bool(v))
        else:
            vals = _collect(np.asarray(arr), summarize)
            fmt = _Formatter(vals, is_float)
        body = _format(np.asarray(arr), fmt, len(prefix), summarize)
    if t.device.type != "cpu":
        suffixes.insert(0, f"device='{t.device}'")
    if dt not in (default_float, _C.dtype.int64, _C.dtype.bool):
        suffixes.append(f"dtype={dt!r}")
    grad_fn = getattr(t, "grad_fn", None)
    if grad_fn is not None:
        suffixes.append(f"grad_fn=<{grad_fn.name()}>")
    elif getattr(t, "requires_grad", False):
        suffixes.append("requires_grad=True")
    return prefix + body + "".join(", " + s for s in suffixes) + ")"
