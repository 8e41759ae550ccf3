"""default_collate / default_convert: samples -> batch, with torch's rules.

A batch is a list of samples. Tensors are stacked along a new first dimension;
Python numbers become tensors (float -> float64, int -> int64, bool -> bool, as in
torch); numpy arrays and numpy scalars become tensors; strings and bytes stay a
list; mappings, namedtuples and sequences are collated element by element (a
batch of tuples becomes a list of batched fields).
"""

import collections.abc
import copy

import numpy as np

from ... import _C
from ..._C import Tensor

__all__ = ["collate", "default_collate", "default_convert"]

_ERR_FORMAT = (
    "default_collate: batch must contain tensors, numpy arrays, numbers, dicts or lists; found {}"
)
_STRING_KINDS = "SaUO"  # numpy dtype kinds with no tensor equivalent


def _as_tensor(x):
    from ..._tensor import as_tensor

    return as_tensor(x)


def _tensor(data, dtype=None):
    from ..._tensor import tensor

    return tensor(data, dtype=dtype)


def _is_namedtuple(x):
    return isinstance(x, tuple) and hasattr(x, "_fields")


def collate_tensor_fn(batch, *, collate_fn_map=None):
    first = tuple(batch[0].shape)
    for i, t in enumerate(batch):
        if not isinstance(t, Tensor):
            raise TypeError(
                f"default_collate: batch element {i} is a {type(t).__name__}, but element 0 "
                "is a Tensor"
            )
        if tuple(t.shape) != first:
            raise RuntimeError(
                "default_collate: stack expects each tensor to be equal size, but got "
                f"{first} at batch element 0 and {tuple(t.shape)} at batch element {i}"
            )
    return _C.stack(list(batch), 0)


def collate_numpy_array_fn(batch, *, collate_fn_map=None):
    elem = batch[0]
    if elem.dtype.kind in _STRING_KINDS:
        raise TypeError(_ERR_FORMAT.format(elem.dtype))
    return collate([_as_tensor(b) for b in batch], collate_fn_map=collate_fn_map)


def collate_numpy_scalar_fn(batch, *, collate_fn_map=None):
    return _as_tensor(np.array(batch))


def collate_float_fn(batch, *, collate_fn_map=None):
    return _tensor(batch, dtype=_C.dtype.float64)


def collate_int_fn(batch, *, collate_fn_map=None):
    # bool is an int too: tensor() makes a bool tensor of a list of bools.
    return _tensor(batch)


def collate_str_fn(batch, *, collate_fn_map=None):
    return batch


default_collate_fn_map = {
    Tensor: collate_tensor_fn,
    np.ndarray: collate_numpy_array_fn,
    np.bool_: collate_numpy_scalar_fn,
    np.number: collate_numpy_scalar_fn,
    float: collate_float_fn,
    int: collate_int_fn,
    str: collate_str_fn,
    bytes: collate_str_fn,
}


def collate(batch, *, collate_fn_map=None):
    """Collates `batch` with per-type functions from `collate_fn_map` (type -> fn)."""
    elem = batch[0]
    elem_type = type(elem)
    if collate_fn_map is not None:
        if elem_type in collate_fn_map:
            return collate_fn_map[elem_type](batch, collate_fn_map=collate_fn_map)
        for collate_type in collate_fn_map:
            if isinstance(elem, collate_type):
                return collate_fn_map[collate_type](batch, collate_fn_map=collate_fn_map)
    if isinstance(elem, collections.abc.Mapping):
        for i, d in enumerate(batch):
            if not isinstance(d, collections.abc.Mapping):
                raise TypeError(
                    f"default_collate: batch element {i} is a {type(d).__name__}, but element "
                    "0 is a mapping"
                )
        try:
            values = {key: collate([d[key] for d in batch], collate_fn_map=collate_fn_map)
                      for key in elem}
        except KeyError as e:
            raise KeyError(
                f"default_collate: key {e.args[0]!r} of batch element 0 is missing in another "
                "batch element"
            ) from None
        if isinstance(elem, collections.abc.MutableMapping):
            # Keep the mapping's type and any attributes (e.g. a defaultdict's factory).
            clone = copy.copy(elem)
            clone.update(values)
            return clone
        try:
            return elem_type(values)
        except TypeError:
            return values
    if _is_namedtuple(elem):
        return elem_type(*(collate(s, collate_fn_map=collate_fn_map) for s in zip(*batch)))
    if isinstance(elem, collections.abc.Sequence):
        size = len(elem)
        for i, b in enumerate(batch):
            if not isinstance(b, collections.abc.Sized) or len(b) != size:
                raise RuntimeError(
                    "each element in list of batch should be of equal size (batch element 0 "
                    f"has {size} items, batch element {i} has "
                    f"{len(b) if isinstance(b, collections.abc.Sized) else 'no length'})"
                )
        transposed = list(zip(*batch))  # tuples, as torch passes them (strings stay tuples)
        if isinstance(elem, tuple):
            return [collate(s, collate_fn_map=collate_fn_map) for s in transposed]
        collated = [collate(s, collate_fn_map=collate_fn_map) for s in transposed]
        try:
            if isinstance(elem, collections.abc.MutableSequence):
                clone = copy.copy(elem)
                for i, s in enumerate(collated):
                    clone[i] = s
                return clone
            return elem_type(collated)
        except TypeError:
            return collated
    raise TypeError(_ERR_FORMAT.format(elem_type))


def default_collate(batch):
    """Stacks a list of samples into a batch (see the module docstring for the rules)."""
    if not isinstance(batch, collections.abc.Sequence) or len(batch) == 0:
        raise TypeError(
            "default_collate: expected a non-empty list of samples, got "
            f"{type(batch).__name__}{' of length 0' if hasattr(batch, '__len__') else ''}"
        )
    return collate(batch, collate_fn_map=default_collate_fn_map)


def default_convert(data):
    """Converts numpy arrays (also nested in dicts, tuples, lists) to tensors; no batching."""
    elem_type = type(data)
    if isinstance(data, Tensor):
        return data
    if isinstance(data, np.ndarray):
        if data.dtype.kind in _STRING_KINDS:
            return data
        return _as_tensor(data)
    if isinstance(data, (np.bool_, np.number)):
        return _as_tensor(data)
    if isinstance(data, collections.abc.Mapping):
        values = {key: default_convert(data[key]) for key in data}
        if isinstance(data, collections.abc.MutableMapping):
            clone = copy.copy(data)
            clone.update(values)
            return clone
        try:
            return elem_type(values)
        except TypeError:
            return values
    if _is_namedtuple(data):
        return elem_type(*(default_convert(d) for d in data))
    if isinstance(data, tuple):
        return [default_convert(d) for d in data]
    if isinstance(data, collections.abc.Sequence) and not isinstance(data, (str, bytes)):
        converted = [default_convert(d) for d in data]
        try:
            if isinstance(data, collections.abc.MutableSequence):
                clone = copy.copy(data)
                for i, d in enumerate(converted):
                    clone[i] = d
                return clone
            return elem_type(converted)
        except TypeError:
            return converted
    return data
