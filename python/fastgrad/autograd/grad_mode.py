"""Grad-mode switches (thread-local, as in PyTorch): context managers and decorators."""

import functools

from .. import _C


class _GradModeContext:
    """Base: sets grad mode on entry, restores it on exit; usable as a decorator."""

    _mode = True
    # The thread-local switch this context flips (grad mode; anomaly mode
    # overrides both in anomaly_mode.py).
    _get = staticmethod(_C.is_grad_enabled)
    _set = staticmethod(_C._set_grad_enabled)

    def __enter__(self):
        self._prev = self._get()
        self._set(self._mode)
        return self

    def __exit__(self, *exc):
        self._set(self._prev)
        return False

    def __call__(self, fn):
        @functools.wraps(fn)
        def wrapper(*args, **kwargs):
            with self.__class__():
                return fn(*args, **kwargs)

        return wrapper


class no_grad(_GradModeContext):
    """Nothing is recorded for backward inside this block."""

    _mode = False


class enable_grad(_GradModeContext):
    """Recording back on inside a no_grad block."""

    _mode = True


class inference_mode(_GradModeContext):
    """Like no_grad (fastgrad has no separate inference tensors yet)."""

    def __init__(self, mode=True):
        self._mode = not mode

    def __call__(self, fn):
        mode = self._mode

        @functools.wraps(fn)
        def wrapper(*args, **kwargs):
            ctx = inference_mode()
            ctx._mode = mode
            with ctx:
                return fn(*args, **kwargs)

        return wrapper


class set_grad_enabled(_GradModeContext):
    """set_grad_enabled(False) as a call, a context manager or a decorator."""

    def __init__(self, mode):
        self._mode = bool(mode)
        self._prev = _C.is_grad_enabled()
        _C._set_grad_enabled(self._mode)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        _C._set_grad_enabled(self._prev)
        return False

    def __call__(self, fn):
        _C._set_grad_enabled(self._prev)  # the decorator form does not switch now
        mode = self._mode

        @functools.wraps(fn)
        def wrapper(*args, **kwargs):
            with set_grad_enabled(mode):
                return fn(*args, **kwargs)

        return wrapper
