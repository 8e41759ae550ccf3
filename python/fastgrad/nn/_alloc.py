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
