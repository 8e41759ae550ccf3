"""DLPack exchange (torch.utils.dlpack): zero-copy tensors to and from numpy,
torch, CuPy, JAX and any other library that speaks the protocol.

``fastgrad.from_dlpack(x)`` accepts an object with ``__dlpack__`` (the Python
array API protocol) or a raw capsule; ``Tensor.__dlpack__`` and
``Tensor.__dlpack_device__`` (C++, ``csrc/bindings/dlpack.cpp``) are the
producer side. Memory is shared both ways and kept alive until the last user
of either side lets go.
"""

from .. import _C

__all__ = ["from_dlpack", "to_dlpack"]

_KDL_CUDA = 2
# fastgrad runs its CUDA work on the legacy default stream; a producer asked
# for stream 1 orders its pending work before ours.
_LEGACY_DEFAULT_STREAM = 1


def from_dlpack(ext_tensor):
    """A fastgrad tensor sharing memory with ``ext_tensor``.

    ``ext_tensor`` is an object with ``__dlpack__``/``__dlpack_device__``
    (numpy array, torch tensor, ...) or a DLPack capsule, which is consumed
    (a capsule can be used once).
    """
    if not hasattr(ext_tensor, "__dlpack__"):
        return _C._from_dlpack(ext_tensor)
    kwargs = {"max_version": (1, 0)}
    device_type, _ = ext_tensor.__dlpack_device__()
    if device_type == _KDL_CUDA:
        kwargs["stream"] = _LEGACY_DEFAULT_STREAM
    try:
        capsule = ext_tensor.__dlpack__(**kwargs)
    except TypeError:
        # Producers older than DLPack 1.0 know no max_version (legacy capsule).
        del kwargs["max_version"]
        capsule = ext_tensor.__dlpack__(**kwargs)
    return _C._from_dlpack(capsule)


def to_dlpack(tensor):
    """A legacy (``"dltensor"``) DLPack capsule sharing ``tensor``'s memory."""
    if not isinstance(tensor, _C.Tensor):
        raise TypeError(f"to_dlpack: expected a Tensor, got {type(tensor).__name__}")
    return tensor.__dlpack__()
