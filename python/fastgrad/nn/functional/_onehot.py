"""Functional forms of neural-network ops (torch.nn.functional)."""

from ... import _C

__all__ = ["one_hot"]


def one_hot(tensor, num_classes=-1):
    """One-hot encodes an int64 tensor: shape (*, num_classes), int64 result.

    num_classes=-1 infers it as max(tensor) + 1.
    """
    return _C._one_hot(tensor, num_classes)
