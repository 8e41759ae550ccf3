"""nn.Parameter: a Tensor that a Module registers as one of its parameters."""

from .._C import Tensor


class Parameter(Tensor):
    """A leaf tensor that requires grad (by default) and that assigning to a
    Module attribute registers in the module's parameters.

    `Parameter(t)` shares t's storage but not its history, like PyTorch's.
    """

    def __init__(self, data=None, requires_grad=True):
        if data is None:
            from .. import empty

            data = empty(0)
        if not isinstance(data, Tensor):
            raise TypeError(f"Parameter: expected a Tensor, got {type(data).__name__}")
        super().__init__(data.detach())
        if requires_grad:
            self.requires_grad_(True)

    def __repr__(self):
        return "Parameter containing:\n" + super().__repr__()

    __str__ = __repr__

    def __deepcopy__(self, memo):
        if id(self) in memo:
            return memo[id(self)]
        result = type(self)(self.detach().clone(), self.requires_grad)
        memo[id(self)] = result
        return result

    def __reduce_ex__(self, protocol):
        return (_rebuild_parameter, (self.detach().numpy().copy(), self.requires_grad))


def _rebuild_parameter(array, requires_grad):
    from .. import from_numpy

    return Parameter(from_numpy(array), requires_grad)
