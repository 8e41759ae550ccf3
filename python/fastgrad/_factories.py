"""Creation ops and random factories with PyTorch's signatures.

The kernels are C++ (`_C._zeros`, `_C._rand`, ...); this module only parses
Python arguments: sizes as varargs or one sequence, keyword-only dtype /
device / requires_grad / generator, and the `*_like` forms.

Generator state (`get_rng_state`, `Generator.get_state`) is `bytes`: 16 bytes,
the 64-bit seed then the 64-bit Philox counter offset, little-endian.
"""

import builtins
import operator

from . import _C
from ._C import Generator, Tensor, default_generator, get_rng_state, initial_seed  # noqa: F401
from ._C import manual_seed, seed, set_rng_state  # noqa: F401

__all__ = [
    "empty", "zeros", "ones", "full", "arange", "linspace", "eye",
    "rand", "randn", "randint", "randperm", "normal",
    "empty_like", "zeros_like", "ones_like", "full_like",
    "rand_like", "randn_like", "randint_like",
    "Generator", "default_generator", "manual_seed", "seed", "initial_seed",
    "get_rng_state", "set_rng_state", "set_default_device", "get_default_device",
]  # fmt: skip

_CPU = _C.device("cpu")


def _size(op, args, size=None):
    """`f(2, 3)`, `f((2, 3))`, `f([2, 3])`, `f(Size)`, `f([])` or `f(size=...)` -> list."""
    if size is not None:
        if args:
            raise TypeError(f"{op}(): got multiple values for argument 'size'")
        args = (size,)
    if not args:
        raise TypeError(f"{op}() missing 1 required positional argument: 'size'")
    if len(args) == 1 and isinstance(args[0], (tuple, list)):
        args = tuple(args[0])
    out = []
    for pos, a in enumerate(args):
        if isinstance(a, (builtins.bool, builtins.float)) or not hasattr(a, "__index__"):
            raise TypeError(
                f"{op}(): argument 'size' must be a tuple of ints, but found element of "
                f"type {type(a).__name__} at pos {pos}"
            )
        out.append(operator.index(a))
    return out


_default_device = _CPU


def set_default_device(device):
    """Where factories put a tensor when no `device=` is given (torch's
    `set_default_device`): `fastgrad.tensor`, `zeros`, `rand`, ..., and so the
    parameters of a layer built afterwards. `None` restores the CPU. Like torch,
    `from_numpy` and the `*_like` factories are unaffected."""
    global _default_device
    if device is None:
        _default_device = _CPU
    else:
        try:
            _default_device = _device(device, "set_default_device()")
        except TypeError:
            raise TypeError(f"set_default_device(): expected a device, a string or None, got "
                            f"{type(device).__name__}") from None


def get_default_device():
    """The device factories use when no `device=` is given."""
    return _default_device


class _DefaultDeviceScope:
    """`with fastgrad.device("cuda"):` (torch's device context manager): the
    default device for the block."""

    def __enter__(self):
        stack = _DefaultDeviceScope._saved
        stack.append(_default_device)
        set_default_device(self)
        return self

    def __exit__(self, *exc):
        set_default_device(_DefaultDeviceScope._saved.pop())
        return False

    _saved = []


_C.device.__enter__ = _DefaultDeviceScope.__enter__
_C.device.__exit__ = _DefaultDeviceScope.__exit__


def _device(device, op="device"):
    """A `device=` argument as a fastgrad.device (None: the default device;
    an int n: cuda:n, as in torch)."""
    if device is None:
        return _default_device
    if isinstance(device, _C.device):
        return device
    if isinstance(device, str):
        return _C.device(device)
    if isinstance(device, builtins.int) and not isinstance(device, builtins.bool):
        if device < 0:
            raise ValueError(f"{op}: device index must be >= 0, got {device}")
        return _C.device("cuda", device)
    raise TypeError(f"{op}: device must be a fastgrad.device, a string or an int, "
                    f"got {type(device).__name__}")


def _number(x):
    """A Python number from a number or a one-element tensor (like PyTorch)."""
    return x.item() if isinstance(x, Tensor) else x


def _finish(t, requires_grad):
    return t.requires_grad_(True) if requires_grad else t


# ---- deterministic factories ----------------------------------------------------


def empty(*size, dtype=None, device=None, requires_grad=False, **kw):
    """Uninitialised tensor of the given size."""
    t = _C._empty(_size("empty", size, kw.pop("size", None)), dtype, _device(device))
    return _finish(t, requires_grad)


def zeros(*size, dtype=None, device=None, requires_grad=False, **kw):
    t = _C._zeros(_size("zeros", size, kw.pop("size", None)), dtype, _device(device))
    return _finish(t, requires_grad)


def ones(*size, dtype=None, device=None, requires_grad=False, **kw):
    t = _C._ones(_size("ones", size, kw.pop("size", None)), dtype, _device(device))
    return _finish(t, requires_grad)


def full(size, fill_value, *, dtype=None, device=None, requires_grad=False):
    """dtype from fill_value when not given: bool, int64 or the default float."""
    t = _C._full(_size("full", (size,)), _number(fill_value), dtype, _device(device))
    return _finish(t, requires_grad)


def arange(start=0, end=None, step=1, *, dtype=None, device=None, requires_grad=False):
    """arange(end) or arange(start, end, step=1); int64 when all arguments are ints."""
    if end is None:
        start, end = 0, start
    t = _C._arange(_number(start), _number(end), _number(step), dtype, _device(device))
    return _finish(t, requires_grad)


def linspace(start, end, steps, *, dtype=None, device=None, requires_grad=False):
    t = _C._linspace(_number(start), _number(end), operator.index(steps), dtype, _device(device))
    return _finish(t, requires_grad)


def eye(n, m=None, *, dtype=None, device=None, requires_grad=False):
    t = _C._eye(operator.index(n), None if m is None else operator.index(m), dtype, _device(device))
    return _finish(t, requires_grad)


# ---- random factories --------------------------------------------------------------


def rand(*size, generator=None, dtype=None, device=None, requires_grad=False, **kw):
    """Uniform on [0, 1)."""
    t = _C._rand(_size("rand", size, kw.pop("size", None)), dtype, _device(device), generator)
    return _finish(t, requires_grad)


def randn(*size, generator=None, dtype=None, device=None, requires_grad=False, **kw):
    """Standard normal."""
    t = _C._randn(_size("randn", size, kw.pop("size", None)), dtype, _device(device), generator)
    return _finish(t, requires_grad)


def _int_bounds(op, args, low, high):
    """randint's (high) / (low, high) positional or keyword bounds."""
    if len(args) > 2:
        raise TypeError(f"{op}(): too many positional arguments")
    if len(args) == 2:
        low, high = args
    elif len(args) == 1:
        if high is None:
            high = args[0]
        else:
            low = args[0]
    if high is None:
        raise TypeError(f"{op}(): missing required argument 'high'")
    return operator.index(_number(0 if low is None else low)), operator.index(_number(high))


def randint(*args, size=None, low=None, high=None, generator=None, dtype=None, device=None,
            requires_grad=False):
    """randint(high, size) or randint(low, high, size): integers in [low, high), int64."""
    if size is None:
        if not args:
            raise TypeError("randint(): missing required argument 'size'")
        *args, size = args
    lo, hi = _int_bounds("randint", args, low, high)
    t = _C._randint(lo, hi, _size("randint", (size,)), dtype, _device(device), generator)
    return _finish(t, requires_grad)


def randperm(n, *, generator=None, dtype=None, device=None, requires_grad=False):
    """A random permutation of 0..n-1 (int64)."""
    t = _C._randperm(operator.index(n), dtype, _device(device), generator)
    return _finish(t, requires_grad)


def normal(mean=0.0, std=1.0, size=None, *, generator=None, dtype=None, device=None,
           requires_grad=False):
    """normal(mean, std, size): scalar mean and std (the tensor forms are not supported)."""
    if isinstance(mean, Tensor) or isinstance(std, Tensor) or size is None:
        raise NotImplementedError(
            "normal: only the form normal(mean: float, std: float, size) is supported"
        )
    t = _C._normal(builtins.float(mean), builtins.float(std), _size("normal", (size,)), dtype,
                   _device(device), generator)
    return _finish(t, requires_grad)


# ---- *_like: same size, dtype and device unless overridden -----------------------


def _like(input, dtype, device, op="*_like"):
    if not isinstance(input, _C.Tensor):
        raise TypeError(f"{op}: expected a Tensor as input, got {type(input).__name__}")
    return input.shape, input.dtype if dtype is None else dtype, input.device if device is None else _device(device)


def empty_like(input, *, dtype=None, device=None, requires_grad=False, memory_format=None):
    s, dt, dev = _like(input, dtype, device, "empty_like")
    return _finish(_C._empty(s, dt, dev), requires_grad)


def zeros_like(input, *, dtype=None, device=None, requires_grad=False, memory_format=None):
    s, dt, dev = _like(input, dtype, device, "zeros_like")
    return _finish(_C._zeros(s, dt, dev), requires_grad)


def ones_like(input, *, dtype=None, device=None, requires_grad=False, memory_format=None):
    s, dt, dev = _like(input, dtype, device, "ones_like")
    return _finish(_C._ones(s, dt, dev), requires_grad)


def full_like(input, fill_value, *, dtype=None, device=None, requires_grad=False,
              memory_format=None):
    s, dt, dev = _like(input, dtype, device, "full_like")
    return _finish(_C._full(s, _number(fill_value), dt, dev), requires_grad)


def rand_like(input, *, generator=None, dtype=None, device=None, requires_grad=False,
              memory_format=None):
    s, dt, dev = _like(input, dtype, device, "rand_like")
    return _finish(_C._rand(s, dt, dev, generator), requires_grad)


def randn_like(input, *, generator=None, dtype=None, device=None, requires_grad=False,
               memory_format=None):
    s, dt, dev = _like(input, dtype, device, "randn_like")
    return _finish(_C._randn(s, dt, dev, generator), requires_grad)


def randint_like(input, *args, low=None, high=None, generator=None, dtype=None, device=None,
                 requires_grad=False, memory_format=None):
    """randint_like(input, high) or randint_like(input, low, high)."""
    s, dt, dev = _like(input, dtype, device, "randint_like")
    lo, hi = _int_bounds("randint_like", args, low, high)
    return _finish(_C._randint(lo, hi, s, dt, dev, generator), requires_grad)
