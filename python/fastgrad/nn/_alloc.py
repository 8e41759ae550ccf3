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
