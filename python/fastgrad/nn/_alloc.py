"""Parameter/buffer allocation shared by the layers' constructors."""

from .. import _factories
from .parameter import Parameter


def empty_param(shape, device=None, dtype=None, requires_grad=True):
    """An uninitialised Parameter (the layer's reset_parameters fills it)."""
    return Parameter(_factories.empty(*shape, device=device, dtype=dtype), requires_grad)


def zeros_buffer(shape, device=None, dtype=None):
    return _factories.zeros(*shape, device=device, dtype=dtype)


def ones_buffer(shape, device=None, dtype=None):
    return _factories.ones(*shape, device=device, dtype=dtype)


def register_affine(module, shape, affine, bias, device=None, dtype=None):
    """A normalisation layer's learnable scale and shift: `weight` and `bias`
    Parameters (bias only when `bias`), or None entries when not `affine`."""
    module.register_parameter("weight", empty_param(shape, device, dtype) if affine else None)
    module.register_parameter(
        "bias", empty_param(shape, device, dtype) if affine and bias else None
    )


def reset_affine(module):
    """torch's init for a normalisation layer: weight 1, bias 0."""
    from . import init

    if module.weight is not None:
        init.ones_(module.weight)
    if module.bias is not None:
        init.zeros_(module.bias)


def register_weight_bias(module, weight_shape, bias, device=None, dtype=None):
    """Linear/conv parameters: `weight` of weight_shape, `bias` of
    (weight_shape[0],) or None."""
    module.weight = empty_param(weight_shape, device, dtype)
    module.register_parameter(
        "bias", empty_param((weight_shape[0],), device, dtype) if bias else None
    )


def reset_fan_in_uniform(module):
    """torch's Linear/conv init: kaiming_uniform_(a=sqrt(5)) on the weight, the
    bias uniform in +-1/sqrt(fan_in)."""
    import math

    from . import init

    init.kaiming_uniform_(module.weight, a=math.sqrt(5))
    if module.bias is not None:
        fan_in, _ = init._calculate_fan_in_and_fan_out(module.weight)
        bound = 1 / math.sqrt(fan_in) if fan_in > 0 else 0
        init.uniform_(module.bias, -bound, bound)
