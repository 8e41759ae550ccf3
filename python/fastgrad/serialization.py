"""fastgrad.save / fastgrad.load in the safetensors format.

A safetensors file is: an 8-byte little-endian header length N, N bytes of JSON
mapping names to {"dtype", "shape", "data_offsets": [begin, end]} (plus an optional
"__metadata__" dict of str -> str), then the raw little-endian tensor bytes.
Writing goes through the `safetensors` package so files are exactly what
`safetensors.torch.load_file` expects; reading parses the header here so that every
malformed file gives one clear fastgrad error (and nothing in a file is ever
executed: there is no pickle anywhere in this module).

Note [What a file holds]: a dict of str -> Tensor is stored as is, and its key order
is kept in the metadata ("fastgrad.keys"), so `load` returns an OrderedDict in the
order it was saved. A single Tensor is stored under the name "tensor" with the
metadata marker "fastgrad.type" = "Tensor", so it loads back as a Tensor. Files
written by other libraries (no marker) load as an OrderedDict.
"""

import json
import os
from collections import OrderedDict

import numpy as np

from . import _C
from ._C import Tensor

__all__ = ["load", "save"]

# safetensors dtype code <-> numpy little-endian dtype (the dtypes fastgrad has).
_ST_TO_NP = {
    "BOOL": np.dtype("?"),
    "I32": np.dtype("<i4"),
    "I64": np.dtype("<i8"),
    "F32": np.dtype("<f4"),
    "F64": np.dtype("<f8"),
    "F16": np.dtype("<f2"),
    "BF16": np.dtype("<u2"),  # raw bits: numpy has no bfloat16 (see _from_entry)
}
# Valid safetensors codes fastgrad cannot hold: named in the error message.
_ST_OTHER = {
    "F8_E4M3": "float8_e4m3fn",
    "F8_E5M2": "float8_e5m2", "I8": "int8", "U8": "uint8", "I16": "int16",
    "U16": "uint16", "U32": "uint32", "U64": "uint64", "C64": "complex64",
    "F4": "float4", "F6_E2M3": "float6_e2m3", "F6_E3M2": "float6_e3m2",
    "F8_E8M0": "float8_e8m0fnu",
}  # fmt: skip
_FG_TO_NP = {
    _C.dtype.bool: np.dtype(np.bool_),
    _C.dtype.int32: np.dtype(np.int32),
    _C.dtype.int64: np.dtype(np.int64),
    _C.dtype.float32: np.dtype(np.float32),
    _C.dtype.float64: np.dtype(np.float64),
    _C.dtype.float16: np.dtype(np.float16),
}
_SINGLE_KEY = "tensor"
_TYPE_KEY = "fastgrad.type"
_KEYS_KEY = "fastgrad.keys"
# Same cap as the safetensors reference implementation: a header is metadata, not data.
_MAX_HEADER = 100_000_000


# ---- save -------------------------------------------------------------------------


def _to_numpy(name, t):
    if t.device.type != "cpu":
        t = t.to("cpu")
    if t.dtype == _C.dtype.bfloat16:  # its bits, the top half of the float32 it widens to
        return (t.detach().float().numpy().view(np.uint32) >> 16).astype(np.uint16)
    arr = t.detach().numpy()
    # Views (transposed, sliced, expanded) are written as dense row-major copies
    # (not np.ascontiguousarray: it turns 0-d arrays into 1-d ones).
    return np.array(arr, order="C", copy=True)


def _storage_key(t):
    """Identifies the memory block a tensor views (its storage's first byte)."""
    return t.data_ptr() - t.storage_offset() * t.element_size()


def _check_shared(tensors):
    seen = {}
    for name, t in tensors.items():
        if t.numel() == 0:
            continue
        key = (str(t.device), _storage_key(t))
        if key in seen:
            raise ValueError(
                f"fastgrad.save: tensors '{seen[key]}' and '{name}' share memory; the "
                "safetensors format stores each tensor separately, so loading would "
                "silently untie them. Save a copy (t.clone()) or drop the duplicate key."
            )
        seen[key] = name


def _flatten(obj):
    """obj -> (OrderedDict name -> Tensor, metadata)."""
    if isinstance(obj, Tensor):
        return OrderedDict([(_SINGLE_KEY, obj)]), {_TYPE_KEY: "Tensor"}
    if not isinstance(obj, dict):
        raise TypeError(
            "fastgrad.save: expected a Tensor or a dict of str -> Tensor (e.g. a "
            f"state_dict), got {type(obj).__name__}"
        )
    for k, v in obj.items():
        if not isinstance(k, str):
            raise TypeError(
                f"fastgrad.save: dict keys must be str, got key {k!r} of type {type(k).__name__}"
            )
        if not isinstance(v, Tensor):
            raise TypeError(
                f"fastgrad.save: value for key '{k}' is a {type(v).__name__}; the safetensors "
                "format holds only a flat dict of str -> Tensor (no nested dicts, lists or "
                "Python objects)"
            )
        if k == "__metadata__":
            raise ValueError("fastgrad.save: '__metadata__' is reserved by the safetensors format")
    tensors = OrderedDict(obj)
    _check_shared(tensors)
    return tensors, {_TYPE_KEY: "dict", _KEYS_KEY: json.dumps(list(tensors))}


def save(obj, f):
    """Saves a Tensor or a dict of str -> Tensor to `f` (a path or a binary file) as safetensors."""
    from safetensors.numpy import save as _st_save

    tensors, metadata = _flatten(obj)
    metadata["format"] = "pt"  # what Hugging Face loaders look for
    data = _st_save({k: _to_numpy(k, t) for k, t in tensors.items()}, metadata=metadata)
    bf16 = [k for k, t in tensors.items() if t.dtype == _C.dtype.bfloat16]
    if bf16:
        data = _retag(data, bf16, "BF16")
    if isinstance(f, (str, os.PathLike)):
        with open(f, "wb") as fh:
            fh.write(data)
    elif hasattr(f, "write"):
        f.write(data)
    else:
        raise TypeError(
            f"fastgrad.save: f must be a path (str or os.PathLike) or a binary file object, "
            f"got {type(f).__name__}"
        )


def _retag(data, keys, code):
    """Rewrites the safetensors header of `data` so `keys` have dtype `code` (bfloat16
    is written by safetensors.numpy as its uint16 bits, U16)."""
    n = int.from_bytes(data[:8], "little")
    header = json.loads(data[8:8 + n])
    for k in keys:
        header[k]["dtype"] = code
    text = json.dumps(header, separators=(",", ":")).encode()
    text += b" " * (-len(text) % 8)  # the data section stays 8-byte aligned
    return len(text).to_bytes(8, "little") + text + data[8 + n:]


# ---- load -------------------------------------------------------------------------


class _Invalid(Exception):
    """A malformed file; `load` turns it into a RuntimeError naming the file."""


def _read_all(f):
    if isinstance(f, (str, os.PathLike)):
        with open(f, "rb") as fh:
            return fh.read(), os.fspath(f)
    if hasattr(f, "read"):
        data = f.read()
        name = getattr(f, "name", None)
        name = repr(name) if isinstance(name, str) else f"<{type(f).__name__}>"
        if not isinstance(data, (bytes, bytearray, memoryview)):
            raise TypeError(
                f"fastgrad.load: expected a binary file object (open(..., 'rb')), but "
                f"{name}.read() returned {type(data).__name__}"
            )
        return bytes(data), name
    raise TypeError(
        f"fastgrad.load: f must be a path (str or os.PathLike) or a binary file object, "
        f"got {type(f).__name__}"
    )


def _is_int(x):
    return isinstance(x, int) and not isinstance(x, bool)


def _parse(data):
    """bytes -> (list of (name, numpy array), metadata dict); raises _Invalid."""
    if len(data) < 8:
        raise _Invalid(f"file is {len(data)} bytes, shorter than the 8-byte header length")
    n = int.from_bytes(data[:8], "little")
    if n > len(data) - 8:
        raise _Invalid(f"header length {n} exceeds the {len(data) - 8} bytes after it")
    if n > _MAX_HEADER:
        raise _Invalid(f"header length {n} is larger than the {_MAX_HEADER}-byte limit")
    try:
        header = json.loads(data[8 : 8 + n].decode("utf-8"))
    except (UnicodeDecodeError, ValueError, RecursionError) as e:
        raise _Invalid(f"header is not valid JSON ({type(e).__name__}: {e})") from None
    if not isinstance(header, dict):
        raise _Invalid(f"header is a JSON {type(header).__name__}, expected an object")
    metadata = header.pop("__metadata__", None) or {}
    if not isinstance(metadata, dict) or not all(
        isinstance(k, str) and isinstance(v, str) for k, v in metadata.items()
    ):
        raise _Invalid("'__metadata__' must map strings to strings")
    body = memoryview(data)[8 + n :]
    out = []
    for name, info in header.items():
        out.append((name, _parse_entry(name, info, body), info["dtype"]))
    return out, metadata


def _parse_entry(name, info, body):
    if not isinstance(info, dict):
        raise _Invalid(f"entry '{name}' is not a JSON object")
    dtype, shape, offsets = info.get("dtype"), info.get("shape"), info.get("data_offsets")
    if not isinstance(dtype, str):
        raise _Invalid(f"entry '{name}' has no string 'dtype'")
    if dtype not in _ST_TO_NP:
        if dtype in _ST_OTHER:
            raise TypeError(
                f"tensor '{name}' has dtype {dtype} ({_ST_OTHER[dtype]}), which fastgrad does "
                "not support; supported: bool, int32, int64, float16, bfloat16, float32, float64 (convert it "
                "before saving, e.g. t.float())"
            )
        raise _Invalid(f"entry '{name}' has unknown dtype {dtype!r}")
    if not isinstance(shape, list) or not all(_is_int(d) and d >= 0 for d in shape):
        raise _Invalid(f"entry '{name}' has invalid shape {shape!r}")
    if (
        not isinstance(offsets, list)
        or len(offsets) != 2
        or not all(_is_int(o) for o in offsets)
        or not 0 <= offsets[0] <= offsets[1]
    ):
        raise _Invalid(f"entry '{name}' has invalid data_offsets {offsets!r}")
    begin, end = offsets
    if end > len(body):
        raise _Invalid(
            f"entry '{name}' data_offsets [{begin}, {end}] go beyond the {len(body)} data "
            "bytes (truncated file?)"
        )
    npdt = _ST_TO_NP[dtype]
    numel = 1
    for d in shape:
        numel *= d
    if numel * npdt.itemsize != end - begin:
        raise _Invalid(
            f"entry '{name}' of dtype {dtype} and shape {shape} needs "
            f"{numel * npdt.itemsize} bytes, but data_offsets span {end - begin}"
        )
    arr = np.frombuffer(body[begin:end], dtype=npdt, count=numel).reshape(shape)
    if dtype == "BOOL" and numel and arr.view(np.uint8).max() > 1:
        raise _Invalid(f"entry '{name}' has bool bytes other than 0 and 1")
    # Own, aligned, native-endian memory the tensor can keep.
    return np.array(arr, dtype=npdt.newbyteorder("="), order="C", copy=True)


def _target_device(map_location):
    if map_location is None:
        return None
    if isinstance(map_location, str):
        return _C.device(map_location)
    if isinstance(map_location, _C.device):
        return map_location
    raise TypeError(
        "fastgrad.load: map_location must be None, a device string like 'cpu' or a "
        f"fastgrad.device, got {type(map_location).__name__}"
    )


def load(f, map_location=None):
    """Loads what `save` wrote (or any safetensors file of supported dtypes).

    Returns a Tensor if a single Tensor was saved, else an OrderedDict of str -> Tensor.
    """
    device = _target_device(map_location)
    data, name = _read_all(f)
    try:
        entries, metadata = _parse(data)
    except _Invalid as e:
        raise RuntimeError(f"fastgrad.load: {name} is not a valid safetensors file: {e}") from None
    except TypeError as e:
        raise TypeError(f"fastgrad.load: {name}: {e}") from None
    tensors = OrderedDict()
    for key, arr, code in entries:
        if code == "BF16":  # bits -> the float32 they widen to -> bfloat16, exact
            t = _C.from_numpy((arr.astype(np.uint32) << 16).view(np.float32))._to_dtype(
                _C.dtype.bfloat16)
        else:
            t = _C.from_numpy(arr)
        if not t.is_contiguous():  # numpy gives empty arrays zero strides
            t = t.contiguous()
        if device is not None and t.device != device:
            t = t.to(device)
        tensors[key] = t
    kind = metadata.get(_TYPE_KEY)
    if kind == "Tensor" and list(tensors) == [_SINGLE_KEY]:
        return tensors[_SINGLE_KEY]
    order = metadata.get(_KEYS_KEY)
    if order is not None:
        try:
            keys = json.loads(order)
        except ValueError:
            keys = None
        if (
            isinstance(keys, list)
            and all(isinstance(k, str) for k in keys)
            and len(keys) == len(tensors)
            and set(keys) == set(tensors)
        ):
            tensors = OrderedDict((k, tensors[k]) for k in keys)
    return tensors

