"""fastgrad.cuda: the CUDA backend's devices and memory, with torch.cuda's names.

A CPU build (the default) answers ``is_available() == False`` and
``device_count() == 0``; the other calls raise a RuntimeError saying how to
build with CUDA (``pip install . -Ccmake.define.FASTGRAD_CUDA=ON``).
"""

from .. import _C

__all__ = [
    "Event",
    "Stream",
    "StreamContext",
    "current_stream",
    "default_stream",
    "set_stream",
    "stream",
    "current_device",
    "device_count",
    "empty_cache",
    "is_available",
    "is_built",
    "max_memory_allocated",
    "max_memory_reserved",
    "memory_allocated",
    "memory_reserved",
    "memory_stats",
    "reset_peak_memory_stats",
    "set_device",
    "synchronize",
]


def is_built():
    """True when fastgrad was compiled with FASTGRAD_CUDA=ON."""
    return bool(_C._cuda.built)


def is_available():
    """True when this is a CUDA build and a GPU is visible."""
    return _C._cuda.is_available()


def device_count():
    """Number of visible GPUs (0 in a CPU build or without a driver)."""
    return _C._cuda.device_count()


def _index(device):
    """A device argument (None, int, 'cuda:1', fastgrad.device) as an index (-1: current)."""
    if device is None:
        return -1
    if isinstance(device, bool):
        raise TypeError(f"fastgrad.cuda: expected a device, got {device!r}")
    if isinstance(device, int):
        return device
    if isinstance(device, str):
        device = _C.device(device)
    if isinstance(device, _C.device):
        if device.type != "cuda":
            raise ValueError(f"fastgrad.cuda: expected a cuda device, got {device}")
        return -1 if device.index is None else device.index
    raise TypeError(f"fastgrad.cuda: expected a device, got {type(device).__name__}")


def current_device():
    """Index of the device new cuda tensors go to."""
    return _C._cuda.current_device()


def set_device(device):
    """Make `device` the current one."""
    idx = _index(device)
    if idx >= 0:
        _C._cuda.set_device(idx)


def synchronize(device=None):
    """Wait until every kernel and copy queued on `device` has finished."""
    _C._cuda.synchronize(_index(device))


def memory_stats(device=None):
    """The caching allocator's counters: allocated/reserved bytes and peaks,
    driver allocations and out-of-memory retries."""
    return _C._cuda.memory_stats(_index(device))


def memory_allocated(device=None):
    """Bytes held by live tensors on `device` (rounded up to block sizes)."""
    return memory_stats(device)["allocated_bytes"]


def max_memory_allocated(device=None):
    """Peak of memory_allocated since the start or reset_peak_memory_stats()."""
    return memory_stats(device)["max_allocated_bytes"]


def memory_reserved(device=None):
    """Bytes the caching allocator holds from the driver (in use or cached)."""
    return memory_stats(device)["reserved_bytes"]


def max_memory_reserved(device=None):
    """Peak of memory_reserved since the start or reset_peak_memory_stats()."""
    return memory_stats(device)["max_reserved_bytes"]


def reset_peak_memory_stats(device=None):
    """Restart the max_memory_* peaks from the current values."""
    _C._cuda.reset_peak_memory_stats(_index(device))


def empty_cache():
    """Give cached, unused blocks back to the driver (other processes can use them)."""
    _C._cuda.empty_cache()


from ._streams import (  # noqa: E402,F401
    Event, Stream, StreamContext, current_stream, default_stream, set_stream, stream,
)
from ._transfers import Transfer, TransferLog, strict_transfers, transfers  # noqa: E402,F401
