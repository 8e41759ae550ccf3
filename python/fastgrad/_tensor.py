"""Python-side Tensor behaviour: construction from data, repr, conversions.

Everything hot lives in C++; this file holds what is naturally Python
(parsing nested lists via numpy, formatting, the Python number protocol).
"""

import builtins
import typing

import numpy as np

from . import _C, _factories
from ._C import Tensor
from ._repr import tensor_repr

_np_to_fg = {
    np.dtype(np.bool_): _C.dtype.bool,
    np.dtype(np.int32): _C.dtype.int32,
    np.dtype(np.int64): _C.dtype.int64,
    np.dtype(np.float32): _C.dtype.float32,
    np.dtype(np.float64): _C.dtype.float64,
    np.dtype(np.float16): _C.dtype.float16,
}
_fg_to_np = {v: k for k, v in _np_to_fg.items()}


class Size(tuple):
    """The shape of a tensor: a tuple that prints like torch.Size."""

    def __repr__(self):
        return f"fastgrad.Size([{', '.join(str(d) for d in self)}])"

    def numel(self):
        n = 1
        for d in self:
            n *= d
        return n

    def __getitem__(self, i):
        r = super().__getitem__(i)
        return Size(r) if isinstance(i, slice) else r


_C._set_size_class(Size)


def _numpy_of(data):
    """Converts tensor() data to a numpy array and the dtype PyTorch infers."""
    if isinstance(data, Tensor):
        d = data.detach() if hasattr(data, "detach") else data
        if d.dtype == _C.dtype.bfloat16:  # numpy has none; float32 holds it exactly
            d = d._to_dtype(_C.dtype.float32)
        return d.numpy(), data.dtype
    if isinstance(data, np.ndarray) or isinstance(data, np.generic):
        arr = np.asarray(data)
        if arr.dtype not in _np_to_fg:
            if arr.dtype.kind in "iu":
                arr = arr.astype(np.int64)
            elif arr.dtype.kind == "f":
                arr = arr.astype(np.float32 if arr.dtype.itemsize < 4 else np.float64)
            else:
                raise TypeError(f"tensor: can't convert np.ndarray of type {arr.dtype}")
        return arr, _np_to_fg[arr.dtype]
    try:
        arr = np.array(data)
    except ValueError as e:
        raise ValueError(f"tensor: expected a sequence of equal-length rows ({e})") from None
    if arr.dtype == object:
        raise TypeError(
            f"tensor: could not infer dtype of {type(data).__name__}; expected numbers, "
            "nested lists of numbers, numpy arrays or tensors"
        )
    kind = arr.dtype.kind
    if kind == "b":
        return arr, _C.dtype.bool
    if kind in "iu":
        return arr.astype(np.int64), _C.dtype.int64
    if kind == "f":
        # Python floats follow the default dtype (float32), like PyTorch.
        return arr, _C.get_default_dtype()
    raise TypeError(f"tensor: unsupported data type {arr.dtype}")


def _check_dtype(op, dtype):
    if dtype is not None and not isinstance(dtype, _C.dtype):
        raise TypeError(f"{op}: dtype must be a fastgrad dtype (e.g. fastgrad.float32), got {dtype!r}")


def tensor(data, *, dtype=None, device=None, requires_grad=False):
    """A new tensor holding a copy of `data` (number, nested lists, ndarray, Tensor)."""
    _check_dtype("tensor", dtype)
    arr, inferred = _numpy_of(data)
    dtype = dtype or inferred
    if dtype in (_C.dtype.bfloat16, _C.dtype.float16) and arr.dtype != np.float16:
        # Through float32, rounded in C++ like torch's casts (numpy has no
        # bfloat16, and its float64 -> float16 rounds once, not via float32).
        out = _C.from_numpy(np.array(arr, dtype=np.float32, order="C", copy=True))._to_dtype(dtype)
    else:
        out = _C.from_numpy(np.array(arr, dtype=_fg_to_np[dtype], order="C", copy=True))
    device = _factories._device(device)
    if device.type != "cpu":
        out = out.to(device)
    if requires_grad:
        out.requires_grad_(True)
    return out


def as_tensor(data, dtype=None, device=None):
    """Like tensor(), but shares memory with a Tensor or ndarray when it can."""
    _check_dtype("as_tensor", dtype)
    if isinstance(data, Tensor):
        return data if dtype in (None, data.dtype) else data.to(dtype)
    if isinstance(data, np.ndarray) and data.dtype in _np_to_fg and dtype in (None, _np_to_fg[data.dtype]):
        try:
            return _C.from_numpy(data)
        except ValueError:
            pass
    return tensor(data, dtype=dtype, device=device)


# ---- Python protocols on Tensor ------------------------------------------------

_item = Tensor.item  # the C++ reads, without the trace check below
_numpy = Tensor.numpy


def _read(self, what):
    """Every read of a tensor's data into Python passes here: while
    fastgrad.jit.trace runs, reading a traced value freezes it (TracerWarning)."""
    if _C._is_traced(self):
        from .jit._trace import warn_conversion

        warn_conversion(what)


def _item_checked(self) -> typing.Any:
    _read(self, "a Python number")
    return _item(self)


def _numpy_checked(self) -> np.ndarray:
    _read(self, "a NumPy array")
    return _numpy(self)


def _one_element(self, what):
    if self.numel() != 1:
        raise RuntimeError(f"a Tensor with {self.numel()} elements cannot be converted to {what}")
    _read(self, f"a Python {what}")
    return _item(self)


def _bool(self):
    if self.numel() != 1:
        raise RuntimeError(
            f"Boolean value of Tensor with more than one value is ambiguous (shape {tuple(self.shape)})"
            if self.numel() > 1
            else "Boolean value of Tensor with no values is ambiguous"
        )
    _read(self, "a Python boolean")
    return builtins.bool(_item(self))


def _index(self):
    if self.dtype.is_floating_point or self.numel() != 1:
        raise TypeError("only integer tensors of a single element can be converted to an index")
    _read(self, "a Python index")
    return builtins.int(_item(self))


def _len(self):
    if self.dim() == 0:
        raise TypeError("len() of a 0-d tensor")
    return self.shape[0]


def _iter(self):
    if self.dim() == 0:
        raise TypeError("iteration over a 0-d tensor")
    return iter(self.unbind(0))


def _tolist(self):
    _read(self, "a Python list")
    t = self.detach()
    if t.device.type != "cpu":  # an implicit copy (fastgrad.cuda.transfers)
        t = _C._to_device_implicit(t, _C.device("cpu"), "tolist()")
    if t.dtype == _C.dtype.bfloat16:  # numpy has none; float32 holds every value
        t = t._to_dtype(_C.dtype.float32)
    return _numpy(t).tolist()


def _array(self, dtype=None, copy=None):
    _read(self, "a NumPy array")
    arr = _numpy(self.detach())
    if dtype is not None:
        arr = arr.astype(dtype, copy=False)
    return arr.copy() if copy else arr


def _resolve_device(dev):
    """An index-less cuda device as the current one (what torch's Tensor.to does, so
    `t.to("cuda")` of a cuda:0 tensor is a no-op); unchanged without a GPU, where the
    transfer raises its own error."""
    if dev.type == "cuda" and dev.index is None and _C._cuda.is_available():
        return _C.device("cuda", _C._cuda.current_device())
    return dev


def _cuda(self, device=None, non_blocking=False):
    if device is None:
        device = "cuda"
    elif isinstance(device, int) and not isinstance(device, bool):
        device = _C.device("cuda", device)
    return self.to(device)


def _to(self, *args, dtype=None, device=None, copy=False, non_blocking=False):
    for a in args:
        if isinstance(a, _C.dtype):
            dtype = a
        elif isinstance(a, (str, _C.device)):
            device = a
        elif isinstance(a, Tensor):
            dtype, device = a.dtype, a.device
        else:
            raise TypeError(f"to: expected a dtype, device or tensor, got {type(a).__name__}")
    out = self
    if device is not None:
        dev = _resolve_device(_C.device(device) if isinstance(device, str) else device)
        if dev != self.device:
            out = _C._to_device(out, dev)
    if dtype is not None and dtype != out.dtype:
        out = out._to_dtype(dtype)
    elif copy and out is self:
        out = out.clone()
    return out


def _type_conv(dt):
    return lambda self: self if self.dtype == dt else self._to_dtype(dt)


def _type_as(self, other):
    if not isinstance(other, Tensor):
        raise TypeError(f"type_as: expected a Tensor, got {type(other).__name__}")
    return self.to(other.dtype)


def _backward(self, gradient=None, retain_graph=None, create_graph=False, inputs=None):
    """Accumulates d(self)/d(leaf) into every leaf's .grad (PyTorch's Tensor.backward)."""
    if retain_graph is None:
        retain_graph = create_graph
    self._backward(gradient, retain_graph, create_graph, inputs)


def _deepcopy(self, memo):
    # Like torch: only leaves can be deep-copied (a graph cannot be duplicated).
    if not self.is_leaf:
        raise RuntimeError(
            "Only Tensors created explicitly by the user (graph leaves) support the deepcopy "
            "protocol at the moment. If you were attempting to deepcopy a module, this may be "
            "because of a torch.nn.utils.weight_norm usage, see "
            "https://github.com/pytorch/pytorch/pull/103001"
        )
    if id(self) in memo:
        return memo[id(self)]
    new = self.detach().clone()
    if self.requires_grad:
        new.requires_grad_(True)
    if self.grad is not None:
        new.grad = self.grad.detach().clone()
    memo[id(self)] = new
    return new


def _rebuild(array, requires_grad):
    t = _C.from_numpy(array)
    return t.requires_grad_(True) if requires_grad else t


def _reduce_ex(self, protocol):
    # Pickles the values (a numpy copy), never code: torch-compatible enough
    # for copy/multiprocessing; files should use fastgrad.save (safetensors).
    return (_rebuild, (np.array(self.detach().to("cpu").numpy(), copy=True), self.requires_grad))


def _new(fill):
    def new(self, *size, dtype=None, device=None, requires_grad=False):
        from . import _factories

        args = dict(dtype=dtype or self.dtype, device=device or self.device,
                    requires_grad=requires_grad)
        if fill is None:
            return _factories.empty(*size, **args)
        return _factories.full(_factories._size("new_full", size), fill, **args)

    return new


def _new_full(self, size, fill_value, *, dtype=None, device=None, requires_grad=False):
    from . import _factories

    return _factories.full(size, fill_value, dtype=dtype or self.dtype,
                           device=device or self.device, requires_grad=requires_grad)


def _new_tensor(self, data, *, dtype=None, device=None, requires_grad=False):
    return tensor(data, dtype=dtype or self.dtype, device=device or self.device,
                  requires_grad=requires_grad)


def _install():
    _C.dtype.__repr__ = lambda self: f"fastgrad.{self.name}"
    _C.dtype.__str__ = _C.dtype.__repr__
    T = Tensor
    T.__repr__ = tensor_repr
    T.__str__ = tensor_repr
    T.__float__ = lambda self: builtins.float(_one_element(self, "float"))
    T.__int__ = lambda self: builtins.int(_one_element(self, "int"))
    T.__bool__ = _bool
    T.__index__ = _index
    T.__len__ = _len
    T.__iter__ = _iter
    T.__array__ = _array
    T.__array_priority__ = 1000  # numpy defers to Tensor's reflected operators
    T.tolist = _tolist
    T.item = _item_checked
    T.numpy = _numpy_checked
    T.backward = _backward
    T.to = _to
    T.float = _type_conv(_C.dtype.float32)
    T.double = _type_conv(_C.dtype.float64)
    T.half = _type_conv(_C.dtype.float16)
    T.bfloat16 = _type_conv(_C.dtype.bfloat16)
    T.int = _type_conv(_C.dtype.int32)
    T.long = _type_conv(_C.dtype.int64)
    T.bool = _type_conv(_C.dtype.bool)
    T.cpu = lambda self: self.to("cpu")
    T.cuda = _cuda
    T.type_as = _type_as
    T.__deepcopy__ = _deepcopy
    T.__reduce_ex__ = _reduce_ex
    T.new_empty = _new(None)
    T.new_zeros = _new(0)
    T.new_ones = _new(1)
    T.new_full = _new_full
    T.new_tensor = _new_tensor


_install()
