"""Functional batch_norm, layer_norm, group_norm: C++ kernels (csrc/ops/norm.cpp,
batch_norm.cpp) with C++ backward rules; the checks PyTorch does in Python
live here too."""

import numbers

from ... import _C

__all__ = ["batch_norm", "group_norm", "layer_norm"]


def _shape(t):
    return "[" + ", ".join(str(d) for d in t.shape) + "]"


def _verify_batch_size(op, input, size):
    n = 1
    for d in size:
        n *= d
    if n == 1:
        raise ValueError(
            f"{op}: expected more than 1 value per channel when training, "
            f"got input size {_shape(input)}"
        )


def layer_norm(input, normalized_shape, weight=None, bias=None, eps=1e-5):
    if isinstance(normalized_shape, numbers.Integral):
        normalized_shape = (normalized_shape,)
    return _C._layer_norm(input, list(normalized_shape), weight, bias, eps)


def group_norm(input, num_groups, weight=None, bias=None, eps=1e-5):
    if input.dim() < 2:
        raise RuntimeError(
            f"group_norm: expected at least 2 dimensions for input tensor but received "
            f"{input.dim()} (input of shape {_shape(input)})"
        )
    return _C._group_norm(input, num_groups, weight, bias, eps)


def batch_norm(input, running_mean, running_var, weight=None, bias=None, training=False,
               momentum=0.1, eps=1e-5):
    if input.dim() < 2:
        raise RuntimeError(
            f"batch_norm: expected input of shape (N, C, *) with at least 2 dims, "
            f"got {_shape(input)}"
        )
    if training:
        _verify_batch_size("batch_norm", input, [input.shape[0]] + list(input.shape[2:]))
    if not training and (running_mean is None or running_var is None):
        raise RuntimeError(
            "batch_norm: running_mean and running_var must be given when training=False"
        )
    return _C._batch_norm(input, running_mean, running_var, weight, bias, training,
                          0.0 if momentum is None else momentum, eps)
