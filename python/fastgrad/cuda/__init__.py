"""fastgrad.cuda: which backend this build has."""

from .. import _C


def is_built():
    """True when fastgrad was compiled with FASTGRAD_CUDA=ON."""
    return bool(_C._cuda.built)


def is_available():
    """True when this is a CUDA build and a GPU is visible."""
    return _C._cuda.is_available()


def device_count():
    return _C._cuda.device_count()


from ._transfers import Transfer, TransferLog, strict_transfers, transfers  # noqa: E402,F401
