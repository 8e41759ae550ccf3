"""Functional dropout family: fused C++ kernels (csrc/ops/dropout.cpp) that
draw their masks from fastgrad's Philox generator (fastgrad.manual_seed)."""

import warnings

from ... import _C

__all__ = ["alpha_dropout", "dropout", "dropout1d", "dropout2d", "dropout3d"]


def _check_p(p):
    if p < 0.0 or p > 1.0:
        raise ValueError(f"dropout probability has to be between 0 and 1, but got {p}")


def dropout(input, p=0.5, training=True, inplace=False):
    _check_p(p)
    if not training or p == 0:
        return input  # PyTorch returns the input itself
    if inplace:
        return _C._dropout_(input, p, training)
    return _C._dropout(input, p, training)


def _feature_dropout(input, p, training, inplace, batched):
    if not training or p == 0:
        return input
    out = _C._feature_dropout(input, p, training, batched)
    if not inplace:
        return out
    return input.copy_(out)


def _channel_dropout(name, ndim, input, p, training, inplace):
    _check_p(p)
    if input.dim() not in (ndim + 1, ndim + 2):
        raise RuntimeError(
            f"{name}: Expected {ndim + 1}D or {ndim + 2}D input, but received a "
            f"{input.dim()}D input. Note that {name} exists to provide channel-wise dropout "
            f"on inputs with {ndim} spatial dimension{'s' if ndim > 1 else ''}, a channel "
            f"dimension, and an optional batch dimension (i.e. {ndim + 1}D or {ndim + 2}D "
            "inputs)."
        )
    return _feature_dropout(input, p, training, inplace, input.dim() == ndim + 2)


def dropout1d(input, p=0.5, training=True, inplace=False):
    return _channel_dropout("dropout1d", 1, input, p, training, inplace)


def dropout3d(input, p=0.5, training=True, inplace=False):
    _check_p(p)
    if input.dim() not in (4, 5):
        warnings.warn(
            f"dropout3d: Received a {input.dim()}-D input to dropout3d, which is deprecated "
            "and will result in an error in a future release. To retain the behavior "
            "and silence this warning, please use dropout instead. Note that dropout3d "
            "exists to provide channel-wise dropout on inputs with 3 spatial dimensions, "
            "a channel dimension, and an optional batch dimension (i.e. 4D or 5D inputs).",
            stacklevel=2,
        )
    batched = input.dim() == 5
    return _feature_dropout(input, p, training, inplace, batched)


def dropout2d(input, p=0.5, training=True, inplace=False):
    _check_p(p)
    if input.dim() not in (3, 4):
        warnings.warn(
            f"dropout2d: Received a {input.dim()}-D input to dropout2d, which is deprecated "
            "and will result in an error in a future release. To retain the behavior "
            "and silence this warning, please use dropout instead. Note that dropout2d "
            "exists to provide channel-wise dropout on inputs with 2 spatial dimensions, "
            "a channel dimension, and an optional batch dimension (i.e. 3D or 4D inputs).",
            stacklevel=2,
        )
    if input.dim() == 3:
        # PyTorch keeps its historical reading of 3-D input as (N, C, L).
        warnings.warn(
            "dropout2d: Received a 3D input to dropout2d and assuming that channel-wise "
            "1D dropout behavior is desired - input is interpreted as shape (N, C, L), where C "
            "is the channel dim. This behavior will change in a future release to interpret the "
            "input as one without a batch dimension, i.e. shape (C, H, W). To maintain the 1D "
            "channel-wise dropout behavior, please switch to using dropout1d instead.",
            stacklevel=2,
        )
    return _feature_dropout(input, p, training, inplace, True)


def alpha_dropout(input, p=0.5, training=False, inplace=False):
    _check_p(p)
    if not training or p == 0:
        return input
    out = _C._alpha_dropout(input, p, training)
    return input.copy_(out) if inplace else out

