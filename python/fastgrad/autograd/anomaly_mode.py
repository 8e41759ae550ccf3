"""detect_anomaly: name the backward node that produced NaN/Inf and show where its
forward op was called (the full Python stack, captured while the mode is on)."""

from .. import _C
from .grad_mode import _GradModeContext


class detect_anomaly(_GradModeContext):
    def __init__(self, check_nan=True):
        self._on = bool(check_nan)

    def __enter__(self):
        self._prev = _C.is_anomaly_enabled()
        _C._set_anomaly_enabled(self._on)
        return self

    def __exit__(self, *exc):
        _C._set_anomaly_enabled(self._prev)
        return False


class set_detect_anomaly(detect_anomaly):
    def __init__(self, mode, check_nan=True):
        self._on = bool(mode) and check_nan
