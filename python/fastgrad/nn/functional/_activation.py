"""Activation functions (F.relu, F.gelu, F.softmax, ...).

Elementwise math is C++ (the unary table in csrc/ops/elementwise_ops.h);
the forms with parameters are short compositions of C++ ops.
"""

import warnings

from ... import _C

__all__ = [
    "relu", "relu_", "leaky_relu", "leaky_relu_", "gelu", "silu", "sigmoid", "tanh",
    "softmax", "log_softmax", "softmin", "elu", "softplus", "hardtanh", "relu6", "mish",
    "logsigmoid", "softsign", "tanhshrink", "threshold", "glu",
]  # fmt: skip


def _inplace(input, fn):
    """The in-place form of an activation: input = fn(input). fn runs on a
    copy, so its saved tensors are not the ones being overwritten."""
    return input.copy_(fn(input.clone()))


def relu(input, inplace=False):
    return input.relu_() if inplace else _C.relu(input)


def relu_(input):
    return input.relu_()


def leaky_relu(input, negative_slope=0.01, inplace=False):
    def f(x):
        return _C.where(x > 0, x, x * negative_slope)

    return _inplace(input, f) if inplace else f(input)


def leaky_relu_(input, negative_slope=0.01):
    return leaky_relu(input, negative_slope, inplace=True)


def gelu(input, approximate="none"):
    return _C.gelu(input, approximate)


def silu(input, inplace=False):
    return input.silu_() if inplace else _C.silu(input)


def sigmoid(input):
    return _C.sigmoid(input)


def tanh(input):
    return _C.tanh(input)


def _softmax_dim(name, ndim, dim):
    if dim is not None:
        return dim
    warnings.warn(
        f"Implicit dimension choice for {name} has been deprecated. "
        "Change the call to include dim=X as an argument.",
        stacklevel=3,
    )
    return 0 if ndim in (0, 1, 3) else 1


def softmax(input, dim=None, _stacklevel=3, dtype=None):
    return _C.softmax(input, _softmax_dim("softmax", input.dim(), dim), dtype)


def log_softmax(input, dim=None, _stacklevel=3, dtype=None):
    return _C.log_softmax(input, _softmax_dim("log_softmax", input.dim(), dim), dtype)


def softmin(input, dim=None, _stacklevel=3, dtype=None):
    return _C.softmax(-input, _softmax_dim("softmin", input.dim(), dim), dtype)


def elu(input, alpha=1.0, inplace=False):
    def f(x):
        return _C.where(x > 0, x, _C.expm1(x) * alpha)

    return _inplace(input, f) if inplace else f(input)


def softplus(input, beta=1.0, threshold=20.0):
    scaled = input * beta
    soft = _C.log1p(_C.exp(_C.clamp(scaled, None, threshold))) / beta
    return _C.where(scaled > threshold, input, soft)


def hardtanh(input, min_val=-1.0, max_val=1.0, inplace=False):
    return input.clamp_(min_val, max_val) if inplace else _C.clamp(input, min_val, max_val)


def relu6(input, inplace=False):
    return hardtanh(input, 0.0, 6.0, inplace)


def mish(input, inplace=False):
    def f(x):
        return x * _C.tanh(softplus(x))

    return _inplace(input, f) if inplace else f(input)


def logsigmoid(input):
    # log(sigmoid(x)) = min(x, 0) - log1p(exp(-|x|)), stable for both signs
    return _C.clamp(input, None, 0.0) - _C.log1p(_C.exp(-_C.abs(input)))


def softsign(input):
    return input / (1 + _C.abs(input))


def tanhshrink(input):
    return input - _C.tanh(input)


def threshold(input, threshold, value, inplace=False):
    def f(x):
        return _C.where(x > threshold, x, value)

    return _inplace(input, f) if inplace else f(input)


def glu(input, dim=-1):
    if input.dim() == 0 or input.shape[dim] % 2:
        raise RuntimeError(
            f"glu: halving dimension must be even, but dimension {dim} of input "
            f"{list(input.shape)} is not"
        )
    a, b = _C.chunk(input, 2, dim)
    return a * _C.sigmoid(b)
